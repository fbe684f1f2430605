package httpparse

import (
	"encoding/base64"
	"encoding/binary"
	"strings"
	"time"

	"golang.org/x/net/http2"
)

// How a Conn starts speaking HTTP/2 over cleartext bytes ("h2c", RFC 7540
// §3.1): the client preface with prior knowledge, or an HTTP/1.1 upgrade.
// The plaintext of a TLS connection that chose HTTP/2 by ALPN starts with
// the preface too, so it takes the prior-knowledge path.

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
		if b != prefaceBytes[m.n] {
			c.notPreface()
			return p[i:], true
		}
		if m.n == 0 {
			m.ts = ts
		}
		m.n++
		if m.n == len(prefaceBytes) {
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
// Otherwise only the frame readers are made: after an h2c upgrade request
// the preface switches the ToServer stream, and the 101 the ToClient one
// (upgradeH2C).
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
// HTTP/2, else when upgradeH2C is called next.
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
// 101 that switches to h2c. A 101 the end of the connection or a capture
// gap cut switches to nothing: handed over, its request was never emitted.
func h2cAccepted(s *slot) bool {
	if !s.hasResp || s.resp.StatusCode != 101 || s.resp.Incomplete {
		return false
	}
	req, _ := s.req.Get("Upgrade")
	resp, _ := s.resp.Get("Upgrade")
	return hasToken(req, "h2c") && hasToken(resp, "h2c")
}

// adopt makes an h2c upgrade request stream 1: "The HTTP/1.1 request that
// is sent prior to upgrade is assigned a stream identifier of 1" and is
// complete (RFC 7540 §3.2). Its response comes in HTTP/2 frames.
func (h *h2Conn) adopt(s *slot) {
	if v, ok := s.req.Get("HTTP2-Settings"); ok {
		h.upgradeSettings(v)
	}
	h.lastClient = max(h.lastClient, 1)
	// The 101 ends here; its request goes on as stream 1's.
	h.c.unhold(&s.resp.Message)
	s.resp.Body = nil
	st := h.streams[1]
	if st == nil {
		if st = h.newStream(1); st == nil {
			// Refused: the request goes out on its own.
			h.count(KindNoResponse)
			h.c.emit(&s.txn)
			return
		}
	}
	h.c.unhold(&st.req.Message)
	st.req = s.req
	st.msgs[0].state = msgEnded
	if st.msgs[1].state == msgEnded {
		h.emit(st)
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
