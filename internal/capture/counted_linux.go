//go:build linux && (amd64 || arm64)

package capture

import (
	"errors"
	"time"

	"github.com/cilium/ebpf"
	"go.uber.org/zap"
)

// The wire bytes of a count-only connection (POLICY_COUNT: TLS once its
// hellos were read, anything not HTTP) are counted by the kernel in the
// wire_bytes map instead of sent as an event per syscall (bpf/syscalls.c).
// The handler gets them as count-only Segments (Lost, no Data): every sweep
// for the connections whose count grew, and at the close from the close
// event, which carries the final count.

// countedBatch is how many entries one BPF_MAP_LOOKUP_BATCH reads. It must
// exceed the longest hash bucket, or the kernel answers ENOSPC.
const countedBatch = 256

// readCounted hands over what the kernel counted since the last read. A
// count it has no connection for belongs to one that left the table without
// a close (see forgetConn) or whose close event was lost: the kernel is told
// to forget it.
func (e *Engine) readCounted(now time.Time) {
	if e.countedKeys == nil {
		e.countedKeys = make([]uint64, countedBatch)
		e.countedValues = make([]syscallsWireCount, countedBatch)
	}
	var cursor ebpf.MapBatchCursor
	for {
		n, err := e.objs.WireBytes.BatchLookup(&cursor, e.countedKeys, e.countedValues, nil)
		for i := range n {
			sock, v := e.countedKeys[i], e.countedValues[i]
			total := wireCount{sent: v.Sent, recv: v.Recv}
			switch tr := e.conns.peek(sock); {
			case tr == nil:
				e.forgetInKernel(sock)
			case tr.counted != total:
				e.conns.lookup(sock, now) // active: not idle
				e.deliverCounted(tr, total, now)
			}
		}
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return
		}
		if err != nil {
			// Bounded by the next sweep: what is not read now is read then,
			// or at the close.
			e.log.Debug("reading the kernel's byte counts", zap.Error(err))
			return
		}
	}
}

// deliverCounted hands tr's handler the bytes of the kernel's count total
// it did not have yet. A total below what was handed over would be a count
// the kernel started again: all of it is new.
func (e *Engine) deliverCounted(tr *tracked, total wireCount, now time.Time) {
	if tr.follow {
		if n := newBytes(tr.counted.sent, total.sent); n > 0 {
			e.handler.Data(tr.conn, Segment{Dir: Send, Time: now, Lost: int(n)})
		}
		if n := newBytes(tr.counted.recv, total.recv); n > 0 {
			e.handler.Data(tr.conn, Segment{Dir: Recv, Time: now, Lost: int(n)})
		}
	}
	tr.counted = total
}

func newBytes(had, total uint64) uint64 {
	if total < had {
		return total
	}
	return total - had
}

// forgetConn ends tr's tracking for a reason other than TCP's close: idle,
// the table's bound, its process's exit. A count-only connection gets its
// last count, and the kernel forgets its policy and count: should it still
// be open, it sends events again and is tracked anew, instead of being
// counted where nobody reads.
func (e *Engine) forgetConn(tr *tracked, now time.Time) {
	if tr.countOnly && e.objs.WireBytes != nil {
		var v syscallsWireCount
		if err := e.objs.WireBytes.Lookup(tr.sock, &v); err == nil {
			e.deliverCounted(tr, wireCount{sent: v.Sent, recv: v.Recv}, now)
		}
		e.forgetInKernel(tr.sock)
	}
	e.deliverLost(tr, e.takeLost(tr.sock), now)
	e.closeConn(tr, now)
}

// deliverLost hands tr's handler the wire bytes lost at the end of its
// streams: events the full ring buffer dropped after the last one that got
// through, so that no later event reported them as lost_before.
func (e *Engine) deliverLost(tr *tracked, lost wireCount, now time.Time) {
	if !tr.follow {
		return
	}
	if lost.sent > 0 {
		e.handler.Data(tr.conn, Segment{Dir: Send, Time: now, Lost: int(lost.sent)})
	}
	if lost.recv > 0 {
		e.handler.Data(tr.conn, Segment{Dir: Recv, Time: now, Lost: int(lost.recv)})
	}
}

// takeLost reads and deletes the kernel's record of the wire bytes lost at
// the end of sock's streams, for a connection that ends without a close
// event (which carries them): idle, its process's exit, the table's bound,
// the engine's close, or a close event the full ring buffer dropped. The
// kernel's tally of lost entries (lost_entries) stays higher than the map
// holds, which costs its events a lookup and is otherwise harmless.
func (e *Engine) takeLost(sock uint64) wireCount {
	var lost wireCount
	if e.objs.Lost == nil {
		return lost
	}
	for _, dir := range []Direction{Send, Recv} {
		k := syscallsLostKey{Sock: sock, Dir: uint32(dir)}
		var n uint64
		// Lookup and Delete, not LookupAndDelete: hash maps have the
		// latter from Linux 5.14 only.
		if err := e.objs.Lost.Lookup(&k, &n); err != nil {
			continue // none lost, or the map is closed
		}
		if e.objs.Lost.Delete(&k) != nil {
			continue // a kernel program took it in between, and reported it
		}
		if dir == Send {
			lost.sent = n
		} else {
			lost.recv = n
		}
	}
	return lost
}

// forgetInKernel deletes sock's policy and count.
func (e *Engine) forgetInKernel(sock uint64) {
	if e.policies != nil {
		_ = e.policies.Delete(sock) // gone already: nothing to do
	}
	if e.objs.WireBytes != nil {
		_ = e.objs.WireBytes.Delete(sock)
	}
}
