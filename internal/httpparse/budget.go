package httpparse

import "sync/atomic"

// BodyBudget bounds the body bytes that all the Conns sharing it hold at once,
// where Config.MaxBodyBytes bounds only each message: a thousand slow uploads
// would otherwise hold a thousand times MaxBodyBytes. A Conn charges the
// capacity of each body buffer it allocates, since that is the memory held,
// and gives it back when it emits the transaction (the body then belongs to
// the caller) or throws the message away, and in full when it closes or gives
// up. A body that would need more than is left stops growing: it keeps the
// prefix it has, is marked BodyOverBudget and counted in Stats.BodyOverBudget.
//
// Only buffer growth touches the budget, a few times per body, never each
// byte; it is atomic so that Conns fed from different goroutines may share it.
type BodyBudget struct {
	limit int64
	used  atomic.Int64
}

// NewBodyBudget returns a budget of limit bytes; a limit below 1 lets no body
// byte be kept.
func NewBodyBudget(limit int64) *BodyBudget {
	return &BodyBudget{limit: max(limit, 0)}
}

// Limit returns the budget's bound in bytes.
func (b *BodyBudget) Limit() int64 { return b.limit }

// Used returns the bytes charged and not yet given back.
func (b *BodyBudget) Used() int64 { return b.used.Load() }

// take charges want bytes when they are left, else as many as are left, and
// returns how many it charged. A nil budget grants everything.
func (b *BodyBudget) take(want int) int {
	if b == nil {
		return want
	}
	for {
		used := b.used.Load()
		n := min(int64(want), b.limit-used)
		if n <= 0 {
			return 0
		}
		if b.used.CompareAndSwap(used, used+n) {
			return int(n)
		}
	}
}

// give returns n charged bytes.
func (b *BodyBudget) give(n int) {
	if b != nil && n > 0 {
		b.used.Add(int64(-n))
	}
}

// keepBody appends b, the next bytes of m's body, within MaxBodyBytes and the
// budget. hint is the size the body is expected to reach (0 if unknown), to
// allocate its buffer once; when the budget cannot give that much, the buffer
// grows by what is left, and when that is less than the bytes need, the body
// is cut where the budget ran out.
func (c *Conn) keepBody(m *Message, b []byte, hint int) {
	limit := c.cfg.MaxBodyBytes
	room := limit - len(m.Body)
	if room <= 0 || len(b) == 0 || m.BodyOverBudget {
		return
	}
	b = b[:min(len(b), room)]
	need := len(m.Body) + len(b)
	if need > cap(m.Body) {
		have := cap(m.Body)
		want := grownCap(have, need, hint, limit)
		// The budget gives what is left when that is less than wanted;
		// fewer bytes than these bytes need cut the body where it ran
		// out, so that Body stays a prefix.
		got := c.budget.take(want - have)
		if got < need-have {
			m.BodyOverBudget = true
			c.stats.count(KindBodyOverBudget)
			b = b[:have+got-len(m.Body)]
		}
		if got > 0 {
			c.held += got
			m.Body = withCap(m.Body, have+got)
		}
	}
	m.Body = append(m.Body, b...)
}

// unhold gives back the budget a message's body holds, when the Conn lets go
// of it.
func (c *Conn) unhold(m *Message) {
	n := cap(m.Body)
	c.budget.give(n)
	c.held -= n
}

// settle gives back whatever the Conn still holds once it stopped parsing:
// bodies of messages it let go of without emitting them.
func (c *Conn) settle() {
	c.budget.give(c.held)
	c.held = 0
}
