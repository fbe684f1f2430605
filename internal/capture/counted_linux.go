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

// readCounted hands over what the kernel counted since the last read.
func (e *Engine) readCounted(now time.Time) {
	if e.countedKeys == nil {
		e.countedKeys = make([]uint64, countedBatch)
		e.countedValues = make([]syscallsWireCount, countedBatch)
	}
	var cursor ebpf.MapBatchCursor
	for {
		n, err := e.objs.WireBytes.BatchLookup(&cursor, e.countedKeys, e.countedValues, nil)
		for i := range n {
			if tr := e.conns.peek(e.countedKeys[i]); tr != nil && tr.counted != e.countedValues[i] {
				e.conns.lookup(tr.sock, now) // active: not idle
				e.deliverCounted(tr, e.countedValues[i], now)
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
// it did not have yet.
func (e *Engine) deliverCounted(tr *tracked, total syscallsWireCount, now time.Time) {
	if tr.follow {
		if total.Sent > tr.counted.Sent {
			e.handler.Data(tr.conn, Segment{Dir: Send, Time: now, Lost: int(total.Sent - tr.counted.Sent)})
		}
		if total.Recv > tr.counted.Recv {
			e.handler.Data(tr.conn, Segment{Dir: Recv, Time: now, Lost: int(total.Recv - tr.counted.Recv)})
		}
	}
	tr.counted = total
}
