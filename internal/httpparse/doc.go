// Package httpparse turns the two byte streams of a TCP connection into HTTP
// transactions. It is pure Go: bytes and timestamps in, Transactions out; it
// knows nothing of BPF or OpenTelemetry.
//
// A Conn is fed pieces of each stream as the capture saw them, including how
// many bytes the capture lost after a piece. It detects HTTP/1.x from the
// first bytes the client sends, pairs responses with requests in order
// (keep-alive and pipelining), decodes Content-Length, chunked and
// read-until-close bodies, and emits each transaction when both its messages
// are complete.
//
// The two streams may arrive out of step: a response that arrives before the
// request it answers is held (within Config.MaxEarlyResponseBytes) and parsed
// once that request's head is.
//
// Memory per connection is bounded by Config: one header block per stream,
// MaxBodyBytes per kept body, MaxPending requests awaiting responses, and
// MaxEarlyResponseBytes of early response. The parser never panics on any
// input. When the capture loses bytes that carried framing, it emits what it
// has, marks unfinished messages Incomplete, and resynchronises both streams
// at the next message starts, never pairing a response with a request it may
// not answer (resync.go). When it cannot go on without guessing (malformed
// framing, a bound exceeded, a loss before the stream was recognised as
// HTTP), it emits what it has, marks unfinished messages Incomplete, counts
// why in Stats and ignores the rest of the connection.
//
// HTTP/2 (h2.go, h2_streams.go), with prior knowledge or after an h2c
// upgrade, gives one Transaction per stream, emitted when the stream closes;
// its frames are parsed with golang.org/x/net/http2 and its header blocks
// decoded with one HPACK decoder per direction. A capture gap there breaks
// the framing of one direction, which resumes at a plausible frame header;
// header blocks that can no longer be decoded in full are marked
// HeadersPartial, never filled with guesses.
package httpparse
