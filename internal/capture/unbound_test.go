package capture

import (
	"testing"
	"time"
)

func TestUnboundPlaintext(t *testing.T) {
	u := newUnboundPlaintext(10)
	k := unboundKey{pid: 1, object: 0xabc}
	t0 := time.Unix(1000, 0)
	u.hold(k, Segment{Dir: Send, Time: t0, Data: []byte("hello")})
	u.hold(k, Segment{Dir: Send, Time: t0, Data: []byte("world!")}) // over the 10-byte bound
	u.hold(unboundKey{pid: 2, object: 1}, Segment{Dir: Send, Time: t0, Data: []byte("x")})

	got := u.take(k)
	if len(got) != 2 || string(got[0].Data) != "hello" || got[1].Data != nil || got[1].Lost != 6 {
		t.Fatalf("took %+v; want hello, then 6 bytes held as lost", got)
	}
	if u.dropped != 1 || u.bytes != 1 || u.segments != 1 {
		t.Errorf("dropped %d, holding %d bytes in %d segments; want 1, 1, 1", u.dropped, u.bytes, u.segments)
	}
	if u.take(k) != nil {
		t.Error("a second take returned segments")
	}
	u.expire(t0.Add(time.Second))
	if u.bytes != 0 || u.segments != 0 || u.dropped != 2 || len(u.byObject) != 0 {
		t.Errorf("after expiry: %d bytes, %d segments, %d dropped", u.bytes, u.segments, u.dropped)
	}
	u.hold(unboundKey{pid: 3, object: 1}, Segment{Dir: Send, Time: t0, Data: []byte("y")})
	u.forget(3)
	if u.bytes != 0 || u.dropped != 3 {
		t.Errorf("after the process exited: %d bytes held, %d dropped", u.bytes, u.dropped)
	}
}
