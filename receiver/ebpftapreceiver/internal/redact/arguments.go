package redact

import (
	"slices"
	"strings"
)

// credentialFlags are options whose next argument is user:password (curl,
// wget and others): the password is redacted and the user kept.
var credentialFlags = []string{"-u", "--user", "--proxy-user", "--http-user", "--ftp-user"}

// Arguments returns a command line's arguments as they may leave the host.
// args[0], the executable, is always kept. An argument is redacted when:
//   - it is key=value or key: value with a sensitive word in the key
//     (--password=x, MYSQL_PWD=x, "Authorization: Bearer x"): the value goes;
//   - the argument before it has a sensitive word and no value of its own
//     (--password x, --api-key x): the whole argument goes;
//   - the argument before it is a credential option (curl -u user:password):
//     the password goes;
//   - it holds a URL: its userinfo goes as in url.full, and the values of
//     sensitive query keys or of keys with a sensitive word.
//
// Words match in any case, with - and _ alike. With DropArguments only the
// executable is kept. changed says whether the list differs from args; args
// is never changed: a changed list is a copy.
func (p *Policy) Arguments(args []string) (scrubbed []string, changed bool) {
	if p.dropArguments && len(args) > 1 {
		return args[:1:1], true
	}
	var out []string // a copy, made at the first change
	valueIsSecret := false
	for i := 1; i < len(args); i++ {
		a, prev := args[i], args[i-1]
		clean := a
		switch {
		case valueIsSecret:
			clean = Redacted
		case slices.Contains(credentialFlags, prev) && strings.Contains(a, ":"):
			user, _, _ := strings.Cut(a, ":")
			clean = user + ":" + Redacted
		default:
			clean = p.argument(a)
		}
		// An argument that names a secret and holds no value of its own
		// (--password) makes the next one the secret.
		valueIsSecret = !valueIsSecret && clean == a && !strings.ContainsAny(a, "=:") && p.sensitive(a)
		if clean != a {
			if out == nil {
				out = slices.Clone(args)
			}
			out[i] = clean
		}
	}
	if out == nil {
		return args, false
	}
	return out, true
}

// argument scrubs one argument on its own: key=value and key: value forms
// with a sensitive key, and URLs.
func (p *Policy) argument(a string) string {
	if sep := strings.IndexAny(a, "=:"); sep > 0 && !strings.HasPrefix(a[sep:], "://") && p.sensitive(a[:sep]) {
		value := a[sep+1:]
		space := len(value) - len(strings.TrimLeft(value, " "))
		if len(value) == space {
			return a // no value to hide
		}
		return a[:sep+1+space] + Redacted
	}
	scheme := strings.Index(a, "://")
	if scheme < 0 {
		return a
	}
	head, rest := a[:scheme+3], a[scheme+3:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := Userinfo(rest[:end]), rest[end:]
	if path, query, ok := strings.Cut(tail, "?"); ok {
		fragment := ""
		if i := strings.IndexByte(query, '#'); i >= 0 {
			query, fragment = query[:i], query[i:]
		}
		tail = path + "?" + p.query(query, p.sensitiveArgumentKey) + fragment
	}
	if authority == rest[:end] && tail == rest[end:] {
		return a
	}
	return head + authority + tail
}

// sensitiveArgumentKey is the rule for query keys in a command line's URLs:
// the query keys of url.full, and any key with a sensitive word.
func (p *Policy) sensitiveArgumentKey(k string) bool {
	return p.sensitiveQueryKey(k) || p.sensitive(k)
}

// sensitive reports whether s holds one of the sensitive words.
func (p *Policy) sensitive(s string) bool {
	s = argumentForm(s)
	for _, w := range p.words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// argumentForm is the form words are compared in: lower case, with - as _,
// so that --api-key, API_KEY and x-api-key meet api_key.
func argumentForm(s string) string {
	return strings.ReplaceAll(strings.ToLower(s), "-", "_")
}
