package httpparse

import (
	"encoding/binary"
	"time"

	"golang.org/x/net/http2"
)

// Resynchronising a direction after a capture gap: a loss inside a DATA
// payload or a skipped frame only loses payload bytes; anywhere else it
// breaks the framing, and the direction looks for the next frame header.

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
	h.count(KindCaptureGap)
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
// its payload length. A header of an unknown type is not taken, though a
// peer may send one (RFC 9113 §5.5).
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
