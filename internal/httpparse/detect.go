package httpparse

// Protocol is what a Conn decided its connection speaks.
type Protocol uint8

const (
	ProtocolUnknown Protocol = iota // not enough bytes yet
	ProtocolHTTP1                   // HTTP/1.0 or HTTP/1.1
	ProtocolOther                   // anything else; its bytes are ignored
	ProtocolHTTP2                   // HTTP/2: prior knowledge or an h2c upgrade (h2.go)
)

func (p Protocol) String() string {
	switch p {
	case ProtocolHTTP1:
		return "http1"
	case ProtocolOther:
		return "other"
	case ProtocolHTTP2:
		return "http2"
	}
	return "unknown"
}

// methods are the request methods that identify a stream as HTTP/1.x: those of
// RFC 9110 §9, PATCH (RFC 5789), WebDAV (RFC 4918, 3253, 4791, 5323) and QUERY.
// Later requests on a connection already identified may use any token. "PRI" is
// left out on purpose: it opens the HTTP/2 connection preface (RFC 9113 §3.4).
var methods = [...]string{
	"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
	"PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK",
	"REPORT", "MKCALENDAR", "SEARCH", "QUERY",
}

const maxMethodLen = len("MKCALENDAR")

// knownMethod returns the interned name of a method in methods, so that the
// common methods cost no allocation.
func knownMethod[T string | []byte](b T) (string, bool) {
	for _, m := range methods {
		if m == string(b) {
			return m, true
		}
	}
	return "", false
}

// methodPrefix reports whether b begins some known method.
func methodPrefix(b []byte) bool {
	for _, m := range methods {
		if len(b) <= len(m) && m[:len(b)] == string(b) {
			return true
		}
	}
	return false
}

// LooksLikeRequest reports whether p starts like an HTTP/1.x request line: a
// known method token followed by a space.
func LooksLikeRequest(p []byte) bool {
	n := min(len(p), maxMethodLen+1)
	for i := 0; i < n; i++ {
		if p[i] == ' ' {
			_, ok := knownMethod(p[:i])
			return ok
		}
	}
	return false
}

type verdict uint8

const (
	verdictMore verdict = iota
	verdictHTTP
	verdictNotHTTP
)

// detector decides, as the first bytes of the client stream accumulate,
// whether they can be an HTTP/1.x request line. It gives up at the first byte
// that rules HTTP out (a byte that continues no known method, a control byte
// in the line) so that binary protocols cost only a few bytes of work.
type detector struct {
	pos int // next byte of the accumulated line to examine
	sp  int // index of the space after the method, or 0 while still in it
}

func (d *detector) step(b []byte) verdict {
	for ; d.pos < len(b); d.pos++ {
		ch := b[d.pos]
		if d.sp == 0 {
			if ch == ' ' {
				if _, ok := knownMethod(b[:d.pos]); !ok {
					return verdictNotHTTP
				}
				d.sp = d.pos
				continue
			}
			if !methodPrefix(b[:d.pos+1]) {
				return verdictNotHTTP
			}
			continue
		}
		switch {
		case ch == '\n':
			line := b[:d.pos]
			if n := len(line); n > 0 && line[n-1] == '\r' {
				line = line[:n-1]
			}
			// Converting allocates, but only once per connection.
			if _, _, _, err := parseRequestLine(string(line)); err != nil {
				return verdictNotHTTP
			}
			return verdictHTTP
		case ch == '\r' || ch == '\t':
			// Validated with the whole line.
		case ch < 0x20 || ch == 0x7f:
			return verdictNotHTTP
		}
	}
	return verdictMore
}
