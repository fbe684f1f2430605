package dnscache

import (
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// rr is a record for build: A or AAAA when ip is set, else a CNAME.
type rr struct {
	owner  string
	ttl    uint32
	ip     string
	target string
}

// build encodes a response to a query for name with the real encoder of
// golang.org/x/net, names compressed as servers send them.
func build(t testing.TB, hdr dnsmessage.Header, name string, qtype dnsmessage.Type, answers ...rr) []byte {
	t.Helper()
	hdr.Response = true
	b := dnsmessage.NewBuilder(nil, hdr)
	b.EnableCompression()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(b.StartQuestions())
	must(b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(name), Type: qtype, Class: dnsmessage.ClassINET}))
	must(b.StartAnswers())
	for _, a := range answers {
		h := dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName(a.owner), Class: dnsmessage.ClassINET, TTL: a.ttl}
		switch ip := netip.MustParseAddr(orZero(a.ip)); {
		case a.ip == "":
			must(b.CNAMEResource(h, dnsmessage.CNAMEResource{CNAME: dnsmessage.MustNewName(a.target)}))
		case ip.Is4():
			must(b.AResource(h, dnsmessage.AResource{A: ip.As4()}))
		default:
			must(b.AAAAResource(h, dnsmessage.AAAAResource{AAAA: ip.As16()}))
		}
	}
	msg, err := b.Finish()
	must(err)
	return msg
}

func orZero(ip string) string {
	if ip == "" {
		return "0.0.0.0"
	}
	return ip
}

func addr(ip string, ttl time.Duration) Address {
	return Address{IP: netip.MustParseAddr(ip), TTL: ttl}
}

func TestParse(t *testing.T) {
	ok := dnsmessage.Header{RecursionDesired: true, RecursionAvailable: true}
	tests := []struct {
		name string
		msg  []byte
		want Answer
		err  error
	}{{
		name: "A",
		msg:  build(t, ok, "db.example.com.", dnsmessage.TypeA, rr{owner: "db.example.com.", ttl: 300, ip: "10.1.2.3"}, rr{owner: "db.example.com.", ttl: 60, ip: "10.1.2.4"}),
		want: Answer{Name: "db.example.com", Addrs: []Address{addr("10.1.2.3", 300*time.Second), addr("10.1.2.4", 60*time.Second)}},
	}, {
		name: "AAAA",
		msg:  build(t, ok, "v6.example.com.", dnsmessage.TypeAAAA, rr{owner: "v6.example.com.", ttl: 30, ip: "2001:db8::1"}),
		want: Answer{Name: "v6.example.com", Addrs: []Address{addr("2001:db8::1", 30*time.Second)}},
	}, {
		// The name is the one asked for, not the aliases', and the
		// address is cached no longer than any link of the chain.
		name: "CNAME chain",
		msg: build(t, ok, "www.Example.COM.", dnsmessage.TypeA,
			rr{owner: "www.example.com.", ttl: 3600, target: "edge.cdn.net."},
			rr{owner: "edge.cdn.net.", ttl: 20, target: "e1.cdn.net."},
			rr{owner: "e1.cdn.net.", ttl: 120, ip: "192.0.2.7"}),
		want: Answer{Name: "www.example.com", Addrs: []Address{addr("192.0.2.7", 20*time.Second)}},
	}, {
		name: "records of other names",
		msg:  build(t, ok, "a.example.", dnsmessage.TypeA, rr{owner: "b.example.", ttl: 5, ip: "192.0.2.1"}),
		want: Answer{Name: "a.example"},
	}, {
		name: "CNAME loop",
		msg: build(t, ok, "a.example.", dnsmessage.TypeA,
			rr{owner: "a.example.", ttl: 5, target: "b.example."},
			rr{owner: "b.example.", ttl: 5, target: "a.example."}),
		want: Answer{Name: "a.example"},
	}, {
		name: "truncated by the server",
		msg:  build(t, dnsmessage.Header{Truncated: true}, "big.example.", dnsmessage.TypeA),
		want: Answer{Name: "big.example", Truncated: true},
	}, {
		name: "NXDOMAIN",
		msg:  build(t, dnsmessage.Header{RCode: dnsmessage.RCodeNameError}, "nope.example.", dnsmessage.TypeA),
		err:  ErrFailed,
	}, {
		name: "a query",
		msg:  query(t, "db.example.com."),
		err:  ErrNotResponse,
	}, {
		name: "short",
		msg:  []byte{0, 1, 0x81, 0x80},
		err:  ErrShort,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.msg)
			if !errors.Is(err, tt.err) {
				t.Fatalf("Parse error %v, want %v", err, tt.err)
			}
			if got.Name != tt.want.Name || got.Truncated != tt.want.Truncated || !slices.Equal(got.Addrs, tt.want.Addrs) {
				t.Errorf("Parse = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func query(t *testing.T, name string) []byte {
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 7, RecursionDesired: true})
	if err := b.StartQuestions(); err != nil {
		t.Fatal(err)
	}
	if err := b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(name), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}); err != nil {
		t.Fatal(err)
	}
	msg, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// TestParseCut cuts a response at every length, as the capture's bound may:
// short of the question it is an error; past it, exactly the records read
// whole are kept.
func TestParseCut(t *testing.T) {
	msg := build(t, dnsmessage.Header{}, "svc.example.", dnsmessage.TypeA,
		rr{owner: "svc.example.", ttl: 10, target: "node.example."},
		rr{owner: "node.example.", ttl: 10, ip: "192.0.2.1"},
		rr{owner: "node.example.", ttl: 10, ip: "192.0.2.2"})
	full, err := Parse(msg)
	if err != nil || len(full.Addrs) != 2 {
		t.Fatalf("Parse of the whole message = %+v, %v", full, err)
	}
	// The second A record is the last 16 bytes (a pointer to its owner,
	// type, class, TTL, length and 4 bytes of address).
	for n := range len(msg) {
		got, err := Parse(msg[:n])
		switch {
		case err != nil:
			if got.Name != "" || got.Addrs != nil {
				t.Errorf("cut at %d: error %v with %+v", n, err, got)
			}
		case !got.Truncated:
			t.Errorf("cut at %d of %d: not marked truncated", n, len(msg))
		case n >= len(msg)-16 && !slices.Equal(got.Addrs, full.Addrs[:1]):
			t.Errorf("cut at %d, inside the last record: %v, want the first address", n, got.Addrs)
		case n < len(msg)-16 && len(got.Addrs) != 0:
			t.Errorf("cut at %d, before the last record: %v", n, got.Addrs)
		}
	}
}

// TestParseBadPointers hand-writes compression pointers no encoder makes:
// one to itself, one forwards, and two pointing at each other.
func TestParseBadPointers(t *testing.T) {
	header := []byte{0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0}
	tests := map[string][]byte{
		"to itself":        append(slices.Clone(header), 0xc0, 12, 0, 1, 0, 1),
		"forwards":         append(slices.Clone(header), 0xc0, 14, 1, 'a', 0, 0, 1, 0, 1),
		"reserved label":   append(slices.Clone(header), 0x40, 0, 0, 1, 0, 1),
		"label past end":   append(slices.Clone(header), 9, 'a'),
		"label with a dot": append(slices.Clone(header), 3, 'a', '.', 'b', 0, 0, 1, 0, 1),
		"each other": append(slices.Clone(header),
			1, 'a', 0xc0, 20, 0, 1, 0, 1, // question a.<ptr to 20>
			1, 'b', 0xc0, 14), // at 18: b.<ptr to 14, the question's pointer>
	}
	for name, msg := range tests {
		t.Run(name, func(t *testing.T) {
			if got, err := Parse(msg); !errors.Is(err, ErrBadName) && !errors.Is(err, ErrShort) {
				t.Errorf("Parse = %+v, %v; want a bad name", got, err)
			}
		})
	}
}

// TestParseNameTooLong builds a name of 128 one-letter labels out of
// pointers, each adding a label to the one before: longer than 255 octets
// (RFC 1035 section 2.3.4), while 127 labels fit.
func TestParseNameTooLong(t *testing.T) {
	msg := []byte{0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0}
	prev := -1
	for range 128 {
		at := len(msg)
		msg = append(msg, 1, 'x')
		if prev < 0 {
			msg = append(msg, 0)
		} else {
			msg = append(msg, 0xc0|byte(prev>>8), byte(prev))
		}
		prev = at
	}
	// A pointer to the last name, as an answer's owner would be.
	msg = append(msg, 0xc0|byte(prev>>8), byte(prev))
	if _, _, err := readName(msg, len(msg)-2); !errors.Is(err, ErrBadName) {
		t.Errorf("readName of a 128-label name: %v, want ErrBadName", err)
	}
	if name, _, err := readName(msg, prev-4); err != nil || len(name) != 253 {
		t.Errorf("readName of a 127-label name: %d bytes, %v; want 253 bytes", len(name), err)
	}
}

// TestParseRecorded reads a response as bytes, as dnsmessage encoded it
// (the seed corpus's cname): names compressed, a chain of two CNAMEs.
func TestParseRecorded(t *testing.T) {
	msg := []byte("\x124\x81\x80\x00\x01\x00\x04\x00\x00\x00\x00\x03www\aexample\x03com\x00\x00\x01\x00\x01" +
		"\xc0\f\x00\x05\x00\x01\x00\x00\x0e\x10\x00\x16\x04edge\x03cdn\aexample\x03net\x00" +
		"\xc0-\x00\x05\x00\x01\x00\x00\x00\x14\x00\x05\x02e1\xc02" +
		"\xc0O\x00\x01\x00\x01\x00\x00\x00x\x00\x04\xc0\x00\x02\a" +
		"\xc0O\x00\x01\x00\x01\x00\x00\x00x\x00\x04\xc0\x00\x02\b")
	got, err := Parse(msg)
	want := []Address{addr("192.0.2.7", 20*time.Second), addr("192.0.2.8", 20*time.Second)}
	if err != nil || got.Name != "www.example.com" || got.Truncated || !slices.Equal(got.Addrs, want) {
		t.Errorf("Parse = %+v, %v; want www.example.com at %v", got, err, want)
	}
}
