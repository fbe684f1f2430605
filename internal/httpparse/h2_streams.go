package httpparse

import (
	"cmp"
	"slices"
	"strconv"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2MsgState is how far one message of a stream has come.
type h2MsgState uint8

const (
	msgIdle    h2MsgState = iota // no header block yet (or only interim responses)
	msgHeaders                   // its header block is being decoded
	msgOpen                      // headers done; DATA and trailers may follow
	msgEnded                     // END_STREAM seen
)

type h2Msg struct {
	state    h2MsgState
	lostBody bool // body bytes were lost: Body stops growing so it stays a prefix
	gapped   bool // a capture gap in its direction may have swallowed its frames
}

// h2Stream is one stream: its transaction, request and response share one
// allocation. msgs[0] tracks the request, msgs[1] the response.
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

// blockKind says what a header block is decoded into.
type blockKind uint8

const (
	blkDiscard  blockKind = iota // nothing: decoded only to keep the HPACK state
	blkRequest                   // a request's header section
	blkResponse                  // a response's, interim or final
	blkTrailer                   // a trailer section, of either
	blkPromise                   // the request of a pushed stream (PUSH_PROMISE)
)

// h2Block is the header block a direction is decoding: a HEADERS or
// PUSH_PROMISE frame and the CONTINUATION frames that must follow it on the
// same stream (RFC 9113 §4.3).
type h2Block struct {
	active      bool
	frameStream uint32    // stream of the HEADERS or PUSH_PROMISE frame
	st          *h2Stream // stream decoded into; nil to discard
	kind        blockKind
	dir         int  // the message of st: 0 request, 1 response
	endStream   bool // END_STREAM on the HEADERS frame: the message ends with the block
	broken      bool // decoding stopped; the rest of the block is skipped
	size        int  // bytes of fields kept, bounded by MaxHeaderBytes
	full        bool // MaxHeaderBytes was reached
}

// openHeaders starts the header block of a HEADERS frame on stream id.
func (h *h2Conn) openHeaders(d *h2Dir, ts time.Time, id uint32, endStream bool) {
	d.blk = h2Block{active: true, frameStream: id, endStream: endStream}
	if id == 0 {
		return // the Framer refused it already
	}
	i := d.index()
	st := h.streams[id]
	if st == nil {
		if st = h.open(d, id); st == nil {
			return
		}
	}
	b := &d.blk
	switch st.msgs[i].state {
	case msgIdle:
		b.kind = blkRequest
		if i == 1 {
			b.kind = blkResponse
		}
		st.msgs[i].state = msgHeaders
		m := st.start(i, d.start)
		m.Header = st.fields[i*fieldsPerMessage : i*fieldsPerMessage : (i+1)*fieldsPerMessage]
	case msgOpen:
		// "a HEADERS frame (and associated CONTINUATION frames) containing
		// a trailer section" (RFC 9113 §8.1).
		b.kind = blkTrailer
	default:
		// After END_STREAM: the stream is half-closed (RFC 9113 §5.1).
		h.count(KindH2BadFrame)
		return
	}
	b.st, b.dir = st, i
	st.message(i).End = ts
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
			}
			// Lower: closed already, reset, or refused here.
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
	st := &h2Stream{id: id}
	st.txn.StreamID = id
	st.txn.Request = &st.req
	h.streams[id] = st
	return st
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

// openPromise starts the header block of a PUSH_PROMISE frame: the request
// of the promised stream (RFC 9113 §8.4).
func (h *h2Conn) openPromise(d *h2Dir, ts time.Time, id, promised uint32) {
	d.blk = h2Block{active: true, frameStream: id}
	// Only servers push, on even streams opened in increasing order.
	if d.stream != ToClient || promised%2 != 0 || promised <= h.lastPromised {
		h.count(KindH2BadFrame)
		return
	}
	h.lastPromised = promised
	st := h.newStream(promised)
	if st == nil {
		return
	}
	st.msgs[0].state = msgHeaders
	m := st.start(0, d.start)
	m.Header = st.fields[0:0:fieldsPerMessage]
	m.End = ts
	b := &d.blk
	b.st, b.kind, b.dir = st, blkPromise, 0
}

// fragment decodes one fragment of the block in progress.
func (h *h2Conn) fragment(d *h2Dir, ts time.Time, frag []byte, endHeaders bool) {
	b := &d.blk
	if !b.broken && len(frag) > 0 {
		if _, err := d.dec.Write(frag); err != nil {
			h.decodeFailed(d)
		}
	}
	if b.st != nil {
		b.st.message(b.dir).End = ts
	}
	if endHeaders {
		h.closeBlock(d, ts)
	}
}

// decodeFailed stops decoding the block in progress: the fields decoded
// before the failure stay, the rest are unknown, and so is the decoder's
// state.
func (h *h2Conn) decodeFailed(d *h2Dir) {
	h.count(KindH2HpackError)
	h.breakDecoding(d)
}

func (h *h2Conn) breakDecoding(d *h2Dir) {
	b := &d.blk
	b.broken = true
	if b.st != nil {
		b.st.message(b.dir).HeadersPartial = true
	}
	d.resetDecoder()
}

// closeBlock ends the header block in progress.
func (h *h2Conn) closeBlock(d *h2Dir, ts time.Time) {
	if !d.blk.broken {
		if err := d.dec.Close(); err != nil {
			// A field cut at the end of the block.
			h.decodeFailed(d)
		}
	}
	b := d.blk
	d.blk = h2Block{}
	st := b.st
	if st == nil {
		return
	}
	ms := &st.msgs[b.dir]
	switch b.kind {
	case blkRequest:
		ms.state = msgOpen
		if r := &st.req; r.Target == "" && r.Method == "CONNECT" {
			// "The :scheme and :path pseudo-header fields MUST be
			// omitted" in a CONNECT request; :authority names the
			// target (RFC 9113 §8.5).
			r.Target = r.Authority
		}
	case blkResponse:
		if c := st.resp.StatusCode; c >= 100 && c < 200 && !b.endStream {
			// An interim response: "a final response ... is preceded by
			// zero or more ... 1xx" HEADERS (RFC 9113 §8.1).
			st.resp = Response{}
			ms.state = msgIdle
			return
		}
		if st.resp.StatusCode == 0 {
			// No valid :status: the code is unknown, not zero.
			st.resp.HeadersPartial = true
		}
		ms.state = msgOpen
	case blkPromise:
		// A promised request has no content (RFC 9113 §8.4).
		ms.state = msgOpen
		b.endStream = true
	}
	if b.endStream {
		h.endMessage(st, b.dir, ts)
	}
}

// cutBlock ends the block in progress early: its message lacks the rest of
// its fields, and the decoder state is unknown.
func (h *h2Conn) cutBlock(d *h2Dir, ts time.Time) {
	if !d.blk.broken {
		h.breakDecoding(d)
	}
	h.closeBlock(d, ts)
}

// lostBlock handles a frame that was not parsed (too large, or refused by
// the Framer): if it carried part of a header block, that block is lost.
// Its frame header still says which stream and whether END_HEADERS and
// END_STREAM were set, so the block's framing carries on.
func (h *h2Conn) lostBlock(d *h2Dir, ts time.Time) {
	fh := d.fh
	switch fh.Type {
	case http2.FrameHeaders:
		h.openHeaders(d, ts, fh.StreamID, fh.Flags.Has(http2.FlagHeadersEndStream))
	case http2.FramePushPromise:
		d.blk = h2Block{active: true, frameStream: fh.StreamID}
	case http2.FrameContinuation:
	default:
		return
	}
	if !d.blk.broken {
		h.breakDecoding(d)
	}
	if fh.Flags.Has(http2.FlagHeadersEndHeaders) {
		h.closeBlock(d, ts)
	}
}

// onField receives each field the decoder of d decodes.
func (d *h2Dir) onField(f hpack.HeaderField) {
	b := &d.blk
	st := b.st
	if st == nil || b.broken || b.full {
		return
	}
	m := st.message(b.dir)
	size := len(f.Name) + len(f.Value)
	if b.size+size > d.h.c.cfg.MaxHeaderBytes {
		b.full = true
		m.HeadersPartial = true
		d.h.count(KindH2HeaderTooLarge)
		return
	}
	b.size += size
	if f.IsPseudo() {
		d.pseudo(st, b.kind, f)
		return
	}
	hf := HeaderField{Name: f.Name, Value: f.Value}
	if b.kind == blkTrailer {
		m.Trailer = append(m.Trailer, hf)
		return
	}
	m.Header = append(m.Header, hf)
}

// pseudo keeps the pseudo-header fields (RFC 9113 §8.3). Others, and any in
// a trailer section ("Pseudo-header fields MUST NOT appear in a trailer
// section"), are dropped.
func (d *h2Dir) pseudo(st *h2Stream, kind blockKind, f hpack.HeaderField) {
	switch kind {
	case blkRequest, blkPromise:
		r := &st.req
		switch f.Name {
		case ":method":
			r.Method = f.Value
			if m, ok := knownMethod(f.Value); ok {
				r.Method = m
			}
		case ":path":
			r.Target = f.Value
		case ":authority":
			r.Authority = f.Value
		case ":scheme":
			r.Scheme = f.Value
		}
	case blkResponse:
		if f.Name == ":status" {
			code, ok := parseStatus(f.Value)
			if !ok {
				st.resp.HeadersPartial = true
			}
			st.resp.StatusCode = code
		}
	}
}

// parseStatus parses :status, "a three-digit HTTP status code" (RFC 9113
// §8.3.2); anything else leaves the code unknown (0).
func parseStatus(v string) (int, bool) {
	if len(v) != 3 {
		return 0, false
	}
	code := 0
	for i := 0; i < 3; i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		code = code*10 + int(c-'0')
	}
	if code < 100 {
		return 0, false
	}
	return code, true
}

// beginData starts the payload of a DATA frame.
func (h *h2Conn) beginData(d *h2Dir) {
	fh := d.fh
	d.dst, d.pad = nil, 0
	d.padPending = fh.Flags.Has(http2.FlagDataPadded)
	d.state = h2Data
	if fh.StreamID == 0 || d.padPending && fh.Length == 0 {
		// "If a DATA frame is received whose Stream Identifier field is
		// 0x00, the recipient MUST respond with a connection error"; a
		// padded frame holds at least its Pad Length (RFC 9113 §6.1).
		h.count(KindH2BadFrame)
		d.state, d.padPending = h2Skip, false
		return
	}
	st := h.streams[fh.StreamID]
	if st == nil {
		return // a stream not followed
	}
	i := d.index()
	ms := &st.msgs[i]
	switch {
	case ms.state == msgOpen:
	case ms.state == msgIdle && ms.gapped:
		// Its HEADERS went in a gap, and DATA before this one may have
		// gone too: what is known is the size of what follows.
		ms.state, ms.lostBody = msgOpen, true
		m := st.start(i, d.start)
		m.HeadersPartial, m.Incomplete = true, true
	default:
		// Before its headers, or after END_STREAM.
		h.count(KindH2BadFrame)
		return
	}
	d.dst = st
}

// data consumes DATA payload bytes from p and returns how many.
func (h *h2Conn) data(d *h2Dir, ts time.Time, p []byte) int {
	n := 0
	if d.padPending {
		d.padPending = false
		d.pad = int(p[0])
		n, d.remain = 1, d.remain-1
		if d.pad > d.remain {
			// "If the length of the padding is the length of the frame
			// payload or greater, the recipient MUST treat this as a
			// connection error" (RFC 9113 §6.1): its content is unknown.
			h.count(KindH2BadFrame)
			if d.dst != nil {
				d.dst.message(d.index()).Incomplete = true
				d.dst = nil
			}
			d.pad = d.remain
		}
	}
	k := min(len(p)-n, max(d.remain-d.pad, 0))
	if k > 0 {
		if st := d.dst; st != nil {
			h.keep(st, d.index(), p[n:n+k], ts)
		}
		n += k
		d.remain -= k
	}
	pad := min(len(p)-n, d.remain)
	n += pad
	d.remain -= pad
	if d.remain == 0 {
		d.state = h2Head
		h.endData(d, ts)
	}
	return n
}

// lostData accounts for n payload bytes of the current DATA frame that the
// capture lost.
func (h *h2Conn) lostData(d *h2Dir, n int) {
	st := d.dst
	if d.padPending && n > 0 {
		// The Pad Length went with them: how much was content is unknown.
		d.padPending = false
		n, d.remain = n-1, d.remain-1
		if st != nil {
			st.message(d.index()).Incomplete = true
		}
	}
	content := min(n, max(d.remain-d.pad, 0))
	d.remain -= n
	if st != nil {
		st.message(d.index()).BodySize += int64(content)
		st.msgs[d.index()].lostBody = true
	}
}

// keep adds body bytes: all count towards BodySize, the first MaxBodyBytes
// are kept, in a buffer that never grows beyond them.
func (h *h2Conn) keep(st *h2Stream, i int, b []byte, ts time.Time) {
	m := st.message(i)
	m.BodySize += int64(len(b))
	m.End = ts
	room := h.c.cfg.MaxBodyBytes - len(m.Body)
	if st.msgs[i].lostBody || room <= 0 {
		return
	}
	b = b[:min(len(b), room)]
	if need := len(m.Body) + len(b); need > cap(m.Body) {
		grown := make([]byte, len(m.Body), min(max(need, 2*cap(m.Body), 512), h.c.cfg.MaxBodyBytes))
		copy(grown, m.Body)
		m.Body = grown
	}
	m.Body = append(m.Body, b...)
}

// endData completes a DATA frame.
func (h *h2Conn) endData(d *h2Dir, ts time.Time) {
	st := d.dst
	d.dst = nil
	if st == nil {
		return
	}
	st.message(d.index()).End = ts
	if d.fh.Flags.Has(http2.FlagDataEndStream) {
		h.endMessage(st, d.index(), ts)
	}
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

// adopt makes an h2c upgrade request stream 1: "The HTTP/1.1 request that
// is sent prior to upgrade is assigned a stream identifier of 1" and is
// complete (RFC 7540 §3.2). Its response comes in HTTP/2 frames.
func (h *h2Conn) adopt(s *slot) {
	if v, ok := s.req.Get("HTTP2-Settings"); ok {
		h.upgradeSettings(v)
	}
	h.lastClient = max(h.lastClient, 1)
	st := h.streams[1]
	if st == nil {
		if st = h.newStream(1); st == nil {
			// Refused: the request goes out on its own.
			h.c.stats.count(KindNoResponse)
			h.c.emit(&s.txn)
			return
		}
	}
	st.req = s.req
	st.msgs[0].state = msgEnded
	if st.msgs[1].state == msgEnded {
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
