package dnscache

import (
	"encoding/binary"
	"slices"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// TestStream feeds two length-prefixed responses byte by byte and in one
// piece: both come out whole, and a loss ends the stream.
func TestStream(t *testing.T) {
	a := build(t, dnsmessage.Header{}, "a.example.", dnsmessage.TypeA, rr{owner: "a.example.", ttl: 5, ip: "192.0.2.1"})
	b := build(t, dnsmessage.Header{}, "b.example.", dnsmessage.TypeA, rr{owner: "b.example.", ttl: 5, ip: "192.0.2.2"})
	var wire []byte
	for _, m := range [][]byte{a, b} {
		wire = binary.BigEndian.AppendUint16(wire, uint16(len(m)))
		wire = append(wire, m...)
	}
	for _, step := range []int{1, 3, len(wire)} {
		var s Stream
		var names []string
		for i := 0; i < len(wire); i += step {
			if !s.Write(wire[i:min(i+step, len(wire))], 0, func(msg []byte) {
				ans, err := Parse(msg)
				if err != nil {
					t.Fatalf("step %d: %v", step, err)
				}
				names = append(names, ans.Name)
			}) {
				t.Fatalf("step %d: the stream stopped at %d", step, i)
			}
		}
		if want := []string{"a.example", "b.example"}; !slices.Equal(names, want) {
			t.Errorf("step %d: messages %v, want %v", step, names, want)
		}
		if s.Write(wire[:1], 5, func([]byte) {}) {
			t.Errorf("step %d: the stream wants more after a loss", step)
		}
	}
	var s Stream
	big := make([]byte, maxStreamBytes+1)
	if s.Write(big, 0, func([]byte) { t.Error("a message out of zeros") }) {
		t.Error("the stream wants more past its bound")
	}
}
