package translate

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/ebpftap/ebpftap/receiver/ebpftapreceiver/internal/redact"
)

// addrAuthority writes an address as a URL authority, leaving out the port
// the scheme implies.
func addrAuthority(ap netip.AddrPort, scheme string) string {
	if !ap.Addr().IsValid() {
		return ""
	}
	h := ap.Addr().String()
	if ap.Addr().Is6() {
		h = "[" + h + "]"
	}
	if p := int(ap.Port()); p != 0 && p != defaultPort(scheme) {
		h += ":" + strconv.Itoa(p)
	}
	return h
}

// target is a request-target split per RFC 9112 section 3.2.
type target struct {
	scheme    string // absolute-form only, lowercase
	authority string // absolute-form and authority-form
	path      string
	query     string
	hasQuery  bool
	asterisk  bool
}

func parseTarget(method, t string) target {
	var tg target
	switch {
	case t == "*":
		tg.asterisk = true
		tg.path = "*"
		return tg
	case method == "CONNECT" && !strings.HasPrefix(t, "/"):
		tg.authority = t
		return tg
	}
	// An origin-form target, the common one, is not searched for a scheme.
	if !strings.HasPrefix(t, "/") {
		if i := strings.Index(t, "://"); i > 0 && isScheme(t[:i]) {
			tg.scheme = strings.ToLower(t[:i])
			rest := t[i+3:]
			end := strings.IndexAny(rest, "/?#")
			if end < 0 {
				end = len(rest)
			}
			tg.authority, t = rest[:end], rest[end:]
		}
	}
	if i := strings.IndexByte(t, '#'); i >= 0 {
		t = t[:i] // fragments are not sent; a target with one is malformed
	}
	tg.path, tg.query, tg.hasQuery = strings.Cut(t, "?")
	if tg.path == "" && tg.authority != "" {
		tg.path = "/"
	}
	return tg
}

// isScheme checks RFC 3986 section 3.1: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
func isScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return s != ""
}

func stripUserinfo(authority string) string {
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		return authority[i+1:]
	}
	return authority
}

// splitHostPort splits an authority's host and port ("h", "h:p", "[v6]",
// "[v6]:p"). The port is 0 when absent or not a valid port number.
func splitHostPort(a string) (string, int) {
	if strings.HasPrefix(a, "[") {
		end := strings.IndexByte(a, ']')
		if end < 0 {
			return a, 0
		}
		h, rest := a[1:end], a[end+1:]
		if p, ok := strings.CutPrefix(rest, ":"); ok {
			return h, parsePort(p)
		}
		return h, 0
	}
	i := strings.LastIndexByte(a, ':')
	if i < 0 || strings.IndexByte(a[:i], ':') >= 0 {
		return a, 0 // no port, or a bare IPv6 address
	}
	return a[:i], parsePort(a[i+1:])
}

func parsePort(s string) int {
	p, err := strconv.Atoi(s)
	if err != nil || p < 1 || p > 65535 || s[0] == '+' {
		return 0
	}
	return p
}

// buildURL reconstructs the absolute URL of a request, redacted as url.full
// requires; tg.query must be redacted already.
func buildURL(scheme, authority string, tg target) string {
	authority = redact.Userinfo(authority)
	var sb strings.Builder
	// One allocation: growing the builder piece by piece took 4 per URL
	// (BenchmarkPipeline).
	sb.Grow(len(scheme) + len("://") + len(authority) + len("/") + len(tg.path) + len("?") + len(tg.query))
	sb.WriteString(scheme)
	sb.WriteString("://")
	sb.WriteString(authority)
	if tg.asterisk || (tg.authority != "" && tg.scheme == "") {
		// "OPTIONS *" asks about the server itself (RFC 9112 section 3.2.4),
		// and CONNECT names only an authority: the URL has no path.
		return sb.String()
	}
	if !strings.HasPrefix(tg.path, "/") {
		sb.WriteByte('/')
	}
	sb.WriteString(tg.path)
	if tg.hasQuery {
		sb.WriteByte('?')
		sb.WriteString(tg.query)
	}
	return sb.String()
}

// forwardedHostProto returns the original host and scheme a reverse proxy
// passed on, from Forwarded (RFC 7239) or else X-Forwarded-Host and
// X-Forwarded-Proto: semantic conventions prefer them for server spans.
func forwardedHostProto(f *requestFields) (host, proto string) {
	if fwd, ok := f.get(fieldForwarded); ok {
		host, proto = parseForwarded(fwd)
	}
	if host == "" {
		if h, ok := f.get(fieldXForwardedHost); ok {
			host, _, _ = strings.Cut(h, ",")
			host = strings.TrimSpace(host)
		}
	}
	if proto == "" {
		if p, ok := f.get(fieldXForwardedProto); ok {
			proto, _, _ = strings.Cut(p, ",")
			proto = strings.TrimSpace(proto)
		}
	}
	if !isScheme(proto) {
		proto = ""
	}
	return validUTF8(host), strings.ToLower(proto)
}

// parseForwarded reads the host and proto parameters of the first
// forwarded-element (the one the first proxy added), RFC 7239 section 4:
// elements split by ",", pairs by ";", values tokens or quoted-strings.
func parseForwarded(f string) (host, proto string) {
	for len(f) > 0 {
		var pair string
		pair, f = nextForwardedPair(f)
		k, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok {
			continue
		}
		val = unquote(strings.TrimSpace(val))
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "host":
			host = val
		case "proto":
			proto = val
		}
		if strings.HasPrefix(f, ",") {
			break
		}
		f = strings.TrimPrefix(f, ";")
	}
	return host, proto
}

// nextForwardedPair returns the text up to the next ";" or "," outside a
// quoted-string and the rest, starting at that separator.
func nextForwardedPair(s string) (string, string) {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case (c == ';' || c == ',') && !quoted:
			return s[:i], s[i:]
		}
	}
	return s, ""
}

func unquote(s string) string {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return s
	}
	s = s[1 : len(s)-1]
	if !strings.Contains(s, `\`) {
		return s
	}
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		sb.WriteByte(s[i])
	}
	return sb.String()
}
