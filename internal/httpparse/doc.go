// Package httpparse turns the two byte streams of a TCP connection into HTTP
// transactions. In the flow from the kernel to an exported span it is the
// step after the glue that follows connections (internal/tap): the glue
// feeds it, for each connection, pieces of each stream as the capture saw
// them, with the time each piece was seen and how many bytes the capture
// lost after it; it hands back Transactions, each a request and its
// response with their fields, bounded bodies and times, for the glue to
// pass on to translation. It is pure Go, bytes and timestamps in,
// Transactions out: it knows nothing of BPF, of the capture engine or of
// pdata.
//
// The caller keeps one Conn per connection, writes the pieces of the stream
// that carries requests as ToServer and those of the other as ToClient, and
// closes the Conn with the connection; emit receives each Transaction as it
// completes. For a caller that joins a connection mid-way, LooksLikeRequest
// tells which stream carries requests. DecodeContent undoes content codings
// to show a body, and ValidFieldName checks a header name by the rule the
// parser applies.
//
// A Conn detects HTTP/1.x from the first bytes the client sends, pairs
// responses with requests in order (keep-alive and pipelining), decodes
// Content-Length, chunked and read-until-close bodies, and emits each
// transaction when both its messages are complete.
//
// The two streams may arrive out of step: a response that arrives before the
// request it answers is held (within Config.MaxEarlyResponseBytes) and parsed
// once that request's head is (early.go).
//
// Memory per connection is bounded by Config: one header block per stream,
// MaxBodyBytes per kept body, MaxPending requests awaiting responses, and
// MaxEarlyResponseBytes of early response; a BodyBudget shared by many Conns
// bounds the body bytes they keep together. The parser never panics on any
// input. When the capture loses bytes that carried framing, it emits what it
// has, marks unfinished messages Incomplete, and resynchronises both streams
// at the next message starts, never pairing a response with a request it may
// not answer (resync.go). When it cannot go on without guessing (malformed
// framing, a bound exceeded, a loss before the stream was recognised as
// HTTP), it emits what it has, marks unfinished messages Incomplete, counts
// why in Stats and ignores the rest of the connection.
//
// HTTP/2 (h2.go and the h2*.go files it names), with prior knowledge or
// after an h2c upgrade, gives one Transaction per stream, emitted when the
// stream closes; its frames are parsed with golang.org/x/net/http2 and its
// header blocks decoded with one HPACK decoder per direction. A capture gap
// there breaks the framing of one direction, which resumes at a plausible
// frame header; header blocks that can no longer be decoded in full are
// marked HeadersPartial, never filled with guesses.
package httpparse
