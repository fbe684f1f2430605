package httpparse

import "time"

type readState uint8

const (
	stIdle       readState = iota // between messages
	stHead                        // inside a header block
	stLength                      // in a body delimited by Content-Length
	stUntilClose                  // in a response body delimited by the end of the connection
	// chunked transfer coding, see chunked.go
	stChunkSize    // in chunk-size
	stChunkExt     // in chunk-ext, up to the LF
	stChunkSizeLF  // after the CR of a chunk-size line
	stChunkData    // in chunk-data
	stChunkDataEnd // after chunk-data, expecting CRLF
	stChunkDataLF  // after the CR that follows chunk-data
	stTrailer      // at the start of a trailer line
	stTrailerLine  // inside a trailer field line
	stTrailerLF    // after the CR of the empty line ending the trailers
)

// reader is the parsing state of one stream.
type reader struct {
	stream Stream
	state  readState
	resync bool // after a capture gap: skipping to the next message start (resync.go)

	// Header block accumulation, for a block split across Writes.
	buf     []byte // bounded by Config.MaxHeaderBytes; reused
	scan    int    // buf[:scan] holds no end of the block
	checked int    // buf[:checked] was found plausible as a start line
	startOK bool   // the start line's first token was checked in full

	start time.Time // when the current message's first byte was seen
	last  time.Time // when its latest byte was seen

	slot *slot    // transaction of the current message; nil for a discarded response
	msg  *Message // the message whose body is being read; nil between messages

	remain   int64 // body bytes left (Content-Length) or chunk-data bytes left
	sizeHint int64 // expected body size, to size Message.Body once
	lostBody bool  // bytes of this body were lost: Body stops growing so it stays a prefix

	chunkLine int // bytes of the current chunk-size line
	trailer   int // bytes of the trailer section so far
	colon     bool
}

// buffersRetained caps the header buffer a stream keeps between messages, so
// that one huge header block does not pin its buffer for the connection's
// life.
const buffersRetained = 4 << 10

func (r *reader) beginHead(ts time.Time) {
	r.state = stHead
	r.start, r.last = ts, ts
	r.scan, r.checked, r.startOK = 0, 0, false
}

func (r *reader) resetBuf() {
	if cap(r.buf) > buffersRetained {
		r.buf = nil
		return
	}
	r.buf = r.buf[:0]
}

func (r *reader) release() {
	r.buf = nil
	r.msg, r.slot = nil, nil
}

// readLength reads a body delimited by Content-Length: "the expected size of
// the message body, in octets" (RFC 9112 §6.3, rule 6).
func (c *Conn) readLength(r *reader, ts time.Time, p []byte) int {
	n := len(p)
	if int64(n) > r.remain {
		n = int(r.remain)
	}
	c.keep(r, p[:n])
	r.remain -= int64(n)
	r.last = ts
	if r.remain == 0 {
		c.endMessage(r, ts)
	}
	return n
}

// keep adds body bytes to the current message: all count towards BodySize,
// the first MaxBodyBytes are kept, within the budget.
func (c *Conn) keep(r *reader, b []byte) {
	m := r.msg
	m.BodySize += int64(len(b))
	if r.lostBody || r.slot == nil {
		return
	}
	c.keepBody(m, b, int(min(r.sizeHint, int64(c.cfg.MaxBodyBytes))))
}

// growBounded returns b with room for n more bytes, reallocated if need be
// to a capacity that never exceeds limit, which append's own growth would
// not promise; len(b)+n must not exceed limit. Within limit the capacity
// at least doubles, and starts at 512 bytes, or at hint, the size b is
// expected to reach (0 if unknown), so that a buffer filled piece by piece
// is not copied for every piece, nor larger than its content is known to
// be.
func growBounded(b []byte, n, hint, limit int) []byte {
	need := len(b) + n
	if need <= cap(b) {
		return b
	}
	return withCap(b, grownCap(cap(b), need, hint, limit))
}

// grownCap is the capacity growBounded gives a buffer of capacity have that
// must hold need bytes.
func grownCap(have, need, hint, limit int) int {
	if hint >= need {
		return min(hint, limit)
	}
	return min(max(need, 2*have, 512), limit)
}

// withCap returns a copy of b with capacity n, at least len(b).
func withCap(b []byte, n int) []byte {
	grown := make([]byte, len(b), n)
	copy(grown, b)
	return grown
}

// skip accounts for body bytes the capture lost.
func (c *Conn) skip(r *reader, n int64) {
	r.msg.BodySize += n
	r.msg.BodyLost += n
	r.lostBody = true
}

// endMessage completes the current message of r at ts and emits what became
// complete.
func (c *Conn) endMessage(r *reader, ts time.Time) {
	m := r.msg
	m.End = ts
	m.BodyTruncated = int64(len(m.Body)) < m.BodySize
	if s := r.slot; s != nil {
		if r.stream == ToServer {
			s.reqDone = true
		} else {
			s.respDone = true
		}
	}
	r.msg, r.slot = nil, nil
	r.state = stIdle
	r.remain, r.sizeHint, r.lostBody = 0, 0, false
	c.flush()
}
