//go:build linux && (amd64 || arm64)

package capture

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
	"unsafe"
)

// The C structs in bpf/headers/events.h and their bpf2go mirrors must agree;
// a field added in C without regenerating would shift everything after it.
func TestEventLayouts(t *testing.T) {
	for _, tc := range []struct {
		name      string
		got, want uintptr
	}{
		{"conn_tuple", unsafe.Sizeof(syscallsConnTuple{}), 40},
		{"event_header", unsafe.Sizeof(syscallsEventHeader{}), 72},
		{"data_event header", uintptr(dataHeaderSize), 88},
		{"data_event", unsafe.Sizeof(syscallsDataEvent{}), 88 + 16384},
		{"exec_event", unsafe.Sizeof(syscallsExecEvent{}), 72 + 24 + 256 + 1024},
		{"tls_bind_event", unsafe.Sizeof(syscallsTlsBindEvent{}), 72 + 8},
		{"lib_open_event", unsafe.Sizeof(syscallsLibOpenEvent{}), 72 + 8 + 256},
		{"dns_event", unsafe.Sizeof(syscallsDnsEvent{}), 72 + 8 + 1232},
		{"close_event", unsafe.Sizeof(syscallsCloseEvent{}), 72 + 16 + 16},
		// decodeData reads these by offset.
		{"data_event.len", offLen, 72},
		{"data_event.copied", offCopied, 76},
		{"data_event.lost_before", offLostBefore, 80},
		{"data_event.lost_peer", offLostPeer, 84},
	} {
		if tc.got != tc.want {
			t.Errorf("sizeof(%s) = %d, want %d", tc.name, tc.got, tc.want)
		}
	}
}

// dataRecordBytes builds an EVENT_DATA record the way the kernel lays it out.
func dataRecordBytes(len_, copied, lostBefore uint32, data []byte, room int) []byte {
	b := make([]byte, dataHeaderSize+room)
	b[0] = byte(syscallsEventKindEVENT_DATA)
	binary.NativeEndian.PutUint32(b[headerSize:], len_)
	binary.NativeEndian.PutUint32(b[headerSize+4:], copied)
	binary.NativeEndian.PutUint32(b[headerSize+8:], lostBefore)
	copy(b[dataHeaderSize:], data)
	return b
}

func TestDecodeData(t *testing.T) {
	rec := dataRecordBytes(100, 5, 7, []byte("hello"), 256)
	d, err := decodeData(rec)
	if err != nil {
		t.Fatal(err)
	}
	if d.len != 100 || d.lostBefore != 7 || string(d.data) != "hello" {
		t.Errorf("decoded %+v", d)
	}
	for name, bad := range map[string][]byte{
		"short":              rec[:dataHeaderSize-1],
		"copied beyond room": dataRecordBytes(1000, 300, 0, nil, 256),
		"copied beyond len":  dataRecordBytes(3, 5, 0, []byte("hello"), 256),
	} {
		if _, err := decodeData(bad); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
	if _, err := decodeHeader(rec[:10]); !errors.Is(err, errShortRecord) {
		t.Errorf("a 10-byte record gave %v, want errShortRecord", err)
	}
}

func TestTupleAddrs(t *testing.T) {
	v4 := syscallsConnTuple{Family: afInet, Sport: 40000, Dport: 80}
	copy(v4.Saddr[:], []byte{127, 0, 0, 1})
	copy(v4.Daddr[:], []byte{10, 1, 2, 3})
	mapped := syscallsConnTuple{Family: 10, Sport: 8080, Dport: 50000}
	mapped.Saddr = netip.MustParseAddr("::ffff:127.0.0.1").As16()
	mapped.Daddr = netip.MustParseAddr("::1").As16()
	for _, tc := range []struct {
		tuple         syscallsConnTuple
		local, remote string
	}{
		{v4, "127.0.0.1:40000", "10.1.2.3:80"},
		{mapped, "127.0.0.1:8080", "[::1]:50000"},
	} {
		l, r := tc.tuple.addrs()
		if l.String() != tc.local || r.String() != tc.remote {
			t.Errorf("addrs = %s, %s; want %s, %s", l, r, tc.local, tc.remote)
		}
	}
}
