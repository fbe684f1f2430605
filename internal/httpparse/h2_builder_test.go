package httpparse

import (
	"bytes"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2Builder writes one direction of an HTTP/2 connection with x/net/http2's
// Framer and an HPACK encoder, so that table tests state frames, not bytes.
// AllowIllegalWrites lets tests write the frames a peer must not send.
type h2Builder struct {
	t   testing.TB
	out bytes.Buffer
	fr  *http2.Framer
	hb  bytes.Buffer
	enc *hpack.Encoder
}

func newH2Builder(t testing.TB) *h2Builder {
	b := &h2Builder{t: t}
	b.fr = http2.NewFramer(&b.out, nil)
	b.fr.AllowIllegalWrites = true
	b.enc = hpack.NewEncoder(&b.hb)
	return b
}

// take returns what was written since the last take.
func (b *h2Builder) take() string {
	s := b.out.String()
	b.out.Reset()
	return s
}

func (b *h2Builder) check(err error) {
	b.t.Helper()
	if err != nil {
		b.t.Fatal(err)
	}
}

func (b *h2Builder) preface() *h2Builder {
	b.out.WriteString(http2.ClientPreface)
	return b
}

func (b *h2Builder) settings(s ...http2.Setting) *h2Builder {
	b.check(b.fr.WriteSettings(s...))
	return b
}

// block encodes fields, given as name, value pairs; a name starting with
// "~" is encoded never-indexed, so that it stays out of the dynamic table.
func (b *h2Builder) block(fields ...string) []byte {
	b.hb.Reset()
	for i := 0; i+1 < len(fields); i += 2 {
		f := hpack.HeaderField{Name: fields[i], Value: fields[i+1]}
		switch f.Name[0] {
		case '~':
			f.Name, f.Sensitive = f.Name[1:], true
		}
		b.check(b.enc.WriteField(f))
	}
	return bytes.Clone(b.hb.Bytes())
}

func (b *h2Builder) headers(id uint32, end bool, fields ...string) *h2Builder {
	b.check(b.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: b.block(fields...), EndStream: end, EndHeaders: true}))
	return b
}

// headersSplit writes a HEADERS frame and CONTINUATION frames, each with at
// most n bytes of the block; between is called after each frame but the
// last.
func (b *h2Builder) headersSplit(id uint32, end bool, n int, between func(), fields ...string) *h2Builder {
	blk := b.block(fields...)
	first := true
	for first || len(blk) > 0 {
		frag := blk[:min(n, len(blk))]
		blk = blk[len(frag):]
		if first {
			b.check(b.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: frag, EndStream: end, EndHeaders: len(blk) == 0}))
			first = false
		} else {
			b.check(b.fr.WriteContinuation(id, len(blk) == 0, frag))
		}
		if len(blk) > 0 && between != nil {
			between()
		}
	}
	return b
}

func (b *h2Builder) paddedHeaders(id uint32, end bool, pad uint8, fields ...string) *h2Builder {
	b.check(b.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: b.block(fields...), EndStream: end, EndHeaders: true, PadLength: pad,
		Priority: http2.PriorityParam{StreamDep: 0, Weight: 15}}))
	return b
}

func (b *h2Builder) data(id uint32, end bool, s string) *h2Builder {
	b.check(b.fr.WriteData(id, end, []byte(s)))
	return b
}

func (b *h2Builder) paddedData(id uint32, end bool, s string, pad int) *h2Builder {
	b.check(b.fr.WriteDataPadded(id, end, []byte(s), make([]byte, pad)))
	return b
}

func (b *h2Builder) rst(id uint32, code http2.ErrCode) *h2Builder {
	b.check(b.fr.WriteRSTStream(id, code))
	return b
}

func (b *h2Builder) goAway(last uint32) *h2Builder {
	b.check(b.fr.WriteGoAway(last, http2.ErrCodeNo, nil))
	return b
}

func (b *h2Builder) push(id, promised uint32, fields ...string) *h2Builder {
	b.check(b.fr.WritePushPromise(http2.PushPromiseParam{StreamID: id, PromiseID: promised, BlockFragment: b.block(fields...), EndHeaders: true}))
	return b
}

func (b *h2Builder) raw(typ http2.FrameType, flags http2.Flags, id uint32, payload []byte) *h2Builder {
	b.check(b.fr.WriteRawFrame(typ, flags, id, payload))
	return b
}

func (b *h2Builder) pingAndWindow() *h2Builder {
	b.check(b.fr.WritePing(false, [8]byte{1, 2, 3}))
	b.check(b.fr.WriteWindowUpdate(0, 1<<20))
	b.check(b.fr.WritePriority(1, http2.PriorityParam{Weight: 3}))
	return b
}

// h2Req and h2Resp are the views of HTTP/2 messages.
func h2Req(method, path string, header ...string) msgView {
	return msgView{Method: method, Target: path, Proto: "2", Authority: "example.com", Scheme: "http", Header: append([]string{}, header...)}
}

func h2Resp(status int, header ...string) msgView {
	return msgView{Status: status, Proto: "2", Header: append([]string{}, header...)}
}

func h2tx(id uint32, request msgView, response ...msgView) txnView {
	v := tx(request, response...)
	v.StreamID = id
	return v
}

func (m msgView) partial() msgView { m.HeadersPartial = true; return m }

func (m msgView) trailer(t ...string) msgView { m.Trailer = t; return m }

func (v txnView) reset(r string) txnView { v.Reset = r; return v }

// reqFields are the pseudo-header fields of a request to example.com.
func reqFields(method, path string, more ...string) []string {
	return append([]string{":method", method, ":scheme", "http", ":authority", "example.com", ":path", path}, more...)
}
