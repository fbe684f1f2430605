//go:build linux && (amd64 || arm64)

package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"unsafe"
)

// The kernel's record layouts, from bpf/headers/events.h through bpf2go.
const (
	headerSize     = int(unsafe.Sizeof(syscallsEventHeader{}))
	maxChunk       = len(syscallsDataEvent{}.Data)
	dataHeaderSize = int(unsafe.Sizeof(syscallsDataEvent{})) - maxChunk
	execSize       = int(unsafe.Sizeof(syscallsExecEvent{}))
	bindSize       = int(unsafe.Sizeof(syscallsTlsBindEvent{}))
	libOpenSize    = int(unsafe.Sizeof(syscallsLibOpenEvent{}))
	closeSize      = int(unsafe.Sizeof(syscallsCloseEvent{}))
	dnsSize        = int(unsafe.Sizeof(syscallsDnsEvent{}))

	offLen        = unsafe.Offsetof(syscallsDataEvent{}.Len)
	offCopied     = unsafe.Offsetof(syscallsDataEvent{}.Copied)
	offLostBefore = unsafe.Offsetof(syscallsDataEvent{}.LostBefore)
	offLostPeer   = unsafe.Offsetof(syscallsDataEvent{}.LostPeer)
)

var errShortRecord = errors.New("capture: ring buffer record too short")

// decodeHeader returns the header every record starts with, without copying.
func decodeHeader(b []byte) (*syscallsEventHeader, error) {
	if len(b) < headerSize {
		return nil, fmt.Errorf("%w: %d bytes, header needs %d", errShortRecord, len(b), headerSize)
	}
	return (*syscallsEventHeader)(unsafe.Pointer(&b[0])), nil
}

// dataRecord is the variable part of an EVENT_DATA record.
type dataRecord struct {
	len        uint32 // stream bytes the event stands for
	lostBefore uint32 // stream bytes lost before this event
	lostPeer   uint32 // bytes of the other direction's stream lost before this event
	data       []byte // the copied prefix, aliasing the record
}

// decodeData reads the fields after the header. Records are shorter than
// syscallsDataEvent (the kernel reserves only room for what it copied), so
// the fields are read by offset rather than by casting the whole struct.
func decodeData(b []byte) (dataRecord, error) {
	if len(b) < dataHeaderSize {
		return dataRecord{}, fmt.Errorf("%w: %d bytes, data event needs %d", errShortRecord, len(b), dataHeaderSize)
	}
	r := dataRecord{
		len:        binary.NativeEndian.Uint32(b[offLen:]),
		lostBefore: binary.NativeEndian.Uint32(b[offLostBefore:]),
		lostPeer:   binary.NativeEndian.Uint32(b[offLostPeer:]),
	}
	copied := int(binary.NativeEndian.Uint32(b[offCopied:]))
	if copied > len(b)-dataHeaderSize || uint32(copied) > r.len {
		return dataRecord{}, fmt.Errorf("capture: data event claims %d copied bytes of %d in a %d-byte record", copied, r.len, len(b))
	}
	r.data = b[dataHeaderSize : dataHeaderSize+copied]
	return r, nil
}

// closeInfo is what a close event says beyond its header.
type closeInfo struct {
	counted wireCount // the wire bytes the kernel counted (POLICY_COUNT), in all
	lost    wireCount // bytes each way lost at the end of the streams
	unread  uint32    // bytes received that the process had not read yet
}

func decodeClose(b []byte) (closeInfo, error) {
	if len(b) < closeSize {
		return closeInfo{}, fmt.Errorf("%w: %d bytes, close event needs %d", errShortRecord, len(b), closeSize)
	}
	e := (*syscallsCloseEvent)(unsafe.Pointer(&b[0]))
	return closeInfo{
		counted: wireCount{sent: e.CountedSent, recv: e.CountedRecv},
		lost:    wireCount{sent: uint64(e.LostSent), recv: uint64(e.LostRecv)},
		unread:  e.Unread,
	}, nil
}

// decodeDNS returns the DNS message an EVENT_DNS record carries, aliasing
// the record, and how many bytes of it were not copied.
func decodeDNS(b []byte) (msg []byte, cut int, err error) {
	if len(b) < dnsSize {
		return nil, 0, fmt.Errorf("%w: %d bytes, DNS event needs %d", errShortRecord, len(b), dnsSize)
	}
	e := (*syscallsDnsEvent)(unsafe.Pointer(&b[0]))
	if e.Copied > e.Len || int(e.Copied) > len(e.Data) {
		return nil, 0, fmt.Errorf("capture: DNS event claims %d copied bytes of %d", e.Copied, e.Len)
	}
	return e.Data[:e.Copied], int(e.Len - e.Copied), nil
}

func decodeBind(b []byte) (ssl uint64, err error) {
	if len(b) < bindSize {
		return 0, fmt.Errorf("%w: %d bytes, TLS bind event needs %d", errShortRecord, len(b), bindSize)
	}
	return (*syscallsTlsBindEvent)(unsafe.Pointer(&b[0])).Ssl, nil
}

func decodeLibOpen(b []byte) (string, error) {
	if len(b) < libOpenSize {
		return "", fmt.Errorf("%w: %d bytes, library open event needs %d", errShortRecord, len(b), libOpenSize)
	}
	e := (*syscallsLibOpenEvent)(unsafe.Pointer(&b[0]))
	path := unsafe.Slice((*byte)(unsafe.Pointer(&e.Path[0])), min(int(e.PathLen), len(e.Path)))
	return string(path), nil
}

func decodeExec(b []byte) (execInfo, error) {
	if len(b) < execSize {
		return execInfo{}, fmt.Errorf("%w: %d bytes, exec event needs %d", errShortRecord, len(b), execSize)
	}
	e := (*syscallsExecEvent)(unsafe.Pointer(&b[0]))
	// The kernel's char arrays come out of bpf2go as int8.
	name := unsafe.Slice((*byte)(unsafe.Pointer(&e.Filename[0])), min(int(e.FilenameLen), len(e.Filename)))
	args := unsafe.Slice((*byte)(unsafe.Pointer(&e.Args[0])), min(int(e.ArgsLen), len(e.Args)))
	return execInfo{
		pid:       int(e.Hdr.Pid),
		ppid:      int(e.Ppid),
		uid:       e.Uid,
		startTime: e.StartBoottimeNs / 1e7, // USER_HZ is 100 on Linux: ns to clock ticks
		filename:  string(name),
		args:      splitNUL(args),
	}, nil
}

// addrs returns the local and remote ends of the tuple; IPv4 peers of IPv6
// sockets (::ffff:a.b.c.d) come back as IPv4.
func (t *syscallsConnTuple) addrs() (local, remote netip.AddrPort) {
	if t.Family == afInet {
		local = netip.AddrPortFrom(netip.AddrFrom4([4]byte(t.Saddr[:4])), t.Sport)
		remote = netip.AddrPortFrom(netip.AddrFrom4([4]byte(t.Daddr[:4])), t.Dport)
		return local, remote
	}
	local = netip.AddrPortFrom(netip.AddrFrom16(t.Saddr).Unmap(), t.Sport)
	remote = netip.AddrPortFrom(netip.AddrFrom16(t.Daddr).Unmap(), t.Dport)
	return local, remote
}

const afInet = 2
