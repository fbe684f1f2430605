package httpparse

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Stream lifecycle (RFC 9113 §5.1): a stream opens with its request's
// HEADERS (or a PUSH_PROMISE), each message ends with END_STREAM, and the
// stream closes, giving its Transaction, when both have ended or either side
// resets it.

// h2MsgState is how far one message of a stream has come.
type h2MsgState uint8

const (
	msgIdle    h2MsgState = iota // no header block yet (or only interim responses)
	msgHeaders                   // its header block is being decoded
	msgOpen                      // headers done; DATA and trailers may follow
	msgEnded                     // END_STREAM seen
)

func (s h2MsgState) String() string {
	switch s {
	case msgIdle:
		return "idle"
	case msgHeaders:
		return "headers"
	case msgOpen:
		return "open"
	case msgEnded:
		return "ended"
	}
	return fmt.Sprintf("h2MsgState(%d)", uint8(s))
}

type h2Msg struct {
	state    h2MsgState
	lostBody bool // body bytes were lost: Body stops growing so it stays a prefix
	gapped   bool // a capture gap in its direction may have swallowed its frames
}

// h2Stream is one stream: its transaction, request and response share one
// allocation, which Transaction.Release gives back for a later stream.
// msgs[0] tracks the request, msgs[1] the response.
type h2Stream struct {
	id     uint32
	txn    Transaction
	req    Request
	resp   Response
	msgs   [2]h2Msg
	gapped bool // some message of it is gapped: first to go when streams run out
	// fields backs the first header fields of both messages, so that a
	// typical stream costs one allocation besides its field values.
	fields [2 * fieldsPerMessage]HeaderField
}

const fieldsPerMessage = 8

// message returns message i of st: 0 the request, 1 the response.
func (st *h2Stream) message(i int) *Message {
	if i == 0 {
		return &st.req.Message
	}
	return &st.resp.Message
}

// start marks message i begun by a frame whose first byte came at ts.
func (st *h2Stream) start(i int, ts time.Time) *Message {
	m := st.message(i)
	m.Proto, m.Start, m.End = "2", ts, ts
	return m
}

// open creates the stream a HEADERS frame on d names, or returns nil when
// it is not to be followed.
func (h *h2Conn) open(d *h2Dir, id uint32) *h2Stream {
	if id%2 == 0 || id <= h.lastClient {
		if d.stream == ToServer {
			if id%2 == 0 {
				// "Streams initiated by a client MUST use odd-numbered
				// stream identifiers" (RFC 9113 §5.1.1).
				h.count(KindH2BadFrame)
				return nil
			}
			// Lower: closed already, reset, or refused here. A HEADERS
			// after the END_STREAM of a stream emitted since broke the
			// protocol, counted only while the stream was still open:
			// the count depends on the order.
			h.orderDependent = true
			return nil
		}
		// A response on a stream not followed: its request was never
		// seen, or the stream was reset, emitted or refused.
		h.count(KindUnmatchedResponse)
		h.orderDependent = true
		return nil
	}
	if d.stream == ToServer {
		h.lastClient = id
	}
	// A response before its request is a capture that reported the
	// streams out of step: the stream waits for its request.
	return h.newStream(id)
}

// newStream adds a stream, within Config.MaxStreams.
func (h *h2Conn) newStream(id uint32) *h2Stream {
	if len(h.streams) >= h.c.cfg.MaxStreams && !h.evictGapped() {
		h.count(KindH2TooManyStreams)
		h.orderDependent = true
		return nil
	}
	st := h2Streams.Get().(*h2Stream)
	st.id = id
	st.txn.StreamID = id
	st.txn.Request = &st.req
	st.txn.owner = st
	h.streams[id] = st
	return st
}

// h2Streams holds the streams of released transactions.
var h2Streams = sync.Pool{New: func() any { return new(h2Stream) }}

func (st *h2Stream) release() {
	*st = h2Stream{} // clears the fields too, so that they keep no string alive
	h2Streams.Put(st)
}

// evictGapped makes room by emitting, as it is, the oldest stream a capture
// gap may have cut: its END_STREAM may be lost, so it might never close.
func (h *h2Conn) evictGapped() bool {
	if h.gapped == 0 {
		return false
	}
	var oldest *h2Stream
	for _, st := range h.streams {
		if st.gapped && (oldest == nil || st.id < oldest.id) {
			oldest = st
		}
	}
	h.count(KindH2TooManyStreams)
	h.cut(oldest)
	h.emit(oldest)
	return true
}

// endMessage ends message i of st at ts; a stream whose messages both ended
// is closed (RFC 9113 §5.1) and emitted.
func (h *h2Conn) endMessage(st *h2Stream, i int, ts time.Time) {
	if st.msgs[i].state == msgEnded {
		return
	}
	st.msgs[i].state = msgEnded
	st.message(i).End = ts
	if st.msgs[0].state == msgEnded && st.msgs[1].state == msgEnded {
		h.emit(st)
	}
}

// reset handles RST_STREAM: the stream closes at once, its unfinished
// messages Incomplete.
func (h *h2Conn) reset(d *h2Dir, id uint32, code uint32) {
	st := h.streams[id]
	if st == nil {
		return
	}
	h.orderDependent = true
	st.txn.ResetBy, st.txn.ResetCode = d.stream, code
	h.cut(st)
	h.emit(st)
}

// goAway handles GOAWAY: streams the receiving peer opened beyond the last
// one the sender processed "were not or will not be processed" (RFC 9113
// §6.8), so they are done now, as they are.
func (h *h2Conn) goAway(d *h2Dir, last uint32) {
	h.orderDependent = true
	// The server's GOAWAY speaks of client (odd) streams, the client's of
	// pushed (even) ones.
	parity := uint32(1)
	if d.stream == ToServer {
		parity = 0
	}
	for _, st := range h.sorted(func(st *h2Stream) bool { return st.id > last && st.id%2 == parity }) {
		h.cut(st)
		h.emit(st)
	}
}

// cut marks what st had not finished as cut short: messages begun but not
// ended are Incomplete, a header block in progress is partial. A message
// whose body reached its Content-Length is whole even without END_STREAM:
// clients such as curl stop reading there and close, before any trailers.
func (h *h2Conn) cut(st *h2Stream) {
	for i := range st.msgs {
		switch st.msgs[i].state {
		case msgHeaders:
			st.message(i).HeadersPartial = true
			st.message(i).Incomplete = true
		case msgOpen:
			if m := st.message(i); !bodyReachedLength(m) {
				m.Incomplete = true
			}
		}
	}
}

// bodyReachedLength reports whether m declared a Content-Length and its
// body has that many bytes.
func bodyReachedLength(m *Message) bool {
	v, ok := m.Get("content-length")
	if !ok {
		return false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return err == nil && n == m.BodySize
}

// emit closes st and passes on its transaction.
func (h *h2Conn) emit(st *h2Stream) {
	delete(h.streams, st.id)
	if st.gapped {
		h.gapped--
	}
	// Frames still to come for it change nothing any more.
	for i := range h.dirs {
		d := &h.dirs[i]
		if d.blk.st == st {
			d.blk.st = nil
		}
		if d.dst == st {
			d.dst = nil
		}
	}
	if st.msgs[0].state == msgIdle {
		if st.msgs[1].state != msgIdle {
			// A response whose request never came.
			h.count(KindUnmatchedResponse)
			h.orderDependent = true
		}
		h.c.unhold(&st.resp.Message)
		return
	}
	for i := range st.msgs {
		m := st.message(i)
		m.BodyTruncated = int64(len(m.Body)) < m.BodySize
	}
	if st.msgs[1].state != msgIdle {
		st.txn.Response = &st.resp
	} else {
		h.count(KindNoResponse)
	}
	h.c.emit(&st.txn)
}

// sorted returns the open streams that match, in stream order.
func (h *h2Conn) sorted(match func(*h2Stream) bool) []*h2Stream {
	var out []*h2Stream
	for _, st := range h.streams {
		if match(st) {
			out = append(out, st)
		}
	}
	slices.SortFunc(out, func(a, b *h2Stream) int { return cmp.Compare(a.id, b.id) })
	return out
}
