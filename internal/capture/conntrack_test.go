package capture

import (
	"testing"
	"time"
)

func newTestConn(pid int) *Conn { return &Conn{Process: &Process{PID: pid}} }

func TestConnTableOverflowDropsLeastRecentlySeen(t *testing.T) {
	tab := newConnTable(2, time.Minute)
	t0 := time.Unix(1000, 0)
	tab.add(1, newTestConn(10), true, t0)
	tab.add(2, newTestConn(10), true, t0.Add(time.Second))
	tab.lookup(1, t0.Add(2*time.Second)) // 2 is now the least recently seen
	dropped := tab.add(3, newTestConn(11), true, t0.Add(3*time.Second))
	if dropped == nil || dropped.sock != 2 {
		t.Fatalf("dropped %+v, want sock 2", dropped)
	}
	if tab.len() != 2 || tab.overflowed != 1 || tab.lookup(2, t0) != nil {
		t.Errorf("table holds %d, overflowed %d; want 2 and 1 without sock 2", tab.len(), tab.overflowed)
	}
}

func TestConnTableExpire(t *testing.T) {
	tab := newConnTable(10, time.Minute)
	t0 := time.Unix(1000, 0)
	for sock := uint64(1); sock <= 3; sock++ {
		tab.add(sock, newTestConn(10), true, t0.Add(time.Duration(sock)*time.Second))
	}
	gone := tab.expire(t0.Add(time.Minute + 2*time.Second)) // socks 1 and 2 are a minute old
	if len(gone) != 2 || gone[0].sock != 1 || gone[1].sock != 2 {
		t.Fatalf("expired %v, want socks 1 and 2 oldest first", gone)
	}
	if tab.len() != 1 {
		t.Errorf("table holds %d, want 1", tab.len())
	}
}

func TestConnTableRemovePID(t *testing.T) {
	tab := newConnTable(10, time.Minute)
	t0 := time.Unix(1000, 0)
	tab.add(1, newTestConn(10), true, t0)
	tab.add(2, newTestConn(11), true, t0)
	tab.add(3, newTestConn(10), true, t0)
	if got := tab.removePID(12); got != nil {
		t.Errorf("a process without connections gave %v", got)
	}
	if got := tab.removePID(10); len(got) != 2 {
		t.Errorf("removed %d connections of pid 10, want 2", len(got))
	}
	if tab.len() != 1 || tab.perPID[10] != 0 || tab.perPID[11] != 1 {
		t.Errorf("table holds %d, per pid %v", tab.len(), tab.perPID)
	}
	if ids := tab.all(); len(ids) != 1 || tab.len() != 0 {
		t.Errorf("all returned %d and left %d", len(ids), tab.len())
	}
}

func TestConnTableIDsAreUnique(t *testing.T) {
	tab := newConnTable(10, time.Minute)
	a := tab.newID()
	tab.add(1, newTestConn(1), true, time.Time{})
	tab.remove(1)
	tab.add(1, newTestConn(1), true, time.Time{}) // the kernel reused the sock
	if b := tab.newID(); a == 0 || a == b {
		t.Errorf("ids %d and %d: want distinct, non-zero", a, b)
	}
}
