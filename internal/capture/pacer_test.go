package capture

import (
	"testing"
	"time"
)

func TestPacer(t *testing.T) {
	p := &pacer{interval: 20 * time.Millisecond, burst: 3}
	stop := make(chan struct{})
	start := time.Now()
	for range 3 {
		if !p.wait(stop) {
			t.Fatal("wait returned false with stop open")
		}
	}
	if d := time.Since(start); d > 15*time.Millisecond {
		t.Errorf("the burst of 3 took %v, want no wait", d)
	}
	for range 2 {
		p.wait(stop)
	}
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Errorf("5 tasks with a burst of 3 took %v, want at least 2 intervals", d)
	}
	close(stop)
	if p.wait(stop) {
		t.Error("wait returned true after stop closed with the bucket empty")
	}
}
