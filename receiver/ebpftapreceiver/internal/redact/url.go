package redact

import "strings"

// Query returns q with the values of sensitive keys redacted. A query without
// one is returned as it is, without allocating: splitting every query cost an
// allocation per request (BenchmarkPipeline).
func (p *Policy) Query(q string) string {
	return p.query(q, p.sensitiveQueryKey)
}

func (p *Policy) sensitiveQueryKey(k string) bool {
	_, ok := p.queryKeys[k]
	return ok
}

// query redacts the values of the keys sensitive says are.
func (p *Policy) query(q string, sensitive func(string) bool) string {
	if !hasSensitiveValue(q, sensitive) {
		return q
	}
	parts := strings.Split(q, "&")
	for i, part := range parts {
		if k, _, hasValue := strings.Cut(part, "="); hasValue && sensitive(k) {
			parts[i] = k + "=" + Redacted
		}
	}
	return strings.Join(parts, "&")
}

func hasSensitiveValue(q string, sensitive func(string) bool) bool {
	for part := range strings.SplitSeq(q, "&") {
		if k, _, hasValue := strings.Cut(part, "="); hasValue && sensitive(k) {
			return true
		}
	}
	return false
}

// Userinfo follows url.full's rule for a URL authority: credentials become
// REDACTED:REDACTED (or REDACTED without a password), keeping the shape of
// what was there.
func Userinfo(authority string) string {
	i := strings.LastIndexByte(authority, '@')
	if i < 0 {
		return authority
	}
	if strings.Contains(authority[:i], ":") {
		return Redacted + ":" + Redacted + authority[i:]
	}
	return Redacted + authority[i:]
}
