package capture

import "encoding/binary"

// The first handshake messages of TLS are sent in the clear: the ClientHello
// names the server (SNI) and the ServerHello the version chosen. RFC 8446
// §4.1.2, §4.1.3, §4.2.1; RFC 6066 §3.

const (
	recordHandshake   = 0x16
	handshakeClient   = 1
	handshakeServer   = 2
	extServerName     = 0
	extSupportedVers  = 43
	maxHelloBytes     = 16 << 10 // a hello longer than this is not waited for
	recordHeaderBytes = 5
)

// helloInfo is what a hello said.
type helloInfo struct {
	serverName string // from a ClientHello
	version    string // from a ServerHello: "1.0" ... "1.3"
}

// helloStatus says whether more bytes could complete a hello.
type helloStatus uint8

const (
	helloNeedMore helloStatus = iota
	helloDone                 // parsed: info is valid
	helloNone                 // not a TLS handshake, or malformed: stop looking
)

// parseHello reads a ClientHello or ServerHello from the start of a stream.
func parseHello(b []byte) (helloInfo, helloStatus) {
	if len(b) < recordHeaderBytes {
		if len(b) > 0 && b[0] != recordHandshake {
			return helloInfo{}, helloNone
		}
		return helloInfo{}, helloNeedMore
	}
	if b[0] != recordHandshake || b[1] != 3 {
		return helloInfo{}, helloNone
	}
	// One record holds the hello in practice (its length is bounded by
	// 2^14); a hello split over records is given up on.
	n := int(binary.BigEndian.Uint16(b[3:]))
	if len(b) < recordHeaderBytes+n {
		if recordHeaderBytes+n > maxHelloBytes {
			return helloInfo{}, helloNone
		}
		return helloInfo{}, helloNeedMore
	}
	msg := b[recordHeaderBytes : recordHeaderBytes+n]
	if len(msg) < 4 {
		return helloInfo{}, helloNone
	}
	typ, body := msg[0], msg[4:]
	if l := int(msg[1])<<16 | int(msg[2])<<8 | int(msg[3]); l > len(body) {
		return helloInfo{}, helloNone
	} else {
		body = body[:l]
	}
	r := reader{b: body}
	legacy := r.u16()
	r.skip(32)          // random
	r.skip(int(r.u8())) // legacy_session_id
	var info helloInfo
	switch typ {
	case handshakeClient:
		r.skip(int(r.u16())) // cipher_suites
		r.skip(int(r.u8()))  // legacy_compression_methods
		for ext := range r.extensions() {
			if ext.typ == extServerName {
				info.serverName = serverName(ext.data)
			}
		}
	case handshakeServer:
		r.skip(2) // cipher_suite
		r.skip(1) // legacy_compression_method
		info.version = versionName(legacy)
		for ext := range r.extensions() {
			if ext.typ == extSupportedVers && len(ext.data) == 2 {
				info.version = versionName(binary.BigEndian.Uint16(ext.data))
			}
		}
	default:
		return helloInfo{}, helloNone
	}
	if r.bad {
		return helloInfo{}, helloNone
	}
	return info, helloDone
}

// serverName reads the host_name entry of a server_name extension.
func serverName(b []byte) string {
	r := reader{b: b}
	list := reader{b: r.bytes(int(r.u16()))}
	for !list.bad && len(list.b) > 0 {
		typ := list.u8()
		name := list.bytes(int(list.u16()))
		if typ == 0 && !list.bad {
			return string(name)
		}
	}
	return ""
}

func versionName(v uint16) string {
	switch v {
	case 0x0301:
		return "1.0"
	case 0x0302:
		return "1.1"
	case 0x0303:
		return "1.2"
	case 0x0304:
		return "1.3"
	}
	return ""
}

// reader reads big-endian fields; past the end it reads zeros and sets bad.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) bytes(n int) []byte {
	if n > len(r.b) {
		r.bad = true
		r.b = nil
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) skip(n int) { r.bytes(n) }

func (r *reader) u8() uint8 {
	if b := r.bytes(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if b := r.bytes(2); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

type extension struct {
	typ  uint16
	data []byte
}

// extensions iterates over the extensions block that ends a hello.
func (r *reader) extensions() func(func(extension) bool) {
	return func(yield func(extension) bool) {
		if len(r.b) == 0 {
			return // no extensions: allowed before TLS 1.3
		}
		exts := reader{b: r.bytes(int(r.u16()))}
		for !exts.bad && len(exts.b) > 0 {
			e := extension{typ: exts.u16()}
			e.data = exts.bytes(int(exts.u16()))
			if exts.bad || !yield(e) {
				break
			}
		}
		r.bad = r.bad || exts.bad
	}
}
