//go:build linux

package capture

import (
	"time"

	"golang.org/x/sys/unix"
)

// clock turns the kernel's CLOCK_MONOTONIC stamps into wall time.
type clock struct {
	wallAtZero time.Time // wall time when the monotonic clock read zero
}

func newClock() clock {
	var ts unix.Timespec
	now := time.Now().Round(0)                       // wall reading only: stamps are compared across processes
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts) // cannot fail for this clock id
	return clock{wallAtZero: now.Add(-time.Duration(ts.Nano()))}
}

func (c clock) wall(monoNs uint64) time.Time { return c.wallAtZero.Add(time.Duration(monoNs)) }
