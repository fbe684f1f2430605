package dnscache

import (
	"container/list"
	"net/netip"
	"time"
)

// Cache maps addresses to the name they were the answer to, for as long as
// the answer's TTL lets a client use it, and holds at most a fixed number of
// addresses. Time is given by the caller, so tests need no clock. Not safe
// for concurrent use.
//
// One host-wide map, not one per process: a process that asks through a
// cache of its own (nscd) sends no DNS, and the names others asked for still
// name its connections. When two names answer for one address (a CDN), the
// newer answer wins.
type Cache struct {
	max    int
	minTTL time.Duration
	byIP   map[netip.Addr]*list.Element // of *entry
	order  list.List                    // front: the entry added or refreshed longest ago
	// evicted counts entries dropped, still live, to make room.
	evicted uint64
}

type entry struct {
	ip      netip.Addr
	name    string
	expires time.Time
}

// New returns a Cache of at most maxEntries addresses. Every answer is kept
// for at least minTTL, whatever its TTL: an answer with TTL 0 is still the
// name of the connection its client opens right after it.
func New(maxEntries int, minTTL time.Duration) *Cache {
	return &Cache{max: max(maxEntries, 1), minTTL: minTTL, byIP: make(map[netip.Addr]*list.Element)}
}

// Add keeps the addresses of a, received at now.
func (c *Cache) Add(a Answer, now time.Time) {
	if a.Name == "" {
		return
	}
	for _, addr := range a.Addrs {
		c.put(addr.IP.Unmap(), a.Name, now.Add(max(addr.TTL, c.minTTL)), now)
	}
}

func (c *Cache) put(ip netip.Addr, name string, expires, now time.Time) {
	if el, ok := c.byIP[ip]; ok {
		e := el.Value.(*entry)
		e.name, e.expires = name, expires
		c.order.MoveToBack(el)
		return
	}
	if len(c.byIP) >= c.max {
		old := c.order.Remove(c.order.Front()).(*entry)
		delete(c.byIP, old.ip)
		if !now.After(old.expires) {
			c.evicted++
		}
	}
	c.byIP[ip] = c.order.PushBack(&entry{ip: ip, name: name, expires: expires})
}

// Name returns the name ip was the answer to, or "" when no live answer
// named it at now.
func (c *Cache) Name(ip netip.Addr, now time.Time) string {
	el, ok := c.byIP[ip.Unmap()]
	if !ok {
		return ""
	}
	e := el.Value.(*entry)
	if now.After(e.expires) {
		c.order.Remove(el)
		delete(c.byIP, e.ip)
		return ""
	}
	return e.name
}

// Expire forgets the answers whose TTL ran out before now.
func (c *Cache) Expire(now time.Time) {
	for el := c.order.Front(); el != nil; {
		next := el.Next()
		if e := el.Value.(*entry); now.After(e.expires) {
			c.order.Remove(el)
			delete(c.byIP, e.ip)
		}
		el = next
	}
}

// Len is the number of addresses held, expired ones not yet forgotten
// included.
func (c *Cache) Len() int { return len(c.byIP) }

// Evicted counts the answers dropped to make room while their TTL still ran:
// connections to those addresses are named by their address instead.
func (c *Cache) Evicted() uint64 { return c.evicted }
