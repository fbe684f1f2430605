package httpparse

import (
	"fmt"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// Header blocks (RFC 9113 §4.3): a HEADERS or PUSH_PROMISE frame and the
// CONTINUATION frames that follow it on the same stream, decoded fragment by
// fragment with the HPACK decoder (RFC 7541) of their direction.

const (
	// defaultTableSize is SETTINGS_HEADER_TABLE_SIZE's initial value.
	defaultTableSize = 4096
	// maxTableSize caps the dynamic table a decoder may be told to keep,
	// whatever a peer allows: a larger one makes the peer's size update
	// fail to decode (H2HpackError) instead of costing memory.
	maxTableSize = 64 << 10
)

// blockKind says what a header block is decoded into.
type blockKind uint8

const (
	blkDiscard  blockKind = iota // nothing: decoded only to keep the HPACK state
	blkRequest                   // a request's header section
	blkResponse                  // a response's, interim or final
	blkTrailer                   // a trailer section, of either
	blkPromise                   // the request of a pushed stream (PUSH_PROMISE)
)

func (k blockKind) String() string {
	switch k {
	case blkDiscard:
		return "discard"
	case blkRequest:
		return "request"
	case blkResponse:
		return "response"
	case blkTrailer:
		return "trailer"
	case blkPromise:
		return "promise"
	}
	return fmt.Sprintf("blockKind(%d)", uint8(k))
}

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

// checkBlockOrder applies the order of header block frames to the frame
// whose header d just read, and reports whether its payload is to be read:
// a CONTINUATION frame that continues no block is not.
func (h *h2Conn) checkBlockOrder(d *h2Dir, ts time.Time, fh http2.FrameHeader) bool {
	isCont := fh.Type == http2.FrameContinuation
	counted := false
	if d.blk.active && (!isCont || fh.StreamID != d.blk.frameStream) {
		// "A HEADERS frame without the END_HEADERS flag set MUST be
		// followed by a CONTINUATION frame for the same stream" (RFC 9113
		// §6.2): the block ends here, cut short.
		h.count(KindH2BadFrame)
		h.cutBlock(d, ts)
		counted = true
	}
	if !isCont {
		d.afterGap = false
		return true
	}
	if d.blk.active {
		return true
	}
	// "A CONTINUATION frame MUST be preceded by a HEADERS, PUSH_PROMISE or
	// CONTINUATION frame without the END_HEADERS flag set" (RFC 9113
	// §6.10). Right after a gap its HEADERS was lost.
	if !d.afterGap && !counted {
		h.count(KindH2BadFrame)
	}
	return false
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
	} else if d.stream == ToServer && id%2 == 1 && id > h.lastClient {
		// The request of a stream its response opened (a client HEADERS
		// on a pushed stream, which is even, opens nothing).
		h.lastClient = id
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

// breakDecoding stops decoding the block in progress, whatever the reason:
// its message is partial and the decoder starts over.
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

// resetDecoder starts HPACK decoding over, after its state was lost.
func (d *h2Dir) resetDecoder() {
	d.dec = hpack.NewDecoder(d.table, d.onField)
	// A string longer than any header block kept is not worth holding:
	// decoding fails (H2HpackError) and starts over.
	d.dec.SetMaxStringLength(d.h.c.cfg.MaxHeaderBytes)
}

// allowTable applies a SETTINGS_HEADER_TABLE_SIZE the peer sent: this
// direction's encoder may now grow its table up to v with a size update.
// The bound is never lowered: an encoder lowers its size with an update of
// its own, which the decoder follows.
func (d *h2Dir) allowTable(v uint32) {
	v = min(v, maxTableSize)
	if v > d.table {
		d.table = v
		d.dec.SetAllowedMaxDynamicTableSize(v)
		d.h.orderDependent = true
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
			// Anything but a status code leaves the code unknown (0).
			code, ok := parseStatusCode(f.Value)
			if !ok {
				st.resp.HeadersPartial = true
			}
			st.resp.StatusCode = code
		}
	}
}
