package httpparse

import (
	"encoding/binary"
	"fmt"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// Framing (RFC 9113 §4) and SETTINGS (§6.5): each direction's bytes are cut
// into frames, and each frame is dispatched by its type.

const (
	frameHeaderLen = 9
	// defaultMaxFrameSize is SETTINGS_MAX_FRAME_SIZE's initial value, which
	// every endpoint accepts (RFC 9113 §6.5.2); frames other than DATA up
	// to this size are always buffered.
	defaultMaxFrameSize = 1 << 14
)

// h2ReadState is where a direction is in its frames.
type h2ReadState uint8

const (
	h2Head    h2ReadState = iota // in a frame header
	h2Payload                    // in the payload of a frame the Framer parses
	h2Data                       // in a DATA payload, streamed
	h2Skip                       // in a payload that is skipped
)

func (s h2ReadState) String() string {
	switch s {
	case h2Head:
		return "head"
	case h2Payload:
		return "payload"
	case h2Data:
		return "data"
	case h2Skip:
		return "skip"
	}
	return fmt.Sprintf("h2ReadState(%d)", uint8(s))
}

// h2Dir reads the frames of one direction.
type h2Dir struct {
	h      *h2Conn
	stream Stream
	active bool // its bytes are HTTP/2 frames
	resync bool // after a capture gap: looking for a frame header (resume)
	// afterGap: orphan CONTINUATION frames are expected, their HEADERS
	// having been lost; it lasts until another type of frame
	// (checkBlockOrder).
	afterGap bool

	state  h2ReadState
	hdr    [frameHeaderLen]byte
	nhdr   int
	fh     http2.FrameHeader
	remain int       // payload bytes of the current frame still to come
	buf    []byte    // payload of a parsed frame split across Writes; bounded by bound()
	start  time.Time // when the current frame's first byte was seen

	// DATA being streamed (h2_data.go).
	dst        *h2Stream // nil: the payload is skipped
	padPending bool      // the Pad Length field is still to come
	pad        int       // padding at the end of the payload

	// Header block assembly (h2_headers.go).
	blk   h2Block
	dec   *hpack.Decoder
	table uint32 // largest dynamic table the peer allowed this direction's encoder, capped

	// maxFrame is the largest SETTINGS_MAX_FRAME_SIZE the receiving peer
	// advertised; resume takes longer frames for noise.
	maxFrame uint32
	fr       *http2.Framer
	src      frameSource
}

// frameSource is what the Framer reads: the bytes of one frame at a time.
type frameSource struct{ b []byte }

func (s *frameSource) Read(p []byte) (int, error) {
	if len(s.b) == 0 {
		return 0, errShortFrame
	}
	n := copy(p, s.b)
	s.b = s.b[n:]
	return n, nil
}

func (d *h2Dir) init(h *h2Conn, s Stream) {
	d.h, d.stream = h, s
	d.table, d.maxFrame = defaultTableSize, defaultMaxFrameSize
	d.fr = http2.NewFramer(nil, &d.src)
	// Frame order (RFC 9113 §6.10) is checked here, with state that
	// survives frames the Framer never sees.
	d.fr.AllowIllegalReads = true
	d.resetDecoder()
}

func (d *h2Dir) index() int { return int(d.stream - ToServer) }

// bound is the largest frame other than DATA that is buffered: room for a
// header block of MaxHeaderBytes, and never less than any peer may send
// unasked.
func (d *h2Dir) bound() int { return max(defaultMaxFrameSize, d.h.c.cfg.MaxHeaderBytes) }

// step consumes bytes of p in the current state and returns how many.
func (h *h2Conn) step(d *h2Dir, ts time.Time, p []byte) int {
	switch d.state {
	case h2Head:
		if d.nhdr == 0 {
			d.start = ts
		}
		n := copy(d.hdr[d.nhdr:], p)
		d.nhdr += n
		if d.nhdr == frameHeaderLen {
			d.nhdr = 0
			h.beginFrame(d, ts)
		}
		return n
	case h2Payload:
		if len(d.buf) == 0 && len(p) >= d.remain {
			// The whole payload is here: parse it in place.
			n := d.remain
			d.remain, d.state = 0, h2Head
			h.frame(d, ts, p[:n])
			return n
		}
		if cap(d.buf) < int(d.fh.Length) {
			d.buf = make([]byte, 0, d.fh.Length)
		}
		n := min(len(p), d.remain)
		d.buf = append(d.buf, p[:n]...)
		d.remain -= n
		if d.remain == 0 {
			d.state = h2Head
			h.frame(d, ts, d.buf)
			d.buf = d.buf[:0]
			if cap(d.buf) > buffersRetained {
				d.buf = nil
			}
		}
		return n
	case h2Data:
		return h.data(d, ts, p)
	default:
		n := min(len(p), d.remain)
		d.remain -= n
		if d.remain == 0 {
			d.state = h2Head
		}
		return n
	}
}

// beginFrame acts on a complete frame header.
func (h *h2Conn) beginFrame(d *h2Dir, ts time.Time) {
	d.src.b = d.hdr[:]
	fh, err := d.fr.ReadFrameHeader()
	if err != nil {
		// Nine bytes are there and any length is accepted: not reached.
		h.count(KindH2BadFrame)
		d.state, d.remain = h2Skip, int(binary.BigEndian.Uint32(d.hdr[:4])>>8)
		return
	}
	d.fh, d.remain = fh, int(fh.Length)
	inOrder := h.checkBlockOrder(d, ts, fh)
	switch {
	case !inOrder:
		d.state = h2Skip
	case fh.Type == http2.FrameData:
		h.beginData(d)
	case handlerFor(fh.Type) != nil:
		if d.remain > d.bound() {
			h.count(KindH2FrameTooLarge)
			h.lostBlock(d, ts)
			d.state = h2Skip
			break
		}
		d.state = h2Payload
	default:
		// PRIORITY, PING and WINDOW_UPDATE say nothing about exchanges;
		// "Implementations MUST ignore and discard frames of unknown
		// types" (RFC 9113 §5.5).
		d.state = h2Skip
	}
	if d.remain > 0 {
		return
	}
	switch d.state {
	case h2Payload:
		d.state = h2Head
		h.frame(d, ts, nil)
	case h2Data:
		d.state = h2Head
		h.endData(d, ts)
	default:
		d.state = h2Head
	}
}

// frame parses a complete buffered frame with the Framer and acts on it.
func (h *h2Conn) frame(d *h2Dir, ts time.Time, payload []byte) {
	d.src.b = payload
	f, err := d.fr.ReadFrameForHeader(d.fh)
	if err != nil {
		h.count(KindH2BadFrame)
		h.lostBlock(d, ts)
		return
	}
	handlerFor(d.fh.Type)(h, d, ts, f)
}

// frameHandler acts on a frame the Framer parsed.
type frameHandler func(h *h2Conn, d *h2Dir, ts time.Time, f http2.Frame)

// frameHandlers, indexed by frame type, act on the frames whose payload is
// buffered and parsed: those that carry header blocks or change what later
// frames mean. DATA is streamed instead (h2_data.go); other types are
// skipped unread.
var frameHandlers = [...]frameHandler{
	http2.FrameHeaders:      handle((*h2Conn).onHeaders),
	http2.FrameContinuation: handle((*h2Conn).onContinuation),
	http2.FramePushPromise:  handle((*h2Conn).onPushPromise),
	http2.FrameSettings:     handle((*h2Conn).onSettings),
	http2.FrameRSTStream:    handle((*h2Conn).onRSTStream),
	http2.FrameGoAway:       handle((*h2Conn).onGoAway),
}

// handlerFor returns the handler of frames of type t, or nil when their
// payload is not parsed, as for unknown types.
func handlerFor(t http2.FrameType) frameHandler {
	if int(t) < len(frameHandlers) {
		return frameHandlers[t]
	}
	return nil
}

// handle makes a frameHandler of an action on one type of frame. The Framer
// returns the type the frame header names, so a frame of another type,
// which the assertion would only meet were the Framer to change, is
// ignored.
func handle[F http2.Frame](act func(*h2Conn, *h2Dir, time.Time, F)) frameHandler {
	return func(h *h2Conn, d *h2Dir, ts time.Time, f http2.Frame) {
		if f, ok := f.(F); ok {
			act(h, d, ts, f)
		}
	}
}

func (h *h2Conn) onHeaders(d *h2Dir, ts time.Time, f *http2.HeadersFrame) {
	h.openHeaders(d, ts, f.StreamID, f.StreamEnded())
	h.fragment(d, ts, f.HeaderBlockFragment(), f.HeadersEnded())
}

func (h *h2Conn) onContinuation(d *h2Dir, ts time.Time, f *http2.ContinuationFrame) {
	h.fragment(d, ts, f.HeaderBlockFragment(), f.HeadersEnded())
}

func (h *h2Conn) onPushPromise(d *h2Dir, ts time.Time, f *http2.PushPromiseFrame) {
	h.openPromise(d, ts, f.StreamID, f.PromiseID)
	h.fragment(d, ts, f.HeaderBlockFragment(), f.HeadersEnded())
}

func (h *h2Conn) onRSTStream(d *h2Dir, _ time.Time, f *http2.RSTStreamFrame) {
	h.reset(d, f.StreamID, uint32(f.ErrCode))
}

func (h *h2Conn) onGoAway(d *h2Dir, _ time.Time, f *http2.GoAwayFrame) {
	h.goAway(d, f.LastStreamID)
}

// onSettings applies what a peer's SETTINGS say about the other direction;
// an acknowledgement carries none (RFC 9113 §6.5).
func (h *h2Conn) onSettings(d *h2Dir, _ time.Time, f *http2.SettingsFrame) {
	if f.IsAck() {
		return
	}
	o := h.other(d)
	_ = f.ForeachSetting(func(s http2.Setting) error {
		o.setting(s.ID, s.Val)
		return nil
	})
}

// setting applies a setting the receiving peer of this direction sent.
func (d *h2Dir) setting(id http2.SettingID, v uint32) {
	switch id {
	case http2.SettingHeaderTableSize:
		d.allowTable(v)
	case http2.SettingMaxFrameSize:
		d.maxFrame = max(d.maxFrame, v)
	}
}
