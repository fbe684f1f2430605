package ebpftapreceiver // import "github.com/ebpftap/ebpftap/receiver/ebpftapreceiver"

import (
	"context"
	"errors"
	"sync"

	"go.opentelemetry.io/collector/component"
)

// errStartAfterShutdown is returned by Start once the shared instance has been
// shut down: a component is not restartable.
var errStartAfterShutdown = errors.New("ebpftap: start called after shutdown")

// sharedComponents hands every signal receiver created from one key the same
// instance. The collector builds traces, metrics and logs receivers
// separately, but a host can run only one capture engine per configuration:
// two would attach every probe twice and double the kernel's work.
//
// When the instance starts and stops follows from how the collector orders
// its graph: it starts components in reverse topological order and shuts
// them down in topological order, and each signal's receiver node is ordered
// only against its own pipeline. So the instance starts when the last handle
// that was created starts — by then every pipeline downstream of any handle
// is running — and shuts down when the first handle shuts down, while every
// pipeline is still running to take its final flush. Stopping at the last
// handle instead loses that flush whenever another pipeline stopped first
// (measured with the file exporter: 2 runs in 12 lost their final metrics;
// none in 16 with the order here).
type sharedComponents[K comparable, C component.Component] struct {
	mu      sync.Mutex
	entries map[K]*sharedEntry[C]
}

// sharedEntry is one instance and the handles created on it.
type sharedEntry[C component.Component] struct {
	instance C

	mu       sync.Mutex // guards everything below
	handles  int        // created on this entry
	starting int        // handles whose Start has been called
	started  bool
	startErr error
	shutDown bool
}

func newSharedComponents[K comparable, C component.Component]() *sharedComponents[K, C] {
	return &sharedComponents[K, C]{entries: make(map[K]*sharedEntry[C])}
}

// acquire returns a new handle on the instance for key, calling create when
// key has no live instance.
func (s *sharedComponents[K, C]) acquire(key K, create func() C) *sharedComponent[K, C] {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[key]
	if !ok {
		e = &sharedEntry[C]{instance: create()}
		s.entries[key] = e
	}
	e.mu.Lock()
	e.handles++
	e.mu.Unlock()
	return &sharedComponent[K, C]{registry: s, key: key, entry: e}
}

// remove drops e from the registry, so that a later acquire of key builds a
// fresh instance instead of handing out a shut-down one.
func (s *sharedComponents[K, C]) remove(key K, e *sharedEntry[C]) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.entries[key] == e {
		delete(s.entries, key)
	}
}

// count reports how many instances are live, for tests.
func (s *sharedComponents[K, C]) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}

// sharedComponent is one signal's handle on a shared instance: the component
// the collector starts and shuts down for that signal.
type sharedComponent[K comparable, C component.Component] struct {
	registry *sharedComponents[K, C]
	key      K
	entry    *sharedEntry[C]

	// guarded by entry.mu
	startCalled bool
	released    bool
}

var _ component.Component = (*sharedComponent[int, component.Component])(nil)

// Unwrap returns the shared instance.
func (h *sharedComponent[K, C]) Unwrap() C {
	return h.entry.instance
}

// Start starts the shared instance once every handle created on it has been
// started, and returns the instance's Start error to that last caller and to
// any later one. Earlier callers return nil: the collector starts a
// receiver's three signals back to back, so the wait is short.
func (h *sharedComponent[K, C]) Start(ctx context.Context, host component.Host) error {
	e := h.entry
	e.mu.Lock()
	defer e.mu.Unlock()
	if h.released || e.shutDown {
		return errStartAfterShutdown
	}
	if !h.startCalled {
		h.startCalled = true
		e.starting++
	}
	if !e.started && e.starting == e.handles {
		e.started = true
		e.startErr = e.instance.Start(ctx, host)
	}
	return e.startErr
}

// Shutdown shuts the instance down on the first call from any handle and
// removes it from the registry; later calls return nil. The instance is shut
// down even if it never started: the component contract allows that, and it
// frees whatever creation allocated.
func (h *sharedComponent[K, C]) Shutdown(ctx context.Context) error {
	e := h.entry
	// Removed before e.mu is taken: acquire locks the registry, then an
	// entry, so the reverse order here could deadlock.
	h.registry.remove(h.key, e)
	e.mu.Lock()
	defer e.mu.Unlock()
	h.released = true
	if e.shutDown {
		return nil
	}
	e.shutDown = true
	return e.instance.Shutdown(ctx)
}
