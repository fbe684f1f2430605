package ebpftapreceiver

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
)

// countingComponent records how often it was started and shut down, and
// whether it was ever started after being shut down.
type countingComponent struct {
	id                   int
	starts               atomic.Int32
	shutdowns            atomic.Int32
	startedAfterShutdown atomic.Bool
	startErr             error
	shutdownErr          error
}

func (c *countingComponent) Start(context.Context, component.Host) error {
	if c.shutdowns.Load() > 0 {
		c.startedAfterShutdown.Store(true)
	}
	c.starts.Add(1)
	return c.startErr
}

func (c *countingComponent) Shutdown(context.Context) error {
	c.shutdowns.Add(1)
	return c.shutdownErr
}

// creator builds countingComponents, numbered from 1, with the given errors.
type creator struct {
	mu                    sync.Mutex
	made                  []*countingComponent
	startErr, shutdownErr error
}

func (cr *creator) create() *countingComponent {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	c := &countingComponent{id: len(cr.made) + 1, startErr: cr.startErr, shutdownErr: cr.shutdownErr}
	cr.made = append(cr.made, c)
	return c
}

// step is one call: acquire appends a handle on key, whose instance must be
// instance; start and shutdown call the handle with index handle; check
// compares instance's counts so far with starts and shutdowns.
type step struct {
	op                string // acquire | start | shutdown | check
	handle            int
	key               string
	instance          int
	starts, shutdowns int32
	wantErr           error
}

func TestSharedComponents(t *testing.T) {
	errStart := errors.New("start failed")
	errShutdown := errors.New("shutdown failed")
	acquire := func(key string, instance int) step { return step{op: "acquire", key: key, instance: instance} }
	start := func(handle int, wantErr error) step { return step{op: "start", handle: handle, wantErr: wantErr} }
	shutdown := func(handle int, wantErr error) step { return step{op: "shutdown", handle: handle, wantErr: wantErr} }
	check := func(instance int, starts, shutdowns int32) step {
		return step{op: "check", instance: instance, starts: starts, shutdowns: shutdowns}
	}

	tests := []struct {
		name                  string
		startErr, shutdownErr error
		steps                 []step
	}{
		{
			name: "three signals share one instance, started by the last start, stopped by the first shutdown",
			steps: []step{
				acquire("a", 1), acquire("a", 1), acquire("a", 1),
				start(0, nil), check(1, 0, 0),
				start(1, nil), check(1, 0, 0),
				start(2, nil), check(1, 1, 0),
				shutdown(2, nil), check(1, 1, 1),
				shutdown(0, nil), shutdown(1, nil), check(1, 1, 1),
			},
		},
		{
			name: "different keys get different instances",
			steps: []step{
				acquire("a", 1), acquire("b", 2), acquire("a", 1),
				start(1, nil), check(2, 1, 0), check(1, 0, 0),
				start(0, nil), start(2, nil), check(1, 1, 0),
				shutdown(1, nil), check(2, 1, 1), check(1, 1, 0),
				shutdown(0, nil), shutdown(2, nil), check(1, 1, 1),
			},
		},
		{
			name: "a create after the shutdown makes a fresh instance",
			steps: []step{
				acquire("a", 1), acquire("a", 1),
				start(0, nil), start(1, nil),
				shutdown(0, nil),
				acquire("a", 2), // handle 1 is still open, but its instance is gone
				start(2, nil), check(2, 1, 0),
				shutdown(1, nil), check(2, 1, 0),
				shutdown(2, nil), check(2, 1, 1), check(1, 1, 1),
			},
		},
		{
			name: "a second start of one handle does not stand in for another handle",
			steps: []step{
				acquire("a", 1), acquire("a", 1),
				start(0, nil), start(0, nil), check(1, 0, 0),
				start(1, nil), check(1, 1, 0),
				shutdown(0, nil), shutdown(1, nil),
			},
		},
		{
			name: "a handle created after the start joins the running instance",
			steps: []step{
				acquire("a", 1), start(0, nil), check(1, 1, 0),
				acquire("a", 1), start(1, nil), check(1, 1, 0),
				shutdown(1, nil), shutdown(0, nil), check(1, 1, 1),
			},
		},
		{
			name: "shutdown without start still shuts the instance down",
			steps: []step{
				acquire("a", 1), acquire("a", 1),
				shutdown(0, nil), shutdown(1, nil), check(1, 0, 1),
			},
		},
		{
			name:     "the start error reaches the last starter and every later one",
			startErr: errStart,
			steps: []step{
				acquire("a", 1), acquire("a", 1),
				start(0, nil),
				start(1, errStart),
				start(0, errStart),
				check(1, 1, 0),
				shutdown(0, nil), shutdown(1, nil), check(1, 1, 1),
			},
		},
		{
			name:        "the shutdown error reaches the first shutdown only",
			shutdownErr: errShutdown,
			steps: []step{
				acquire("a", 1), acquire("a", 1),
				start(0, nil), start(1, nil),
				shutdown(1, errShutdown),
				shutdown(0, nil), shutdown(1, nil), check(1, 1, 1),
			},
		},
		{
			name: "start after shutdown is refused",
			steps: []step{
				acquire("a", 1), acquire("a", 1),
				start(0, nil),
				shutdown(1, nil),
				start(0, errStartAfterShutdown),
				start(1, errStartAfterShutdown),
				check(1, 0, 1),
			},
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cr := &creator{startErr: tt.startErr, shutdownErr: tt.shutdownErr}
			reg := newSharedComponents[string, *countingComponent]()
			var handles []*sharedComponent[string, *countingComponent]
			for i, s := range tt.steps {
				var err error
				switch s.op {
				case "acquire":
					h := reg.acquire(s.key, cr.create)
					require.Equal(t, s.instance, h.Unwrap().id, "step %d: instance of the new handle", i)
					handles = append(handles, h)
				case "start":
					err = handles[s.handle].Start(context.Background(), componenttest.NewNopHost())
				case "shutdown":
					err = handles[s.handle].Shutdown(context.Background())
				case "check":
					c := cr.made[s.instance-1]
					require.Equal(t, s.starts, c.starts.Load(), "step %d: starts of instance %d", i, s.instance)
					require.Equal(t, s.shutdowns, c.shutdowns.Load(), "step %d: shutdowns of instance %d", i, s.instance)
				default:
					t.Fatalf("step %d: unknown op %q", i, s.op)
				}
				// ErrorIs with a nil target demands a nil error.
				require.ErrorIs(t, err, s.wantErr, "step %d: %s handle %d", i, s.op, s.handle)
			}
			assert.Zero(t, reg.count(), "instances left in the registry")
		})
	}
}

// TestSharedComponentsConcurrent runs many receivers' lifecycles at once so
// the race detector sees every path through the registry, and checks what
// must hold however the goroutines interleave.
func TestSharedComponentsConcurrent(t *testing.T) {
	const keys, signals, rounds = 4, 3, 50
	cr := &creator{}
	reg := newSharedComponents[int, *countingComponent]()

	var wg sync.WaitGroup
	for key := range keys {
		for range signals {
			wg.Go(func() {
				for range rounds {
					h := reg.acquire(key, cr.create)
					// Another goroutine's Shutdown may have stopped the
					// instance already; that is the one refusal allowed.
					if err := h.Start(context.Background(), componenttest.NewNopHost()); err != nil {
						assert.ErrorIs(t, err, errStartAfterShutdown)
					}
					assert.NoError(t, h.Shutdown(context.Background()))
				}
			})
		}
	}
	wg.Wait()

	assert.Zero(t, reg.count(), "instances left in the registry")
	require.NotEmpty(t, cr.made)
	for _, c := range cr.made {
		assert.LessOrEqual(t, c.starts.Load(), int32(1), "instance %d starts", c.id)
		assert.Equal(t, int32(1), c.shutdowns.Load(), "instance %d shutdowns", c.id)
		assert.False(t, c.startedAfterShutdown.Load(), "instance %d started after its shutdown", c.id)
	}
}
