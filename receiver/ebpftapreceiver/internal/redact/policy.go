package redact

import (
	"fmt"
	"regexp"
	"strings"
)

// Redacted replaces every secret.
const Redacted = "REDACTED"

// DefaultQueryKeys are the query keys whose values are always redacted: the
// semantic conventions' list (v1.40.0) and the other signed-URL keys of AWS
// S3 (SigV4). Matched case-sensitively, as the conventions do.
var DefaultQueryKeys = []string{
	"AWSAccessKeyId", "Signature", "sig", "X-Goog-Signature",
	"X-Amz-Signature", "X-Amz-Credential", "X-Amz-Security-Token",
}

// DefaultArgumentWords are the words that mark a command-line argument as a
// secret, or the argument after it. Header names to redact are added to
// them: a header passed on a command line (curl -H) is as secret there.
var DefaultArgumentWords = []string{
	"password", "passwd", "mysql_pwd", "access_token", "auth_token",
	"api_key", "apikey", "secret", "credentials", "token",
}

// Config is what a Policy is built from. Query keys and argument words are
// added to the defaults, never in place of them: a list written to add one
// key must not remove the others.
type Config struct {
	Headers       []string // header names, any case
	QueryKeys     []string // added to DefaultQueryKeys
	ArgumentWords []string // added to DefaultArgumentWords and Headers, any case
	DropArguments bool     // keep only the executable of a command line
	BodyPatterns  []string // Go RE2 expressions, applied to bodies
}

// Policy applies a Config. Its methods never change it.
type Policy struct {
	headers       map[string]struct{} // lowercase
	queryKeys     map[string]struct{}
	words         []string // normalized with argumentForm
	dropArguments bool
	bodyPatterns  []*regexp.Regexp
}

// New builds the Policy of c. It fails only on a body pattern that is not a
// valid expression, naming its index.
func New(c Config) (*Policy, error) {
	p := &Policy{
		headers:       make(map[string]struct{}, len(c.Headers)),
		queryKeys:     make(map[string]struct{}, len(DefaultQueryKeys)+len(c.QueryKeys)),
		dropArguments: c.DropArguments,
	}
	for _, h := range c.Headers {
		p.headers[strings.ToLower(h)] = struct{}{}
	}
	for _, k := range append(append([]string(nil), DefaultQueryKeys...), c.QueryKeys...) {
		p.queryKeys[k] = struct{}{}
	}
	for _, lists := range [][]string{DefaultArgumentWords, c.ArgumentWords, c.Headers} {
		for _, w := range lists {
			if w = argumentForm(w); w != "" {
				p.words = append(p.words, w)
			}
		}
	}
	for i, expr := range c.BodyPatterns {
		re, err := regexp.Compile(expr)
		if err != nil {
			return nil, fmt.Errorf("body pattern %d: %w", i, err)
		}
		p.bodyPatterns = append(p.bodyPatterns, re)
	}
	return p, nil
}

// Header reports whether the values of the header named lowerName (in lower
// case) are redacted.
func (p *Policy) Header(lowerName string) bool {
	_, ok := p.headers[lowerName]
	return ok
}
