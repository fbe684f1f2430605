package httpparse

import "time"

// Responses that arrive before their request.
//
// The capture reports a write when its syscall returns. On loopback the
// kernel can deliver a request to the server, the server can answer, and
// another client thread can read the answer, all while the thread that wrote
// the request is preempted before its syscall returns; the response then
// reaches the Conn microseconds before the request. Parsing it at once would
// pair it with no request (and frame it without the method, which HEAD and
// CONNECT change), so the ToClient stream never starts a response that no
// parsed request awaits: from that point on its bytes, and the losses the
// capture reports between them, are held with the time of each piece, and
// parsed as they would have been as soon as a request head is parsed.

// maxEarlyPieces bounds the pieces held besides their bytes, so that a
// stream cut into tiny pieces cannot make the bookkeeping outgrow the bytes.
// Beyond it a piece is merged into the one before, which takes its time:
// times of the messages in them then err by at most how long they were
// held. Pieces separated by a loss cannot merge, and the Conn gives up.
const maxEarlyPieces = 256

// statusPrefix starts every HTTP/1.x status line.
const statusPrefix = "HTTP/1."

type earlyPiece struct {
	n    int       // bytes of the piece still held
	lost int       // bytes the capture lost right after the piece
	ts   time.Time // when the piece was seen
}

// earlyBuffer holds pieces of the ToClient stream in arrival order:
// buf[off:] are their bytes, pieces[next:] their sizes, losses and times.
type earlyBuffer struct {
	buf    []byte // capacity bounded by Config.MaxEarlyResponseBytes
	off    int
	pieces []earlyPiece
	next   int
}

func (e *earlyBuffer) holding() bool { return e.next < len(e.pieces) }

// blank reports whether the held bytes are all CRs and LFs, which HTTP/1.x
// skips between messages, with no loss among them: no response began.
func (e *earlyBuffer) blank() bool {
	for _, pc := range e.pieces[e.next:] {
		if pc.lost > 0 {
			return false
		}
	}
	for _, b := range e.buf[e.off:] {
		if b != '\r' && b != '\n' {
			return false
		}
	}
	return true
}

// reset drops what is held and its memory: holding is rare, so a Conn
// keeps nothing for it between episodes.
func (e *earlyBuffer) reset() { *e = earlyBuffer{} }

// hold appends a piece of the ToClient stream to what is held: p, then lost
// bytes the capture missed. The first held byte starts a response.
func (c *Conn) hold(ts time.Time, p []byte, lost int) {
	e := &c.early
	if len(p) == 0 {
		// Only a loss, after held bytes (the caller holds nothing else
		// without bytes): it follows the last piece.
		if e.holding() {
			e.pieces[len(e.pieces)-1].lost += lost
		}
		return
	}
	// The start is checked before the bound, so that the verdict on a
	// stream does not depend on how it was cut.
	if !c.checkEarly(p) {
		return
	}
	held := len(e.pieces) - e.next
	merge := held >= maxEarlyPieces
	if len(e.buf)-e.off+len(p) > c.cfg.MaxEarlyResponseBytes || merge && e.pieces[len(e.pieces)-1].lost > 0 {
		c.fail(ToClient, KindEarlyResponseTooLarge, errEarlyResponseTooLarge)
		return
	}
	if e.off > 0 {
		// Move what is left of a partly released run to the front, so
		// that the buffer bound holds.
		e.buf = e.buf[:copy(e.buf, e.buf[e.off:])]
		e.pieces = e.pieces[:copy(e.pieces, e.pieces[e.next:])]
		e.off, e.next = 0, 0
	}
	e.buf = append(growBounded(e.buf, len(p), 0, c.cfg.MaxEarlyResponseBytes), p...)
	if merge {
		last := &e.pieces[len(e.pieces)-1]
		last.n += len(p)
		last.lost, last.ts = lost, ts
		return
	}
	e.pieces = append(e.pieces, earlyPiece{n: len(p), lost: lost, ts: ts})
}

// checkEarly reports whether the held bytes followed by p can start a
// status line, and if not gives up at once, as the response reader would,
// so that a server speaking another protocol first is recognised after a
// byte or two, not after the hold bound.
func (c *Conn) checkEarly(p []byte) bool {
	e := &c.early
	if c.proto == ProtocolUnknown && mayBeServerPreface(e.buf[e.off:], p) {
		// An HTTP/2 server speaks first; the client's preface decides.
		return true
	}
	i := 0
	for _, b := range [2][]byte{e.buf[e.off:], p} {
		for _, ch := range b {
			if i == 0 && (ch == '\r' || ch == '\n') {
				continue // skipped once parsed, as HTTP/1.x allows (feed)
			}
			if i == len(statusPrefix) {
				return true
			}
			if ch != statusPrefix[i] {
				if c.proto == ProtocolHTTP1 {
					c.fail(ToClient, KindMalformed, errNotStatusLine)
				} else {
					c.fail(ToClient, KindNotHTTP, errNotStatusLine)
				}
				return false
			}
			i++
		}
	}
	return true
}

// release parses held pieces, each with its own time, now that a request
// awaits them, until they run out or the next response's request is not
// there yet either.
func (c *Conn) release() {
	e := &c.early
	for c.state == stateActive && e.holding() {
		pc := e.pieces[e.next]
		data := e.buf[e.off : e.off+pc.n]
		n := c.feed(&c.srv, pc.ts, data)
		if c.state != stateActive {
			return
		}
		e.off += n
		if c.isH2(ToClient) {
			// An h2c upgrade: what follows the 101 is HTTP/2.
			e.pieces[e.next].n -= n
			c.earlyToH2()
			return
		}
		if n < len(data) {
			e.pieces[e.next].n -= n
			c.checkEarly(nil)
			return
		}
		e.next++
		if !e.holding() {
			e.reset()
		}
		if pc.lost > 0 {
			// May resynchronise, which empties the buffer.
			c.gap(&c.srv, pc.ts, int64(pc.lost))
		}
	}
}
