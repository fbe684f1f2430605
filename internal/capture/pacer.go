package capture

import "time"

// pacer bounds work per second: up to burst tasks at once, then one per
// interval. Not safe for concurrent use.
type pacer struct {
	interval time.Duration
	burst    int
	next     time.Time // when the bucket is empty, the time the next task may start
}

// wait returns once the next task may start, or false if stop closed first.
func (p *pacer) wait(stop <-chan struct{}) bool {
	now := time.Now()
	if earliest := now.Add(-time.Duration(p.burst) * p.interval); p.next.Before(earliest) {
		p.next = earliest // idle long enough: the bucket is full
	}
	p.next = p.next.Add(p.interval)
	d := p.next.Sub(now)
	if d <= 0 {
		return true
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-stop:
		return false
	}
}
