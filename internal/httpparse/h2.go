package httpparse

import (
	"encoding/base64"
	"encoding/binary"
	"strings"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// HTTP/2 (RFC 9113).
//
// A Conn becomes HTTP/2 in one of two ways:
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
// Each direction reads frames on its own (h2Dir). DATA payloads are
// streamed into the bodies, so a large DATA frame costs no buffer. Other
// frames are buffered, within the larger of Config.MaxHeaderBytes and 16
// KiB, and parsed by x/net/http2's Framer; PRIORITY, PING, WINDOW_UPDATE
// and unknown types are skipped unread. Header blocks (HEADERS or
// PUSH_PROMISE, then CONTINUATION frames on the same stream) are fed
// fragment by fragment to the direction's HPACK decoder: the ToServer one
// decodes requests' blocks, the ToClient one responses' and promises'.
//
// Each stream gives one Transaction, emitted when the stream closes: both
// its messages ended (END_STREAM) or either side reset it (RST_STREAM). A
// response that ends before its request was seen to end waits for it, so
// that a capture that reported the streams out of step (early.go) changes
// nothing. On Close the open streams are emitted, in stream order, with
// what they have.
//
// A capture gap inside a DATA payload only loses body bytes. Anywhere else
// it breaks the framing of its direction, which skips Write pieces until one
// starts with a chain of plausible frame headers (see resume). The HPACK
// state is then unknown, so the decoder starts over with an empty dynamic
// table. That never attributes a wrong field: the entries a peer inserts
// after the gap take the same indices in both tables, so a reference the
// fresh table can resolve is the same entry the peer meant, and one it
// cannot resolve fails the block, whose message keeps the fields decoded
// before the failure and is marked HeadersPartial. Messages in flight in
// the direction of a gap are marked Incomplete, as their frames may have
// been lost, and their bodies stop growing so that Body stays a prefix.

const (
	frameHeaderLen = 9
	// defaultMaxFrameSize is SETTINGS_MAX_FRAME_SIZE's initial value, which
	// every endpoint accepts (RFC 9113 §6.5.2); frames other than DATA up
	// to this size are always buffered.
	defaultMaxFrameSize = 1 << 14
	// defaultTableSize is SETTINGS_HEADER_TABLE_SIZE's initial value.
	defaultTableSize = 4096
	// maxTableSize caps the dynamic table a decoder may be told to keep,
	// whatever a peer allows: a larger one makes the peer's size update
	// fail to decode (H2HpackError) instead of costing memory.
	maxTableSize = 64 << 10
)

// prefaceMatch recognises the HTTP/2 client preface at the start of the
// ToServer stream, and after a request asking for an h2c upgrade. It holds
// the bytes that match so far, which are the preface's own, so that a
// stream cut anywhere is recognised the same.
type prefaceMatch struct {
	want bool      // the next ToServer bytes may start the preface
	n    int       // bytes of the preface matched so far
	ts   time.Time // when the first of them was seen
}

var prefaceBytes = []byte(http2.ClientPreface)

// preface feeds p, a piece of the ToServer stream where the client preface
// may start, to the matcher. It returns what is left for the HTTP/1.x
// reader, and false when nothing is left to do.
func (c *Conn) preface(ts time.Time, p []byte, lost int) ([]byte, bool) {
	m := &c.pre
	for i, b := range p {
		if b != http2.ClientPreface[m.n] {
			c.notPreface()
			return p[i:], true
		}
		if m.n == 0 {
			m.ts = ts
		}
		m.n++
		if m.n == len(http2.ClientPreface) {
			m.want, m.n = false, 0
			c.startH2(c.proto == ProtocolUnknown)
			c.h2.activate(ToServer)
			c.h2.write(ToServer, ts, p[i+1:], lost)
			return nil, false
		}
	}
	if lost > 0 {
		// A loss inside what may be the preface makes it unrecognisable;
		// HTTP/1.x's rules for gaps apply.
		c.notPreface()
		return nil, true
	}
	return nil, false
}

// notPreface gives the bytes matched so far, which start an HTTP/1.x
// request (PUT, POST, PATCH, ...), to the HTTP/1.x reader with their time.
func (c *Conn) notPreface() {
	m := &c.pre
	n, ts := m.n, m.ts
	m.want, m.n = false, 0
	if n > 0 {
		c.feed(&c.cli, ts, prefaceBytes[:n])
	}
}

// startH2 makes the Conn speak HTTP/2. With prior knowledge both streams are
// HTTP/2 at once, and server bytes held before the preface go first.
func (c *Conn) startH2(prior bool) {
	if c.h2 == nil {
		c.h2 = newH2Conn(c)
	}
	if !prior {
		return
	}
	c.proto = ProtocolHTTP2
	c.h2.activate(ToClient)
	if c.early.holding() {
		c.earlyToH2()
	}
}

// isH2 reports whether stream s is read as HTTP/2 frames.
func (c *Conn) isH2(s Stream) bool { return c.h2 != nil && c.h2.active(s) }

// earlyToH2 hands the ToClient bytes held so far (early.go), with their
// times and losses, to the HTTP/2 reader.
func (c *Conn) earlyToH2() {
	held := c.early
	c.early.reset()
	off := held.off
	for _, pc := range held.pieces[held.next:] {
		c.h2.write(ToClient, pc.ts, held.buf[off:off+pc.n], pc.lost)
		off += pc.n
	}
}

// mayBeServerPreface reports whether a followed by b can start a server's
// connection preface, a SETTINGS frame on stream 0 that is not an ACK (RFC
// 9113 §3.4), so that a server which speaks first is held until the client
// preface decides. The length must be a multiple of 6 below 64 KiB.
func mayBeServerPreface(a, b []byte) bool {
	var h [frameHeaderLen]byte
	n := copy(h[:], a)
	n += copy(h[n:], b)
	want := [frameHeaderLen]byte{3: byte(http2.FrameSettings)}
	for i := 0; i < n; i++ {
		if i == 1 || i == 2 {
			continue
		}
		if h[i] != want[i] {
			return false
		}
	}
	return n < 3 || (int(h[1])<<8|int(h[2]))%6 == 0
}

// upgradeH2C switches the ToClient stream to HTTP/2 when the 101 just
// parsed accepts an h2c upgrade, and reports whether it did.
func (c *Conn) upgradeH2C() bool {
	s := c.h2c
	if s == nil && c.answered > 0 {
		// The upgrade request's body is still being read.
		s = c.pending[c.answered-1]
	}
	if s == nil || !h2cAccepted(s) {
		return false
	}
	c.startH2(false)
	c.proto = ProtocolHTTP2
	c.h2.activate(ToClient)
	if s := c.h2c; s != nil {
		c.h2c = nil
		c.h2.adopt(s)
	}
	return true
}

// handOver takes a completed upgrade request out of HTTP/1.x: it becomes
// stream 1 (RFC 7540 §3.2), at once if the ToClient stream already speaks
// HTTP/2, else when upgrade is called next.
func (c *Conn) handOver(s *slot) {
	if c.isH2(ToClient) {
		c.h2.adopt(s)
		return
	}
	c.h2c = s
}

// noteUpgradeRequest arms the preface matcher once a request asking for an
// h2c upgrade has ended: the client sends the preface right after it if
// the server agrees (RFC 7540 §3.2).
func (c *Conn) noteUpgradeRequest() {
	n := len(c.pending)
	if n == 0 {
		return
	}
	s := c.pending[n-1]
	if !s.reqDone || s.h2cNoted || c.cli.state != stIdle {
		return
	}
	s.h2cNoted = true
	if v, ok := s.req.Get("Upgrade"); ok && hasToken(v, "h2c") {
		c.pre.want = true
	}
}

// h2cAccepted reports whether s is an h2c upgrade request answered by a
// 101 that switches to h2c.
func h2cAccepted(s *slot) bool {
	if !s.hasResp || s.resp.StatusCode != 101 {
		return false
	}
	req, _ := s.req.Get("Upgrade")
	resp, _ := s.resp.Get("Upgrade")
	return hasToken(req, "h2c") && hasToken(resp, "h2c")
}

// hasToken reports whether the comma-separated list v holds token
// (case-insensitive).
func hasToken(v, token string) bool {
	for v != "" {
		var e string
		e, v, _ = strings.Cut(v, ",")
		if e = trimOWS(e); len(e) == len(token) && equalFold(e, token) {
			return true
		}
	}
	return false
}

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

func (h *h2Conn) active(s Stream) bool {
	return (s == ToServer || s == ToClient) && h.dir(s).active
}

func (h *h2Conn) count(k Kind) { h.c.stats.count(k) }

// h2ReadState is where a direction is in its frames.
type h2ReadState uint8

const (
	h2Head    h2ReadState = iota // in a frame header
	h2Payload                    // in the payload of a frame the Framer parses
	h2Data                       // in a DATA payload, streamed
	h2Skip                       // in a payload that is skipped
)

// h2Dir reads the frames of one direction.
type h2Dir struct {
	h      *h2Conn
	stream Stream
	active bool // its bytes are HTTP/2 frames
	resync bool // after a capture gap: looking for a frame header (resume)
	// afterGap: orphan CONTINUATION frames are expected, their HEADERS
	// having been lost; it lasts until another type of frame.
	afterGap bool

	state  h2ReadState
	hdr    [frameHeaderLen]byte
	nhdr   int
	fh     http2.FrameHeader
	remain int       // payload bytes of the current frame still to come
	buf    []byte    // payload of a parsed frame split across Writes; bounded by bound()
	start  time.Time // when the current frame's first byte was seen

	// DATA being streamed.
	dst        *h2Stream // nil: the payload is skipped
	padPending bool      // the Pad Length field is still to come
	pad        int       // padding at the end of the payload

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

// bound is the largest frame other than DATA that is buffered: room for a
// header block of MaxHeaderBytes, and never less than any peer may send
// unasked.
func (d *h2Dir) bound() int { return max(defaultMaxFrameSize, d.h.c.cfg.MaxHeaderBytes) }

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
	}
	switch {
	case isCont && !d.blk.active:
		// "A CONTINUATION frame MUST be preceded by a HEADERS,
		// PUSH_PROMISE or CONTINUATION frame without the END_HEADERS flag
		// set" (RFC 9113 §6.10). Right after a gap its HEADERS was lost.
		if !d.afterGap && !counted {
			h.count(KindH2BadFrame)
		}
		d.state = h2Skip
	case fh.Type == http2.FrameData:
		h.beginData(d)
	case parsed(fh.Type):
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

// parsed reports whether frames of type t are buffered and parsed: those
// that carry header blocks or change what later frames mean.
func parsed(t http2.FrameType) bool {
	switch t {
	case http2.FrameHeaders, http2.FrameContinuation, http2.FramePushPromise,
		http2.FrameSettings, http2.FrameRSTStream, http2.FrameGoAway:
		return true
	}
	return false
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
	switch f := f.(type) {
	case *http2.HeadersFrame:
		h.openHeaders(d, ts, f.StreamID, f.StreamEnded())
		h.fragment(d, ts, f.HeaderBlockFragment(), f.HeadersEnded())
	case *http2.ContinuationFrame:
		h.fragment(d, ts, f.HeaderBlockFragment(), f.HeadersEnded())
	case *http2.PushPromiseFrame:
		h.openPromise(d, ts, f.StreamID, f.PromiseID)
		h.fragment(d, ts, f.HeaderBlockFragment(), f.HeadersEnded())
	case *http2.SettingsFrame:
		if !f.IsAck() {
			h.settings(d, f)
		}
	case *http2.RSTStreamFrame:
		h.reset(d, f.StreamID, uint32(f.ErrCode))
	case *http2.GoAwayFrame:
		h.goAway(d, f.LastStreamID)
	}
}

// settings applies what a peer's SETTINGS say about the other direction.
func (h *h2Conn) settings(d *h2Dir, f *http2.SettingsFrame) {
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

// upgradeSettings applies the client's SETTINGS sent in the HTTP2-Settings
// header of an h2c upgrade request: "a base64url encoding of a SETTINGS
// frame payload" (RFC 7540 §3.2.1). A value that does not decode changes
// nothing.
func (h *h2Conn) upgradeSettings(v string) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(trimOWS(v), "="))
	if err != nil {
		return
	}
	for ; len(b) >= 6; b = b[6:] {
		h.dir(ToClient).setting(http2.SettingID(binary.BigEndian.Uint16(b)), binary.BigEndian.Uint32(b[2:]))
	}
}

// gap handles bytes lost after what was fed to d.
func (h *h2Conn) gap(d *h2Dir, ts time.Time, lost int) {
	switch d.state {
	case h2Data:
		n := min(lost, d.remain)
		h.lostData(d, n)
		if d.remain == 0 {
			d.state = h2Head
			h.endData(d, ts)
		}
		if lost == n {
			return
		}
		// The frame is whole; only what followed it lost its framing.
	case h2Skip:
		if lost <= d.remain {
			d.remain -= lost
			if d.remain == 0 {
				d.state = h2Head
			}
			return
		}
	}
	h.breakFraming(d, ts)
}

// breakFraming gives up on the frame boundaries of d after a loss: what was
// in flight is marked, the HPACK state starts over, and d looks for the
// next frame header.
func (h *h2Conn) breakFraming(d *h2Dir, ts time.Time) {
	h.c.stats.count(KindCaptureGap)
	if d.blk.active {
		h.cutBlock(d, ts)
	}
	d.resetDecoder()
	i := d.index()
	for _, st := range h.streams {
		ms := &st.msgs[i]
		switch ms.state {
		case msgEnded:
			continue
		case msgHeaders, msgOpen:
			// Frames of it may be in the gap.
			st.message(i).Incomplete = true
			ms.lostBody = true
		}
		// Its header block may be in the gap too.
		ms.gapped = true
		if !st.gapped {
			st.gapped = true
			h.gapped++
		}
	}
	d.state, d.nhdr, d.remain, d.dst = h2Head, 0, 0, nil
	d.buf = d.buf[:0]
	d.resync, d.afterGap = true, true
}

// resume reports whether p, a piece of d while it resynchronises, starts
// with a frame header; if so d resumes there. Syscalls write whole frames,
// mostly, so a piece often starts with one. A single header is weak
// evidence, so every header the piece holds, frame after frame, must be
// plausible too.
func (h *h2Conn) resume(d *h2Dir, p []byte) bool {
	if len(p) < frameHeaderLen {
		return false
	}
	for i := 0; i+frameHeaderLen <= len(p); {
		n, ok := h.plausible(d, p[i:i+frameHeaderLen])
		if !ok {
			return false
		}
		i += frameHeaderLen + n
	}
	d.resync = false
	h.c.stats.resumed()
	return true
}

// frameRule is what a frame header of one type may hold (RFC 9113 §6).
type frameRule struct {
	flags  http2.Flags // defined flags: "Flags that have no defined semantics ... MUST be left unset (0x00) when sending" (§4.1)
	stream int8        // 0: must be 0; 1: must not be 0; -1: either
	length int         // exact payload length, or -1
	minLen int
}

var frameRules = [...]frameRule{
	http2.FrameData:         {flags: 0x1 | 0x8, stream: 1, length: -1},
	http2.FrameHeaders:      {flags: 0x1 | 0x4 | 0x8 | 0x20, stream: 1, length: -1},
	http2.FramePriority:     {stream: 1, length: 5},
	http2.FrameRSTStream:    {stream: 1, length: 4},
	http2.FrameSettings:     {flags: 0x1, stream: 0, length: -1},
	http2.FramePushPromise:  {flags: 0x4 | 0x8, stream: 1, length: -1, minLen: 4},
	http2.FramePing:         {flags: 0x1, stream: 0, length: 8},
	http2.FrameGoAway:       {stream: 0, length: -1, minLen: 8},
	http2.FrameWindowUpdate: {stream: -1, length: 4},
	http2.FrameContinuation: {flags: 0x4, stream: 1, length: -1},
}

// plausible checks a frame header found while resynchronising, and returns
// its payload length.
func (h *h2Conn) plausible(d *h2Dir, b []byte) (int, bool) {
	n := int(b[0])<<16 | int(b[1])<<8 | int(b[2])
	t, flags := http2.FrameType(b[3]), http2.Flags(b[4])
	if int(t) >= len(frameRules) || b[5]&0x80 != 0 || n > int(d.maxFrame) {
		return 0, false
	}
	r := frameRules[t]
	id := binary.BigEndian.Uint32(b[5:])
	switch {
	case flags&^r.flags != 0,
		r.length >= 0 && n != r.length,
		n < r.minLen,
		r.stream == 0 && id != 0,
		r.stream == 1 && id == 0,
		t == http2.FrameSettings && (flags != 0 && n != 0 || n%6 != 0):
		return 0, false
	}
	// Stream ids: clients open odd ones and push nothing; a stream far
	// beyond those seen is noise.
	switch {
	case d.stream == ToServer && id%2 == 0 && (t == http2.FrameHeaders || t == http2.FrameData || t == http2.FrameContinuation),
		d.stream == ToServer && t == http2.FramePushPromise,
		d.stream == ToClient && t == http2.FramePushPromise && id%2 == 0,
		uint64(id) > uint64(max(h.lastClient, h.lastPromised))+2*uint64(h.c.cfg.MaxStreams):
		return 0, false
	}
	return n, true
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
