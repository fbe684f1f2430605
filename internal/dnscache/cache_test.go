package dnscache

import (
	"net/netip"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)

func answer(name string, ttl time.Duration, ips ...string) Answer {
	a := Answer{Name: name}
	for _, ip := range ips {
		a.Addrs = append(a.Addrs, addr(ip, ttl))
	}
	return a
}

func TestCacheTTL(t *testing.T) {
	c := New(16, 2*time.Second)
	c.Add(answer("db.example", 30*time.Second, "10.0.0.1", "::ffff:10.0.0.2"), t0)
	c.Add(answer("zero.example", 0, "10.0.0.3"), t0)
	ip := netip.MustParseAddr
	tests := []struct {
		ip   string
		at   time.Duration
		want string
	}{
		{"10.0.0.1", 0, "db.example"},
		{"10.0.0.2", 30 * time.Second, "db.example"},        // kept unmapped
		{"::ffff:10.0.0.1", 10 * time.Second, "db.example"}, // looked up unmapped
		{"10.0.0.3", 2 * time.Second, "zero.example"},       // TTL 0 lives minTTL
		{"10.0.0.3", 2*time.Second + 1, ""},
		{"10.0.0.1", 30*time.Second + 1, ""},
		{"10.0.0.9", 0, ""},
	}
	for _, tt := range tests {
		if got := c.Name(ip(tt.ip), t0.Add(tt.at)); got != tt.want {
			t.Errorf("Name(%s) at +%v = %q, want %q", tt.ip, tt.at, got, tt.want)
		}
	}
	if c.Len() != 1 {
		t.Errorf("after the expired lookups %d entries are kept, want 1", c.Len())
	}
	c.Expire(t0.Add(time.Minute))
	if c.Len() != 0 || c.Evicted() != 0 {
		t.Errorf("after Expire: %d entries, %d evicted; want none", c.Len(), c.Evicted())
	}
}

// TestCacheNewerAnswerWins: an address two names answer for is named by the
// latest answer, with its TTL.
func TestCacheNewerAnswerWins(t *testing.T) {
	c := New(16, 0)
	c.Add(answer("a.example", time.Hour, "192.0.2.1"), t0)
	c.Add(answer("b.example", time.Second, "192.0.2.1"), t0.Add(time.Second))
	if got := c.Name(netip.MustParseAddr("192.0.2.1"), t0.Add(2*time.Second)); got != "b.example" {
		t.Errorf("Name = %q, want the newer answer b.example", got)
	}
	if got := c.Name(netip.MustParseAddr("192.0.2.1"), t0.Add(3*time.Second)); got != "" {
		t.Errorf("Name after the newer answer's TTL = %q, want none", got)
	}
}

// TestCacheBound fills the cache past its bound: the oldest answers go
// first, and only those still live are counted as evicted.
func TestCacheBound(t *testing.T) {
	c := New(3, 0)
	c.Add(answer("short.example", time.Second, "192.0.2.1"), t0)
	c.Add(answer("long.example", time.Hour, "192.0.2.2", "192.0.2.3"), t0)
	// Refreshed: now the newest.
	c.Add(answer("short.example", time.Hour, "192.0.2.1"), t0)
	// Evicts 192.0.2.2 and 192.0.2.3, live.
	c.Add(answer("new.example", time.Hour, "192.0.2.4", "192.0.2.5"), t0.Add(time.Minute))
	if c.Len() != 3 || c.Evicted() != 2 {
		t.Fatalf("%d entries, %d evicted; want 3 and 2", c.Len(), c.Evicted())
	}
	now := t0.Add(2 * time.Minute)
	for ip, want := range map[string]string{
		"192.0.2.1": "short.example", "192.0.2.2": "", "192.0.2.3": "",
		"192.0.2.4": "new.example", "192.0.2.5": "new.example",
	} {
		if got := c.Name(netip.MustParseAddr(ip), now); got != want {
			t.Errorf("Name(%s) = %q, want %q", ip, got, want)
		}
	}
	// An expired answer evicted is not counted.
	c = New(1, 0)
	c.Add(answer("a.example", time.Second, "192.0.2.1"), t0)
	c.Add(answer("b.example", time.Second, "192.0.2.2"), t0.Add(time.Minute))
	if c.Evicted() != 0 {
		t.Errorf("evicting an expired answer counted %d", c.Evicted())
	}
}
