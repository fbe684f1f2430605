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
	Proto  string        // "1.0", "1.1"
	Header []HeaderField // in wire order, within Config.MaxHeaderBytes

	// BodySize is the body's length in bytes after removing the chunked
	// framing, whether or not it was kept.
	BodySize      int64
	Body          []byte // the first Config.MaxBodyBytes of the body
	BodyTruncated bool   // Body holds less than BodySize bytes
	// Incomplete: the message was cut before its end, by the end of the
	// connection, by a capture gap that broke its framing (in its header
	// block or a chunk-size line), or by the parser giving up. Bytes lost
	// inside a body whose framing survives (Content-Length, chunk data, or a
	// body read until close) leave it complete, with BodyTruncated set.
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
	Target string // request-target as sent: origin-form "/p?q", absolute-form, authority-form or "*"
}

// Response is an HTTP response. Interim (1xx) responses other than 101 are
// not reported.
type Response struct {
	Message
	StatusCode int
	Reason     string
}

// Transaction is a request and the response to it.
type Transaction struct {
	Request  *Request
	Response *Response // nil when the connection ended before a response
}
