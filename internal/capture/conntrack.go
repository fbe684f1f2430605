package capture

import (
	"container/list"
	"time"

	"github.com/ebpftap/ebpftap/internal/dnscache"
)

// connTable tracks the connections the kernel reported, keyed by the
// kernel's struct sock address, in least-recently-seen order so that idle and
// overflow eviction take the oldest first.
type connTable struct {
	max    int
	idle   time.Duration
	bySock map[uint64]*list.Element // of *tracked
	order  list.List                // front: most recently seen
	perPID map[int]int              // open connections per process, to skip the scan on most exits
	nextID uint64

	// recentlyClosed holds socks whose connection TCP closed a moment ago:
	// a read or write that was in flight then still reports afterwards, and
	// must not open a phantom connection. Pruned on every sweep.
	recentlyClosed map[uint64]closedSock
	late           uint64 // events that arrived after their connection closed

	overflowed uint64 // connections closed because the table was full
}

type tracked struct {
	conn     *Conn
	sock     uint64
	follow   bool
	lastSeen time.Time

	// The TLS hellos are looked for at the start of each direction's wire
	// bytes (indexed by Direction). countOnly: the handler wants no more
	// payload; the kernel is told once no hello may still be read.
	hello [3]helloScan
	// dns reads the answers of a DNS server over TCP (port 53) while it
	// wants bytes; nil otherwise. The kernel keeps copying meanwhile.
	dns       *dnscache.Stream
	countOnly bool
	// counted is how much of the kernel's count of the wire bytes (once
	// count-only) the handler was given.
	counted wireCount
	// closing: TCP closed the connection while the process had bytes to
	// read; nil otherwise.
	closing *closing
}

// closing is a connection TCP closed before the process read all it
// received: the side that closes first reaches TCP_CLOSE at the peer's FIN,
// before reading what came with it (a client that half-closed its sending
// side and then reads the answer). Its reads still come, for the same sock
// and ports.
type closing struct {
	at            time.Time // when TCP closed
	unread        int64     // bytes left to read
	local, remote uint16
}

// closedSock is when a sock's connection closed, and its ports: an event on
// the sock with other ports is of a new connection, whose open event the full
// ring buffer dropped, not a late one (a 64 KiB ring buffer under load
// reused a sock so for one of four connections, and dropped all its bytes as
// late).
type closedSock struct {
	at            time.Time
	local, remote uint16
}

// wireCount is the kernel's count of a connection's wire bytes, each way.
type wireCount struct{ sent, recv uint64 }

type helloScan struct {
	done bool
	buf  []byte // the start of the stream, while a hello may still complete
}

// scanningHello reports whether a hello may still be read from the wire.
func (t *tracked) scanningHello() bool { return !t.hello[Send].done || !t.hello[Recv].done }

// readingWire reports whether the engine itself still reads the wire bytes:
// a TLS hello, or DNS answers.
func (t *tracked) readingWire() bool { return t.scanningHello() || t.dns != nil }

func newConnTable(maxConns int, idle time.Duration) *connTable {
	return &connTable{
		max:            maxConns,
		idle:           idle,
		bySock:         make(map[uint64]*list.Element),
		perPID:         make(map[int]int),
		recentlyClosed: make(map[uint64]closedSock),
	}
}

func (t *connTable) len() int { return len(t.bySock) }

// newID returns the next connection id: ids are never reused while the
// table lives, even when the kernel reuses a sock.
func (t *connTable) newID() uint64 {
	t.nextID++
	return t.nextID
}

// lookup returns the connection on sock and marks it seen at now.
func (t *connTable) lookup(sock uint64, now time.Time) *tracked {
	el, ok := t.bySock[sock]
	if !ok {
		return nil
	}
	tr := el.Value.(*tracked)
	tr.lastSeen = now
	t.order.MoveToFront(el)
	return tr
}

// peek returns the connection on sock without marking it seen.
func (t *connTable) peek(sock uint64) *tracked {
	if el, ok := t.bySock[sock]; ok {
		return el.Value.(*tracked)
	}
	return nil
}

// add starts tracking c on sock. It returns the connection the table had to
// drop to stay within its bound, if any.
func (t *connTable) add(sock uint64, c *Conn, follow bool, now time.Time) (dropped *tracked) {
	if len(t.bySock) >= t.max {
		dropped = t.removeElement(t.order.Back())
		t.overflowed++
	}
	delete(t.recentlyClosed, sock)
	tr := &tracked{conn: c, sock: sock, follow: follow, lastSeen: now}
	t.bySock[sock] = t.order.PushFront(tr)
	t.perPID[c.Process.PID]++
	return dropped
}

func (t *connTable) remove(sock uint64) *tracked {
	el, ok := t.bySock[sock]
	if !ok {
		return nil
	}
	return t.removeElement(el)
}

// closed removes the connection TCP closed on sock, between the local and
// remote ports, and remembers the sock for a moment (see recentlyClosed).
func (t *connTable) closed(sock uint64, local, remote uint16, now time.Time) *tracked {
	if len(t.recentlyClosed) < t.max {
		t.recentlyClosed[sock] = closedSock{at: now, local: local, remote: remote}
	}
	return t.remove(sock)
}

// isLate reports whether an event for an untracked sock, between the local
// and remote ports, belongs to a connection that just closed; a new
// connection on the sock clears it.
func (t *connTable) isLate(sock uint64, local, remote uint16) bool {
	c, ok := t.recentlyClosed[sock]
	if !ok {
		return false
	}
	if c.local != local || c.remote != remote {
		delete(t.recentlyClosed, sock) // another connection now
		return false
	}
	t.late++
	return true
}

// forgetClosed prunes recentlyClosed of socks closed before cutoff.
func (t *connTable) forgetClosed(cutoff time.Time) {
	for sock, c := range t.recentlyClosed {
		if c.at.Before(cutoff) {
			delete(t.recentlyClosed, sock)
		}
	}
}

func (t *connTable) removeElement(el *list.Element) *tracked {
	tr := t.order.Remove(el).(*tracked)
	delete(t.bySock, tr.sock)
	pid := tr.conn.Process.PID
	if t.perPID[pid]--; t.perPID[pid] <= 0 {
		delete(t.perPID, pid)
	}
	return tr
}

// expire removes and returns the connections silent since before now-idle.
func (t *connTable) expire(now time.Time) []*tracked {
	var out []*tracked
	for el := t.order.Back(); el != nil; el = t.order.Back() {
		if now.Sub(el.Value.(*tracked).lastSeen) < t.idle {
			break
		}
		out = append(out, t.removeElement(el))
	}
	return out
}

// removePID removes and returns the connections of a process that exited:
// the kernel closes their fds without a close syscall.
func (t *connTable) removePID(pid int) []*tracked {
	if t.perPID[pid] == 0 {
		return nil
	}
	var out []*tracked
	for el := t.order.Front(); el != nil; {
		next := el.Next()
		if el.Value.(*tracked).conn.Process.PID == pid {
			out = append(out, t.removeElement(el))
		}
		el = next
	}
	return out
}

// all removes and returns every connection, for shutdown.
func (t *connTable) all() []*tracked {
	var out []*tracked
	for el := t.order.Front(); el != nil; el = t.order.Front() {
		out = append(out, t.removeElement(el))
	}
	return out
}
