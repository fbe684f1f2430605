// Package dnscache reads DNS responses a process received and keeps, for a
// while, the name each address was the answer to, so that a connection to
// the address can be named by what the client asked for. It knows nothing of
// BPF, connections or OpenTelemetry: messages in, names out.
//
// Messages come from capture, cut to a bound and from any process: the
// parser never reads outside the message, never follows a compression
// pointer forwards (so never loops), and keeps the records it read whole
// when the message is cut short.
package dnscache

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"strings"
	"time"
)

// Errors of Parse. A message cut inside its answers is not an error: the
// records before the cut are kept (Answer.Truncated).
var (
	ErrShort       = errors.New("dnscache: message shorter than its header and question")
	ErrNotResponse = errors.New("dnscache: not a response to a standard query")
	ErrFailed      = errors.New("dnscache: the server answered with an error")
	ErrBadName     = errors.New("dnscache: malformed name")
)

// Record types and the class this package reads (RFC 1035 section 3.2.2,
// RFC 3596 section 2.1).
const (
	typeA     = 1
	typeCNAME = 5
	typeAAAA  = 28
	classIN   = 1
)

const (
	headerLen = 12
	// maxName is the longest name on the wire (RFC 1035 section 2.3.4:
	// 255 octets, length bytes included).
	maxName = 255
	// maxChain bounds how many CNAMEs are followed from the question's
	// name: resolvers give up far sooner (BIND follows 16).
	maxChain = 16
	// maxAddrs bounds the addresses taken from one message.
	maxAddrs = 64
)

// Answer is what one DNS response says of the name its client asked for.
type Answer struct {
	// Name is the question's name, lower case, without the final dot.
	Name string
	// Addrs are the addresses Name resolves to, through any chain of
	// CNAMEs the response carries.
	Addrs []Address
	// Truncated is set when the message ended inside its records, cut by
	// the capture's bound or the server's TC bit: Addrs holds the records
	// read whole.
	Truncated bool
}

// Address is one address of an Answer and how long it may be cached: the
// smallest TTL along the CNAME chain that led to it (RFC 1035 section
// 3.2.1: the TTL bounds how long a record may be cached).
type Address struct {
	IP  netip.Addr
	TTL time.Duration
}

// record is one resource record of the answer section that matters here.
type record struct {
	owner  string
	rrtype uint16
	ttl    uint32
	target string     // CNAME
	ip     netip.Addr // A, AAAA
}

// Parse reads a DNS response (RFC 1035 section 4.1) as received over UDP,
// or over TCP without its two-byte length. Only a successful answer to a
// standard query for one name gives addresses.
func Parse(msg []byte) (Answer, error) {
	if len(msg) < headerLen {
		return Answer{}, ErrShort
	}
	flags := binary.BigEndian.Uint16(msg[2:])
	qdcount := binary.BigEndian.Uint16(msg[4:])
	ancount := binary.BigEndian.Uint16(msg[6:])
	// QR set, OPCODE 0 (QUERY), one question (RFC 1035 section 4.1.1).
	if flags&0x8000 == 0 || (flags>>11)&0xf != 0 || qdcount != 1 {
		return Answer{}, ErrNotResponse
	}
	if rcode := flags & 0xf; rcode != 0 {
		return Answer{}, ErrFailed
	}
	qname, off, err := readName(msg, headerLen)
	if err != nil {
		return Answer{}, err
	}
	if off+4 > len(msg) {
		return Answer{}, ErrShort
	}
	off += 4 // QTYPE, QCLASS
	a := Answer{Name: qname, Truncated: flags&0x0200 != 0}

	records := make([]record, 0, min(int(ancount), maxAddrs+maxChain))
	for range ancount {
		r, next, ok := readRecord(msg, off)
		if !ok {
			a.Truncated = true
			break
		}
		off = next
		if r.rrtype != 0 && len(records) < cap(records) {
			records = append(records, r)
		}
	}
	a.Addrs = follow(qname, records)
	return a, nil
}

// follow returns the addresses of name in records, through CNAMEs.
func follow(name string, records []record) []Address {
	var addrs []Address
	ttl := uint32(1<<32 - 1)
	for range maxChain + 1 {
		next := ""
		for _, r := range records {
			if r.owner != name {
				continue
			}
			switch r.rrtype {
			case typeA, typeAAAA:
				if len(addrs) < maxAddrs {
					addrs = append(addrs, Address{IP: r.ip, TTL: time.Duration(min(ttl, r.ttl)) * time.Second})
				}
			case typeCNAME:
				if next == "" {
					next, ttl = r.target, min(ttl, r.ttl)
				}
			}
		}
		// An alias has no other data (RFC 1034 section 3.6.2): addresses
		// end the chain.
		if next == "" || len(addrs) > 0 {
			break
		}
		name = next
	}
	return addrs
}

// readRecord reads the resource record at off. ok is false when the message
// ends inside it. A record of another type or class, or whose data do not
// fit its type, comes back with rrtype 0.
func readRecord(msg []byte, off int) (r record, next int, ok bool) {
	owner, off, err := readName(msg, off)
	if err != nil || off+10 > len(msg) {
		return record{}, 0, false
	}
	rrtype := binary.BigEndian.Uint16(msg[off:])
	class := binary.BigEndian.Uint16(msg[off+2:])
	ttl := binary.BigEndian.Uint32(msg[off+4:])
	rdlen := int(binary.BigEndian.Uint16(msg[off+8:]))
	rdata := off + 10
	next = rdata + rdlen
	if next > len(msg) {
		return record{}, 0, false
	}
	// RFC 2181 section 8: a TTL with the top bit set is taken as 0.
	if ttl > 1<<31-1 {
		ttl = 0
	}
	r = record{owner: owner, ttl: ttl}
	if class != classIN {
		return record{}, next, true
	}
	switch {
	case rrtype == typeA && rdlen == 4:
		r.rrtype, r.ip = typeA, netip.AddrFrom4([4]byte(msg[rdata:next]))
	case rrtype == typeAAAA && rdlen == 16:
		r.rrtype, r.ip = typeAAAA, netip.AddrFrom16([16]byte(msg[rdata:next])).Unmap()
	case rrtype == typeCNAME:
		target, end, err := readName(msg[:next], rdata)
		if err != nil || end != next {
			return record{}, next, true
		}
		r.rrtype, r.target = typeCNAME, target
	}
	return r, next, true
}

// readName reads the domain name at off (RFC 1035 section 4.1.4), lower
// case and without the final dot, and returns the offset after it where it
// is stored. A compression pointer must point before the pointer itself,
// which bounds the walk and rules out loops. Labels are taken as host names
// are written: printable ASCII without dots or spaces, anything else is
// ErrBadName.
func readName(msg []byte, off int) (string, int, error) {
	var b strings.Builder
	end := -1    // where the name ends in place: after its first pointer
	wire := 0    // the name's length on the wire, as RFC 1035 bounds it
	limit := off // a pointer must point before this
	for {
		if off >= len(msg) {
			return "", 0, ErrBadName
		}
		n := int(msg[off])
		switch n & 0xc0 {
		case 0x00:
			if n == 0 {
				if end < 0 {
					end = off + 1
				}
				return b.String(), end, nil
			}
			wire += 1 + n
			if wire+1 > maxName || off+1+n > len(msg) {
				return "", 0, ErrBadName
			}
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			for _, c := range msg[off+1 : off+1+n] {
				if c <= ' ' || c >= 0x7f || c == '.' {
					return "", 0, ErrBadName
				}
				if 'A' <= c && c <= 'Z' {
					c += 'a' - 'A'
				}
				b.WriteByte(c)
			}
			off += 1 + n
		case 0xc0:
			if off+2 > len(msg) {
				return "", 0, ErrBadName
			}
			ptr := int(binary.BigEndian.Uint16(msg[off:]) & 0x3fff)
			if ptr >= limit {
				return "", 0, ErrBadName
			}
			if end < 0 {
				end = off + 2
			}
			off, limit = ptr, ptr
		default: // 0x40 and 0x80: reserved label types (RFC 6891 section 5)
			return "", 0, ErrBadName
		}
	}
}
