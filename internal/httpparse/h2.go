package httpparse

import "time"

// HTTP/2 (RFC 9113).
//
// A Conn becomes HTTP/2 in one of two ways (h2c.go):
//
//   - prior knowledge: the ToServer stream starts with the client connection
//     preface "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" (RFC 9113 §3.4), and both
//     streams are HTTP/2 from there on. A server's SETTINGS frame that
//     arrives before the preface is held like an early response (early.go);
//   - an h2c upgrade (RFC 7540 §3.2): an HTTP/1.1 request carrying
//     "Upgrade: h2c" answered by "101 Switching Protocols" with "Upgrade:
//     h2c". The ToClient stream is HTTP/2 right after the 101; the ToServer
//     stream once the upgrade request has ended and the preface follows.
//     The upgrade request becomes stream 1, whose response arrives in
//     HTTP/2 frames.
//
// Each direction reads frames on its own (h2Dir, h2_frame.go). DATA
// payloads are streamed into the bodies (h2_data.go), so a large DATA frame
// costs no buffer. Other frames are buffered, within the larger of
// Config.MaxHeaderBytes and 16 KiB, and parsed by x/net/http2's Framer;
// PRIORITY, PING, WINDOW_UPDATE and unknown types are skipped unread.
// Header blocks (HEADERS or PUSH_PROMISE, then CONTINUATION frames on the
// same stream) are fed fragment by fragment to the direction's HPACK
// decoder (h2_headers.go): the ToServer one decodes requests' blocks, the
// ToClient one responses' and promises'.
//
// Each stream gives one Transaction, emitted when the stream closes
// (h2_stream.go): both its messages ended (END_STREAM) or either side reset
// it (RST_STREAM). A response that ends before its request was seen to end
// waits for it, so that a capture that reported the streams out of step
// (early.go) changes nothing. On Close the open streams are emitted, in
// stream order, with what they have.
//
// A capture gap inside a DATA payload only loses body bytes. Anywhere else
// it breaks the framing of its direction, which skips Write pieces until one
// starts with a chain of plausible frame headers (h2_resync.go). The HPACK
// state is then unknown, so the decoder starts over with an empty dynamic
// table. That never attributes a wrong field: the entries a peer inserts
// after the gap take the same indices in both tables, so a reference the
// fresh table can resolve is the same entry the peer meant, and one it
// cannot resolve fails the block, whose message keeps the fields decoded
// before the failure and is marked HeadersPartial. Messages in flight in
// the direction of a gap are marked Incomplete, as their frames may have
// been lost, and their bodies stop growing so that Body stays a prefix.

// h2Conn is the HTTP/2 state of a Conn.
type h2Conn struct {
	c       *Conn
	dirs    [2]h2Dir // ToServer, ToClient
	streams map[uint32]*h2Stream

	// lastClient is the highest stream id a client HEADERS opened (or
	// tried to): clients open streams in increasing order (RFC 9113
	// §5.1.1), so a response on a lower stream that is not followed can
	// no longer find its request. lastPromised is the same for pushes.
	lastClient   uint32
	lastPromised uint32
	// gapped counts streams a capture gap may have cut (h2Stream.gapped).
	gapped int
	// orderDependent is set once the result may depend on how the two
	// directions interleave (a reset, a GOAWAY, a refused or unmatched
	// stream, a raised table size); tests compare orders only without it.
	orderDependent bool
}

func newH2Conn(c *Conn) *h2Conn {
	h := &h2Conn{c: c, streams: make(map[uint32]*h2Stream)}
	for i := range h.dirs {
		h.dirs[i].init(h, ToServer+Stream(i))
	}
	return h
}

func (h *h2Conn) dir(s Stream) *h2Dir { return &h.dirs[s-ToServer] }

func (h *h2Conn) other(d *h2Dir) *h2Dir { return &h.dirs[1-d.index()] }

func (h *h2Conn) activate(s Stream) { h.dir(s).active = true }

// active reports whether stream s is read as HTTP/2 frames; s may be any
// value a caller passed to Conn.Write.
func (h *h2Conn) active(s Stream) bool {
	return (s == ToServer || s == ToClient) && h.dir(s).active
}

func (h *h2Conn) count(k Kind) { h.c.stats.count(k) }

// write feeds the next piece of a direction: p, then lost bytes.
func (h *h2Conn) write(s Stream, ts time.Time, p []byte, lost int) {
	d := h.dir(s)
	if d.resync && len(p) > 0 {
		if !h.resume(d, p) {
			h.c.stats.skipped(len(p))
			return
		}
	}
	if !d.resync {
		for len(p) > 0 {
			p = p[h.step(d, ts, p):]
		}
	}
	if lost > 0 && !d.resync {
		h.gap(d, ts, lost)
	}
}

// close emits the streams still open, in stream order, with what they
// have: messages not ended are Incomplete.
func (h *h2Conn) close() {
	for i := range h.dirs {
		// A block in progress leaves its message in msgHeaders, which cut
		// marks partial.
		d := &h.dirs[i]
		d.blk, d.buf, d.dst = h2Block{}, nil, nil
	}
	for _, st := range h.sorted(func(*h2Stream) bool { return true }) {
		h.cut(st)
		h.emit(st)
	}
}
