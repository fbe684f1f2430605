package capture

import (
	"time"

	"go.uber.org/zap"
)

// Options bounds the engine. Zero values take the defaults below.
type Options struct {
	RingBufferSize int           // bytes; a power of two and a multiple of the page size
	MaxConnections int           // tracked at once; beyond it the least recently seen is dropped
	MaxProcesses   int           // described at once
	IdleTimeout    time.Duration // a connection silent this long is closed
	ProcRoot       string        // where procfs is mounted
	Logger         *zap.Logger

	// classicUprobes attaches one classic uprobe per probe site even where
	// the kernel has uprobe_multi links: the fallback, for tests.
	classicUprobes bool
}

const (
	defaultRingBufferSize = 16 << 20
	defaultMaxConnections = 65536
	defaultMaxProcesses   = 32768
	defaultIdleTimeout    = 5 * time.Minute
)

func (o Options) withDefaults() Options {
	if o.RingBufferSize == 0 {
		o.RingBufferSize = defaultRingBufferSize
	}
	if o.MaxConnections == 0 {
		o.MaxConnections = defaultMaxConnections
	}
	if o.MaxProcesses == 0 {
		o.MaxProcesses = defaultMaxProcesses
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = defaultIdleTimeout
	}
	if o.ProcRoot == "" {
		o.ProcRoot = "/proc"
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	return o
}

// Stats counts what the engine saw and what its bounds threw away.
type Stats struct {
	Events uint64 // records read from the ring buffer
	KernelCounters

	// User side.
	BadEvents             uint64 // records too short or of unknown kind
	ConnsIdleClosed       uint64 // closed after IdleTimeout without traffic
	ConnsOverflowed       uint64 // dropped because MaxConnections were tracked
	LateEvents            uint64 // reads and writes that completed after TCP closed their connection
	ProcessesEvicted      uint64 // descriptions dropped because MaxProcesses were cached
	ConnectionsTracked    uint64 // tracked now
	TLSFilesProbed        uint64 // libraries and executables with TLS uprobes attached
	TLSFilesFailed        uint64 // ... that export a TLS API but could not be probed
	TLSFilesDetached      uint64 // probed files detached since: no process used them any more
	TLSExecsSkipped       uint64 // new processes or opened libraries not inspected for TLS: queue full
	TLSUnboundDropped     uint64 // TLS plaintext dropped while waiting to learn its socket
	TLSFilesNotRemembered uint64 // files inspected for TLS libraries beyond the bound on remembered ones
}

// KernelCounters are what the BPF programs count in their counters map.
type KernelCounters struct {
	RingBufferFull      uint64 // events the kernel dropped because the ring buffer was full
	RingBufferFullBytes uint64 // payload bytes those events stood for
	CallsMapFull        uint64 // reads and writes missed because too many were in flight
	IovLimit            uint64 // vectored reads and writes with more iovecs than are copied
	TLSCallsFull        uint64 // TLS calls missed: too many in flight (C libraries), or a Go read whose entry was evicted
	TLSNoSocket         uint64 // TLS plaintext dropped because its socket could not be found
}
