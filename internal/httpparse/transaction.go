package httpparse

import "time"

// Stream names one of the two byte streams of a connection.
type Stream uint8

const (
	ToServer Stream = iota + 1 // carries requests
	ToClient                   // carries responses
)

// HeaderField is one header line, as it appeared on the wire.
type HeaderField struct {
	Name  string
	Value string
}

// Message is what requests and responses share.
type Message struct {
	Proto  string        // "1.0", "1.1", or "2" for HTTP/2
	Header []HeaderField // in wire order, within Config.MaxHeaderBytes; HTTP/2 pseudo-header fields are left out
	// Trailer holds the trailer fields an HTTP/2 message sent in a HEADERS
	// frame after its DATA (RFC 9113 §8.1), in wire order, within
	// Config.MaxHeaderBytes. HTTP/1.x chunked trailers are checked and
	// dropped, so it stays nil there.
	Trailer []HeaderField
	// HeadersPartial (HTTP/2): Header, Trailer or the fields taken from
	// pseudo-headers (Method, Target, Authority, Scheme, StatusCode) may
	// lack fields that were sent, because the header block could not be
	// decoded in full: a capture gap cut it, its HPACK decoding failed
	// after a gap left the compression state unknown, or its fields
	// exceeded Config.MaxHeaderBytes; or a response's block had no valid
	// :status. What is there was decoded from the wire and belongs to this
	// message; nothing is guessed. A zero StatusCode or an empty Method
	// then means the parser never saw it.
	HeadersPartial bool

	// BodySize is the body's length in bytes after removing the chunked
	// framing, whether or not it was kept.
	BodySize      int64
	Body          []byte // the first Config.MaxBodyBytes of the body
	BodyTruncated bool   // Body holds less than BodySize bytes
	// BodyOverBudget: Body stopped growing because Config.BodyBudget, the
	// bound on the body bytes all Conns keep at once, was spent; Body is
	// the prefix kept until then and BodyTruncated is set.
	BodyOverBudget bool
	// BodyLost counts the body bytes a capture gap took, within BodySize,
	// where the framing survived (see Incomplete): the message is whole
	// but its content was not all seen.
	BodyLost int64
	// Incomplete: the message was cut before its end, by the end of the
	// connection, by a capture gap that broke its framing (HTTP/1.x: in its
	// header block or a chunk-size line; HTTP/2: anywhere outside a DATA
	// payload in its direction while it was in flight), by an HTTP/2
	// RST_STREAM or GOAWAY that ended its stream, or by the parser giving
	// up. Bytes lost inside a body whose framing survives (Content-Length,
	// chunk data, a body read until close, or a DATA payload past its Pad
	// Length) leave it complete, with BodyTruncated set.
	Incomplete bool

	Start time.Time // first byte
	End   time.Time // last byte
}

// Get returns the value of the first header named name (case-insensitive).
func (m *Message) Get(name string) (string, bool) {
	for _, h := range m.Header {
		if len(h.Name) == len(name) && equalFold(h.Name, name) {
			return h.Value, true
		}
	}
	return "", false
}

func equalFold(a, b string) bool {
	for i := 0; i < len(a); i++ {
		ca, cb := a[i], b[i]
		if 'A' <= ca && ca <= 'Z' {
			ca += 'a' - 'A'
		}
		if 'A' <= cb && cb <= 'Z' {
			cb += 'a' - 'A'
		}
		if ca != cb {
			return false
		}
	}
	return true
}

// Request is an HTTP request.
type Request struct {
	Message
	Method string
	// Target is the request-target as sent: origin-form "/p?q",
	// absolute-form, authority-form or "*". For HTTP/2 it is :path, or
	// :authority for a CONNECT without :path.
	Target string
	// Authority and Scheme are HTTP/2's :authority and :scheme
	// pseudo-headers (RFC 9113 §8.3.1), empty for HTTP/1.x. An HTTP/2
	// client sends :authority in place of Host, so consumers should prefer
	// Authority over the Host header when it is set.
	Authority string
	Scheme    string
}

// Response is an HTTP response. Interim (1xx) responses other than 101 are
// not reported.
type Response struct {
	Message
	StatusCode int    // 0 only when HeadersPartial hid :status
	Reason     string // empty for HTTP/2, which has none
}

// Transaction is a request and the response to it.
type Transaction struct {
	Request  *Request
	Response *Response // nil when the connection ended before a response

	// StreamID is the HTTP/2 stream that carried the exchange (RFC 9113
	// §5.1.1); 0 for HTTP/1.x. After an h2c upgrade the upgrade request is
	// stream 1 (RFC 7540 §3.2).
	StreamID uint32
	// ResetBy is the stream whose RST_STREAM frame ended the HTTP/2 stream
	// (RFC 9113 §6.4): ToServer when the client reset it, ToClient when
	// the server did; 0 when it was not reset. Messages that had not ended
	// by then are marked Incomplete.
	ResetBy Stream
	// ResetCode is the RST_STREAM error code (RFC 9113 §7), e.g. 0x8
	// CANCEL or 0x7 REFUSED_STREAM. NO_ERROR (0) is what a server sends
	// when it answered before reading the whole request.
	ResetCode uint32

	owner owner // the slot or HTTP/2 stream that holds it, for Release
}
