package httpparse

import "strings"

// Field syntax (RFC 9110 §5), shared by the HTTP/1.x parser and the h2c
// upgrade.

// ValidFieldName reports whether s is a valid HTTP field name: "field-name
// = token" (RFC 9110 §5.1), a token being one or more tchar (§5.6.2). The
// HTTP/1.x parser refuses a field line whose name is not one;
// configuration that names header fields checks them by the same rule.
func ValidFieldName(s string) bool { return isToken(s) }

// isToken reports whether s is a token = 1*tchar (RFC 9110 §5.6.2), the
// syntax of field names (§5.1) and of methods (§9.1).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tchar[s[i]] {
			return false
		}
	}
	return true
}

// tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" /
// "_" / "`" / "|" / "~" / DIGIT / ALPHA (RFC 9110 §5.6.2).
var tchar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// validValue rejects the bytes that RFC 9110 §5.5 singles out: "Field values
// containing CR, LF, or NUL characters are invalid and dangerous". Other
// control bytes and obs-text are kept as sent.
func validValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c == 0 || c == '\r' || c == '\n' {
			return false
		}
	}
	return true
}

// trimOWS removes the optional whitespace, SP and HTAB, around a field
// value or list element (RFC 9110 §5.6.3).
func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// lastElement returns the last non-empty element of a comma-separated list.
func lastElement(v string) string {
	for v != "" {
		i := strings.LastIndexByte(v, ',')
		if e := trimOWS(v[i+1:]); e != "" {
			return e
		}
		if i < 0 {
			break
		}
		v = v[:i]
	}
	return ""
}

// hasToken reports whether the comma-separated list v holds token
// (case-insensitive).
func hasToken(v, token string) bool {
	for v != "" {
		var e string
		e, v, _ = strings.Cut(v, ",")
		if e = trimOWS(e); len(e) == len(token) && equalFold(e, token) {
			return true
		}
	}
	return false
}
