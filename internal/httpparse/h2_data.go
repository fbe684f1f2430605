package httpparse

import (
	"time"

	"golang.org/x/net/http2"
)

// DATA frames (RFC 9113 §6.1): their payloads are streamed into the bodies
// of the messages they carry, never buffered whole.

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
		// A stream not followed, skipped. Whether the frame broke the
		// protocol depends on what is no longer known, and on the order:
		// on the response side past the last request seen, DATA the
		// capture reported ahead of its request (an error had the request
		// come first); on either side, DATA after an END_STREAM that
		// closed a stream this Conn emitted (an error, and counted as one
		// while the stream was still followed: a response ahead of its
		// request keeps it so), or after a reset (none); on the request
		// side, DATA on stream 1 of an h2c upgrade before the 101 that
		// opens it was read (an error once it was).
		h.orderDependent = true
		return
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
		m := st.message(d.index())
		m.BodySize += int64(content)
		m.BodyLost += int64(content)
		st.msgs[d.index()].lostBody = true
	}
}

// keep adds body bytes: all count towards BodySize, the first MaxBodyBytes
// are kept, within the budget, in a buffer that never grows beyond them.
func (h *h2Conn) keep(st *h2Stream, i int, b []byte, ts time.Time) {
	m := st.message(i)
	m.BodySize += int64(len(b))
	m.End = ts
	if st.msgs[i].lostBody {
		return
	}
	h.c.keepBody(m, b, 0)
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
