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
	MaxDNSNames    int           // addresses the DNS name cache holds; beyond it the oldest answer goes
	IdleTimeout    time.Duration // a connection silent this long is closed
	ProcRoot       string        // where procfs is mounted
	Logger         *zap.Logger   // the BPF verifier's full log, when it refuses a program, is logged at debug level

	// TLSProbeGrace is how long a probed file keeps its TLS probes after the
	// last process using it was seen: a program run again and again (a CLI,
	// a cron job) keeps its probes between runs, and its first calls are not
	// raced by the inspection at exec. A host that runs many distinct
	// short-lived programs frees their uprobes sooner with a shorter grace.
	// The system's TLS libraries are probed for good.
	TLSProbeGrace time.Duration

	// ClassicUprobes attaches one classic uprobe per probe site even where
	// the kernel has uprobe_multi links (Linux 6.6+): the fallback for a
	// kernel whose uprobe_multi links misbehave, and the way older kernels
	// run, for comparing the two.
	ClassicUprobes bool

	// Ports filters connections by their server port (the peer's for a
	// client, the local one for a server) in the kernel, from their open:
	// a filtered connection is never reported, and none of its bytes is
	// copied. Nil filters none.
	Ports *PortFilter

	// ExcludeExecutable filters processes by their executable's path in
	// the kernel as Ports filters connections: the connections of a
	// process it rejects are not reported and none of their bytes is
	// copied. The engine judges each process at its exec and, for those
	// running at Start, from /proc; a process it has not judged yet (its
	// exec event still on its way) is left to the handler's ConnOpened,
	// which must apply the same filter. Nil filters none.
	ExcludeExecutable func(path string) bool

	// ProbeReads reads kernel structures with a bpf_probe_read_kernel call
	// per field even where the kernel can cast pointers to their BTF types
	// (the bpf_rdonly_cast kfunc, Linux 6.2+) and read fields directly: the
	// way older kernels run, for testing and comparing the two.
	ProbeReads bool

	// ProgramStats has the kernel count its BPF programs' runs and run
	// time (BPF_ENABLE_STATS) while the engine runs, for ProgramStats.
	// The kernel then counts every BPF program on the host, at the cost of
	// two clock reads a run. It needs CAP_SYS_ADMIN, unless the sysctl
	// kernel.bpf_stats_enabled is 1 already.
	ProgramStats bool
}

// ProgramStat is what the kernel counted of one of the engine's BPF programs
// since it was loaded.
type ProgramStat struct {
	Name    string // the program's function in bpf/
	Runs    uint64
	Runtime time.Duration // on all CPUs together
}

// PortFilter lists server ports: with Include, only connections to them
// are captured; without, every connection but those.
type PortFilter struct {
	Include bool
	Ports   []uint16 // at most MaxFilterPorts
}

// MaxFilterPorts is the size of the kernel's port filter map.
const MaxFilterPorts = 1024

// The defaults of Options, for callers that show or validate them.
const (
	DefaultRingBufferSize = 16 << 20
	DefaultMaxConnections = 65536
	DefaultMaxProcesses   = 32768
	DefaultMaxDNSNames    = 16384
	DefaultIdleTimeout    = 5 * time.Minute
	DefaultTLSProbeGrace  = 5 * time.Minute
)

func (o Options) withDefaults() Options {
	if o.RingBufferSize == 0 {
		o.RingBufferSize = DefaultRingBufferSize
	}
	if o.MaxConnections == 0 {
		o.MaxConnections = DefaultMaxConnections
	}
	if o.MaxProcesses == 0 {
		o.MaxProcesses = DefaultMaxProcesses
	}
	if o.MaxDNSNames == 0 {
		o.MaxDNSNames = DefaultMaxDNSNames
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.TLSProbeGrace == 0 {
		o.TLSProbeGrace = DefaultTLSProbeGrace
	}
	if o.ProcRoot == "" {
		o.ProcRoot = "/proc"
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	return o
}

// Stats counts what the engine's bounds threw away, and the TLS files it
// probes.
type Stats struct {
	KernelCounters

	// User side.
	BadEvents         uint64 // records too short or of unknown kind
	ConnsOverflowed   uint64 // dropped because MaxConnections were tracked
	LateEvents        uint64 // reads and writes that completed after TCP closed their connection: their bytes are dropped
	ProcessesEvicted  uint64 // descriptions dropped because MaxProcesses were cached
	TLSFilesProbed    uint64 // libraries and executables with TLS uprobes attached now
	TLSFilesFailed    uint64 // files that export a TLS API but could not be probed: their HTTPS is seen encrypted only
	TLSExecsSkipped   uint64 // new processes or opened libraries not inspected for TLS: queue full
	TLSUnboundDropped uint64 // TLS plaintext segments dropped, or cut to a hole, while waiting to learn their socket
	DNSNamesEvicted   uint64 // DNS answers dropped from the full name cache while their TTL still ran
	DNSAnswersCut     uint64 // DNS responses longer than the kernel copies: records past the cut are not read

	// TLSProcessesDenied counts the processes whose executable or libraries
	// the collector was not permitted to open (docs/privileges.md): not
	// probed, their HTTPS is seen encrypted only.
	TLSProcessesDenied uint64
}

// KernelCounters are what the BPF programs count in their counters map.
type KernelCounters struct {
	RingBufferFull      uint64 // events the kernel dropped because the ring buffer was full
	RingBufferFullBytes uint64 // payload bytes those events stood for: what a larger ring buffer would have kept
	CallsMapFull        uint64 // reads and writes missed because too many were in flight
	IovLimit            uint64 // vectored reads and writes with more iovecs than are copied
	TLSCallsFull        uint64 // TLS calls missed: too many in flight (C libraries), or a Go read whose entry was evicted
	TLSNoSocket         uint64 // TLS plaintext dropped because its socket could not be found
}
