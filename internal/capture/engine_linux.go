//go:build linux && (amd64 || arm64)

package capture

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/cilium/ebpf/rlimit"
	"go.uber.org/zap"

	"github.com/ebpftap/ebpftap/internal/dnscache"
)

// maxUnboundBytes bounds the TLS plaintext waiting to learn its socket;
// unboundWait is how long it may wait.
const (
	maxUnboundBytes = 1 << 20
	unboundWait     = 10 * time.Second
)

// pollInterval bounds how long events wait in the ring buffer when too few
// came to wake the reader.
const pollInterval = 10 * time.Millisecond

// clockEvery is how many records the reader takes between two reads of the
// clock (for the poll deadline and the sweeps) while records keep coming:
// reading it after every record was 1.4% of the collector's CPU under wrk
// (pprof, make bench http1-plain summary, 2026-11-29).
const clockEvery = 64

// lateWindow is how long after TCP closed a connection its in-flight reads
// and writes may still report.
const lateWindow = 2 * time.Second

// dnsMinTTL is the least time a DNS answer names its addresses, whatever
// its TTL: a client connects right after its answer, even one with TTL 0.
const dnsMinTTL = 5 * time.Second

// dnsPort is DNS's: a client connection to it is read for answers.
const dnsPort = 53

// sweepInterval is how often the reader wakes, even without events, to close
// idle connections.
const sweepInterval = time.Second

// Engine loads the eBPF programs, reads their events and keeps the
// connection and process tables. Handler calls come from one goroutine.
type Engine struct {
	opts    Options
	handler Handler
	log     *zap.Logger

	objs     syscallObjects
	policies policyWriter // objs.Policies once loaded
	procs    *processCache
	filter   *processFilter // nil without Options.ExcludeExecutable
	tls      *tlsProbes
	links    []link.Link // of the tracepoints
	reader   *ringbuf.Reader
	done     chan struct{}
	closed   sync.Once
	unloaded bool

	clock   clock
	conns   *connTable
	closing map[uint64]*tracked // by sock: connections with tracked.closing set
	unbound *unboundPlaintext
	names   *dnscache.Cache // the names DNS answers gave addresses
	dnsCut  uint64          // DNS responses the kernel cut

	// Buffers of readCounted, the reader's.
	countedKeys   []uint64
	countedValues []syscallsWireCount

	badEvents     atomic.Uint64
	countersMu    sync.Mutex            // orders reads of the kernel's counters with closing the maps
	finalCounters *KernelCounters       // the kernel's counters when the maps were closed
	userStats     atomic.Pointer[Stats] // table counters, published by the reader

	// With Options.ProgramStats: the programs whose counts ProgramStats
	// reads, the kernel's counting on while statsOn is open, and the
	// counts when the programs were closed.
	programs      []namedProgram
	statsOn       io.Closer
	finalPrograms []ProgramStat
}

// NewEngine checks the options; Start does the work.
func NewEngine(opts Options, h Handler) (*Engine, error) {
	opts = opts.withDefaults()
	if opts.MaxConnections < 1 || opts.MaxProcesses < 1 || opts.MaxDNSNames < 1 || opts.IdleTimeout <= 0 {
		return nil, fmt.Errorf("capture: connection and process bounds and the idle timeout must be positive: %+v", opts)
	}
	page := os.Getpagesize()
	if n := opts.RingBufferSize; n < page || n&(n-1) != 0 {
		return nil, fmt.Errorf("capture: ring buffer size %d is not a power of two of at least the page size %d", n, page)
	}
	return &Engine{
		opts:    opts,
		handler: h,
		log:     opts.Logger,
		procs:   newProcessCache(opts.ProcRoot, opts.MaxProcesses),
		conns:   newConnTable(opts.MaxConnections, opts.IdleTimeout),
		closing: make(map[uint64]*tracked),
		unbound: newUnboundPlaintext(maxUnboundBytes),
		names:   dnscache.New(opts.MaxDNSNames, dnsMinTTL),
	}, nil
}

// Start loads and attaches the programs and starts reading. On error nothing
// stays loaded or attached.
func (e *Engine) Start() (err error) {
	if err := e.checkPrivileges(); err != nil {
		return err
	}
	if err := rlimit.RemoveMemlock(); err != nil {
		if errors.Is(err, os.ErrPermission) {
			// With CAP_BPF, only a kernel before 5.11 (maps charged to
			// the memlock limit, not to the memory cgroup) gets here.
			return fmt.Errorf("capture: this kernel charges BPF maps to the memlock limit (before Linux 5.11) and raising it was refused; start with an unlimited memlock limit (ulimit -l unlimited, systemd LimitMEMLOCK=infinity) or grant CAP_SYS_RESOURCE: %w", err)
		}
		return fmt.Errorf("capture: lifting the memlock limit for BPF maps: %w", err)
	}
	if e.opts.ProgramStats {
		if e.statsOn, err = enableProgramStats(); err != nil {
			return err
		}
	}
	if err := e.loadSyscallObjects(); err != nil {
		if e.statsOn != nil {
			_ = e.statsOn.Close()
		}
		return err
	}
	e.policies = e.objs.Policies
	defer func() {
		if err != nil {
			e.detach()
			e.unload()
		}
	}()
	for _, tp := range tracepoints(&e.objs.syscallsPrograms) {
		l, err := link.Tracepoint(tp.group, tp.event, tp.prog, nil)
		if err != nil {
			return withPrivilegeHint(fmt.Sprintf("attaching %v to tracepoint %s:%s", tp.prog, tp.group, tp.event), err)
		}
		e.links = append(e.links, l)
	}
	if e.opts.ExcludeExecutable != nil {
		// After the tracepoints: a process started since has its exec
		// event on the way.
		e.filter = &processFilter{exclude: e.opts.ExcludeExecutable, procRoot: e.opts.ProcRoot,
			ignored: e.objs.IgnoredProcesses, log: e.log}
		e.filter.scan()
	}

	e.tls = e.loadTLS()
	if e.opts.ProgramStats {
		e.programs = slices.Concat(namedPrograms(&e.objs.syscallsPrograms),
			namedPrograms(e.tls.progs.lib), namedPrograms(e.tls.progs.golang))
	}

	e.reader, err = ringbuf.NewReader(e.objs.Events)
	if err != nil {
		return fmt.Errorf("capture: opening the ring buffer: %w", err)
	}
	e.clock = newClock()
	e.done = make(chan struct{})
	go e.run()
	e.tls.start()
	// Loading parsed the kernel's BTF and inspecting every running
	// executable read their symbol tables: tens of MiB of garbage at once,
	// which the Go runtime hands back to the system only slowly, so the
	// collector's peak RSS was its start's, not its load's. Handed back
	// now, the peak under the go-https load at level summary went from 237
	// to 178 MiB (make bench, 2026-11-30).
	debug.FreeOSMemory()
	return nil
}

// checkPrivileges fails when this process lacks a capability to load and
// attach the programs or to mount tracefs (not mounted), naming each with
// what it is for, and warns once of those the capture is poorer without.
// Then it mounts tracefs if need be.
func (e *Engine) checkPrivileges() error {
	eff, lastCap, err := effectiveCapabilities()
	if err != nil {
		return err
	}
	mounted, err := tracefsMounted()
	if err != nil {
		return err
	}
	check := checkPrivileges(eff, lastCap, mounted, false)
	if err := check.err(); err != nil {
		return err
	}
	// Whether the TLS probes will be classic uprobes is known only now:
	// the kernel is asked with a BPF program.
	if e.opts.ClassicUprobes || !useUprobeMulti() {
		check = checkPrivileges(eff, lastCap, mounted, true)
	}
	if w := check.warning(); w != "" {
		e.log.Warn(w)
	}
	if !mounted {
		return mountTracefs()
	}
	return nil
}

// Close detaches everything, stops the reader and closes the connections
// still open (ConnClosed for each), after which no Handler call happens.
func (e *Engine) Close() error {
	e.closed.Do(func() {
		e.detach() // first: no more events
		if e.reader != nil {
			_ = e.reader.Close() // unblocks Read: the reader returns
			<-e.done
		}
		now := time.Now()
		if e.reader != nil { // started: the maps are there
			e.readCounted(now)
		}
		for _, tr := range e.conns.all() {
			e.deliverLost(tr, e.takeLost(tr.sock), now)
			e.closeConn(tr, now)
		}
		e.unload()
	})
	return nil
}

// detach closes the tracepoint links.
func (e *Engine) detach() {
	for _, l := range e.links {
		_ = l.Close()
	}
	e.links = nil
}

// unload detaches the TLS probes and closes the programs and maps, keeping
// the kernel's last counters for Stats and ProgramStats.
func (e *Engine) unload() {
	e.countersMu.Lock()
	defer e.countersMu.Unlock()
	if e.unloaded {
		return // a failed Start unloaded already
	}
	e.unloaded = true
	if e.opts.ProgramStats {
		e.finalPrograms = e.readPrograms() // the TLS probes' too, before they go
	}
	if e.tls != nil {
		e.tls.close()
	}
	final := e.readCounters()
	e.finalCounters = &final
	_ = e.objs.syscallsMaps.Close()
	_ = e.objs.syscallsPrograms.Close()
	if e.statsOn != nil {
		_ = e.statsOn.Close()
	}
}

// Stats returns the engine's counters; safe from any goroutine.
func (e *Engine) Stats() Stats {
	var s Stats
	if p := e.userStats.Load(); p != nil {
		s = *p
	}
	if e.tls != nil {
		e.tls.stats(&s)
	}
	s.BadEvents = e.badEvents.Load()
	e.countersMu.Lock()
	defer e.countersMu.Unlock()
	if f := e.finalCounters; f != nil {
		s.KernelCounters = *f
	} else {
		s.KernelCounters = e.readCounters()
	}
	return s
}

// readCounters sums the kernel's per-CPU counters. Callers hold countersMu.
func (e *Engine) readCounters() (s KernelCounters) {
	if e.objs.Counters == nil {
		return s
	}
	var perCPU []uint64
	read := func(c syscallsCounter) uint64 {
		var sum uint64
		if err := e.objs.Counters.Lookup(uint32(c), &perCPU); err == nil {
			for _, v := range perCPU {
				sum += v
			}
		}
		return sum
	}
	s.RingBufferFull = read(syscallsCounterCOUNTER_RINGBUF_FULL)
	s.RingBufferFullBytes = read(syscallsCounterCOUNTER_RINGBUF_FULL_BYTES)
	s.CallsMapFull = read(syscallsCounterCOUNTER_ARGS_FULL)
	s.IovLimit = read(syscallsCounterCOUNTER_IOV_LIMIT)
	s.TLSCallsFull = read(syscallsCounterCOUNTER_TLS_CALLS_FULL)
	s.TLSNoSocket = read(syscallsCounterCOUNTER_TLS_NO_SOCKET)
	return s
}

func (e *Engine) run() {
	defer close(e.done)
	var rec ringbuf.Record
	now := time.Now()
	nextSweep := now.Add(sweepInterval)
	// The kernel side wakes the reader only for a batch of events
	// (bpf/headers/capture.h, wakeup): the deadline picks up the rest.
	e.reader.SetDeadline(now.Add(pollInterval))
	for n := 1; ; n++ {
		err := e.reader.ReadInto(&rec)
		switch {
		case err == nil:
			e.dispatch(rec.RawSample)
		case errors.Is(err, ringbuf.ErrClosed):
			return
		case errors.Is(err, os.ErrDeadlineExceeded):
		default:
			e.log.Warn("reading the ring buffer", zap.Error(err))
		}
		if err == nil && n%clockEvery != 0 {
			continue
		}
		// A deadline older than the last records only makes the next
		// empty read return at once, and the clock is read again.
		now = time.Now()
		e.reader.SetDeadline(now.Add(pollInterval))
		if !now.Before(nextSweep) {
			e.readCounted(now) // first: a connection active only in the kernel's counts is not idle
			for _, tr := range e.conns.expire(now) {
				e.forgetConn(tr, now)
			}
			for _, tr := range e.closing {
				if now.Sub(tr.closing.at) > lateWindow {
					e.endClosing(tr, now) // the process never read it all
				}
			}
			e.unbound.expire(now.Add(-unboundWait))
			e.names.Expire(now)
			if e.filter != nil {
				e.countersMu.Lock()
				lost := e.readCounters().RingBufferFull
				e.countersMu.Unlock()
				e.filter.revalidate(lost)
			}
			e.conns.forgetClosed(now.Add(-lateWindow))
			e.publishStats()
			nextSweep = now.Add(sweepInterval)
		}
	}
}

func (e *Engine) publishStats() {
	e.userStats.Store(&Stats{
		ConnsOverflowed:   e.conns.overflowed,
		LateEvents:        e.conns.late,
		ProcessesEvicted:  e.procs.evicted,
		TLSUnboundDropped: e.unbound.dropped,
		DNSNamesEvicted:   e.names.Evicted(),
		DNSAnswersCut:     e.dnsCut,
	})
}

func (e *Engine) dispatch(b []byte) {
	h, err := decodeHeader(b)
	if err != nil {
		e.badEvent(err)
		return
	}
	now := e.clock.wall(h.TsNs)
	switch syscallsEventKind(h.Kind) {
	case syscallsEventKindEVENT_CONN_OPEN:
		if old := e.conns.remove(h.Sock); old != nil { // the kernel reused a freed sock
			e.closeConn(old, now)
		}
		e.openConn(h, Role(h.Detail), now)
	case syscallsEventKindEVENT_DATA:
		d, err := decodeData(b)
		if dir := Direction(h.Detail); err == nil && dir != Send && dir != Recv {
			err = fmt.Errorf("capture: data event with direction %d", h.Detail)
		}
		if err != nil {
			e.badEvent(err)
			return
		}
		e.data(h, d, now)
	case syscallsEventKindEVENT_CONN_CLOSE:
		cl, err := decodeClose(b)
		if err != nil {
			e.badEvent(err)
			return
		}
		if tr := e.conns.lookup(h.Sock, now); tr != nil && tr.follow && cl.unread > 0 && tr.closing == nil {
			// The process has yet to read what came before the FIN:
			// the connection ends once it has, or after lateWindow.
			e.deliverCounted(tr, cl.counted, now)
			e.deliverLost(tr, cl.lost, now)
			tr.closing = &closing{at: now, unread: int64(cl.unread), local: h.Tuple.Sport, remote: h.Tuple.Dport}
			e.closing[h.Sock] = tr
			return
		}
		if tr := e.conns.closed(h.Sock, h.Tuple.Sport, h.Tuple.Dport, now); tr != nil {
			e.deliverCounted(tr, cl.counted, now)
			e.deliverLost(tr, cl.lost, now)
			e.closeConn(tr, now)
		}
	case syscallsEventKindEVENT_PROC_EXEC:
		x, err := decodeExec(b)
		if err != nil {
			e.badEvent(err)
			return
		}
		e.procs.exec(x)
		e.tls.execed(x.pid)
		if e.filter != nil {
			e.filter.judge(x.pid, x.filename)
		}
	case syscallsEventKindEVENT_LIB_OPEN:
		path, err := decodeLibOpen(b)
		if err != nil {
			e.badEvent(err)
			return
		}
		e.tls.libraryOpened(int(h.Pid), path)
	case syscallsEventKindEVENT_TLS_BIND:
		ssl, err := decodeBind(b)
		if err != nil {
			e.badEvent(err)
			return
		}
		e.bind(h, ssl, now)
	case syscallsEventKindEVENT_DNS:
		msg, cut, err := decodeDNS(b)
		if err != nil {
			e.badEvent(err)
			return
		}
		e.dnsAnswer(msg, cut, now)
	case syscallsEventKindEVENT_PROC_EXIT:
		pid := int(h.Pid)
		for _, tr := range e.conns.removePID(pid) {
			e.forgetConn(tr, now)
		}
		e.procs.exit(pid)
		e.unbound.forget(pid)
		if e.filter != nil {
			e.filter.forget(pid)
		}
	default:
		e.badEvent(fmt.Errorf("capture: unknown event kind %d", h.Kind))
	}
}

// dnsAnswer keeps the names of a DNS response a process read. Anything else
// read on a resolver's socket (a query, for a server that also resolves on
// it; garbage) names nothing.
func (e *Engine) dnsAnswer(msg []byte, cut int, now time.Time) {
	if cut > 0 {
		e.dnsCut++
	}
	a, err := dnscache.Parse(msg)
	if err != nil {
		return
	}
	e.names.Add(a, now)
}

func (e *Engine) badEvent(err error) {
	if e.badEvents.Add(1) == 1 {
		e.log.Warn("dropping a malformed event (reported once; see the bad events counter)", zap.Error(err))
	}
}

func (e *Engine) openConn(h *syscallsEventHeader, role Role, now time.Time) *tracked {
	c := &Conn{ID: e.conns.newID(), Process: e.procs.get(int(h.Pid)), Role: role, Opened: now, sock: h.Sock}
	c.Local, c.Remote = h.Tuple.addrs()
	if role != RoleServer {
		c.ServerName = e.names.Name(c.Remote.Addr(), now)
	}
	follow := e.handler.ConnOpened(c)
	if !follow {
		e.setPolicy(c, syscallsConnPolicyPOLICY_IGNORE)
	}
	if dropped := e.conns.add(h.Sock, c, follow, now); dropped != nil {
		e.forgetConn(dropped, now)
	}
	tr := e.conns.lookup(h.Sock, now)
	if follow && role == RoleClient && c.Remote.Port() == dnsPort {
		tr.dns = &dnscache.Stream{}
	}
	return tr
}

// stopCopying has the kernel count tr's payload only, when the handler wants
// no more of it. The request waits while a TLS hello may still be read from
// the wire (see scanHello).
func (e *Engine) stopCopying(tr *tracked) {
	if tr.countOnly {
		return // asked already
	}
	tr.countOnly = true
	e.countIfDone(tr)
}

// countIfDone has the kernel count tr's payload only once nobody wants it:
// the handler refused it (countOnly) and the engine reads nothing more of
// its wire bytes (a hello, DNS answers).
func (e *Engine) countIfDone(tr *tracked) {
	if tr.countOnly && !tr.readingWire() {
		e.setPolicy(tr.conn, syscallsConnPolicyPOLICY_COUNT)
	}
}

// scanHello looks for a TLS hello at the start of a direction's wire bytes.
// lostBefore and lostAfter are bytes the capture missed around data: the
// stream's start is unknown after the first, the hello cut by the second.
func (e *Engine) scanHello(tr *tracked, dir Direction, data []byte, lostBefore, lostAfter int) {
	h := &tr.hello[dir]
	if h.done {
		return
	}
	if lostBefore > 0 {
		data = nil
	}
	b := data
	if len(h.buf) > 0 {
		h.buf = append(h.buf, data...)
		b = h.buf
	}
	info, status := parseHello(b)
	switch {
	case status == helloDone:
		c := tr.conn
		c.TLS = true
		if info.serverName != "" {
			c.TLSServerName = info.serverName
		}
		if info.version != "" {
			c.TLSVersion = info.version
		}
		h.done = true
	case status == helloNone || lostBefore > 0 || lostAfter > 0 || len(b) >= maxHelloBytes:
		h.done = true
	case len(h.buf) == 0:
		h.buf = append(make([]byte, 0, 2*len(data)), data...)
	}
	if h.done {
		h.buf = nil
		e.countIfDone(tr)
	}
}

// readDNS reads the answers of a DNS server over TCP from what it sent;
// lost bytes end the reading, as does the stream's bound.
func (e *Engine) readDNS(tr *tracked, data []byte, lostBefore, lostAfter int, now time.Time) {
	if lostBefore > 0 || !tr.dns.Write(data, lostAfter, func(msg []byte) { e.dnsAnswer(msg, 0, now) }) {
		tr.dns = nil
		e.countIfDone(tr)
	}
}

// policyWriter is where per-connection capture policies go: the kernel's
// policies map, or a recorder in tests that drive dispatch without a kernel.
type policyWriter interface {
	Put(key, value any) error
	Delete(key any) error
}

// setPolicy tells the kernel what to do with c's payload. The entry names c
// by its ports as well as its socket: by the time it is written, the socket
// may carry the next connection, which the kernel then keeps copying (a
// server that closes and accepts at once reused them for 10 of 200 random
// connections, whose bytes were counted and never seen).
func (e *Engine) setPolicy(c *Conn, p syscallsConnPolicy) {
	if e.policies == nil {
		return // not started
	}
	entry := syscallsPolicyEntry{Policy: uint32(p), Sport: c.Local.Port(), Dport: c.Remote.Port()}
	if err := e.policies.Put(c.sock, entry); err != nil {
		// The map is an LRU: Put fails only on a closed map, during Close.
		e.log.Debug("setting a connection's capture policy", zap.Uint64("conn", c.ID), zap.Error(err))
	}
}

func (e *Engine) closeConn(tr *tracked, now time.Time) {
	if c := tr.closing; c != nil {
		now = c.at // when TCP closed
		delete(e.closing, tr.sock)
	}
	tr.conn.Closed = now
	if tr.follow {
		e.handler.ConnClosed(tr.conn)
	}
}

// connOf returns the connection an event is about. One not tracked was
// opened before the engine started, or its open event was lost: it is
// tracked from now on, with its role unknown. nil means the event came late
// for a connection that closed.
func (e *Engine) connOf(h *syscallsEventHeader, now time.Time) *tracked {
	if tr := e.conns.lookup(h.Sock, now); tr != nil {
		return tr
	}
	if e.conns.isLate(h.Sock, h.Tuple.Sport, h.Tuple.Dport) {
		return nil
	}
	return e.openConn(h, RoleUnknown, now)
}

// bind delivers the plaintext that waited for its socket.
func (e *Engine) bind(h *syscallsEventHeader, ssl uint64, now time.Time) {
	segs := e.unbound.take(unboundKey{int(h.Pid), ssl})
	tr := e.connOf(h, now)
	if tr == nil {
		return
	}
	if !tr.conn.TLS {
		tr.conn.TLS = true // the library was named by the held segments' events
	}
	if !tr.follow {
		return
	}
	for _, s := range segs {
		if !e.handler.Data(tr.conn, s) {
			e.stopCopying(tr)
		}
	}
}

func (e *Engine) data(h *syscallsEventHeader, d dataRecord, now time.Time) {
	if h.Flags&uint8(syscallsEventFlagFLAG_TLS_UNBOUND) != 0 {
		k := unboundKey{int(h.Pid), h.Sock} // Sock holds the TLS object
		if d.lostBefore > 0 {
			e.unbound.hold(k, Segment{Dir: Send, Time: now, Lost: int(d.lostBefore), TLS: true})
		}
		e.unbound.hold(k, Segment{Dir: Send, Time: now, Data: d.data, Lost: int(d.len) - len(d.data), TLS: true})
		return
	}
	tr := e.connOf(h, now)
	if tr == nil {
		return
	}
	c := tr.conn
	dir := Direction(h.Detail)
	plaintext := h.Flags&uint8(syscallsEventFlagFLAG_TLS_PLAINTEXT) != 0
	// The first library that speaks names the connection's plaintext.
	if plaintext && c.TLSLibrary == "" {
		c.TLS, c.TLSLibrary = true, tlsLibraryName(h.TlsLibrary)
	}
	if !tr.follow {
		return
	}
	other := Send
	if dir == Send {
		other = Recv
	}
	if !plaintext {
		if d.lostPeer > 0 {
			// The other direction's wire bytes went in a hole: its
			// hello, or its DNS answers, cannot be read on across it.
			e.scanHello(tr, other, nil, int(d.lostPeer), 0)
			if tr.dns != nil && other == Recv {
				e.readDNS(tr, nil, int(d.lostPeer), 0, now)
			}
		}
		e.scanHello(tr, dir, d.data, int(d.lostBefore), int(d.len)-len(d.data))
		if tr.dns != nil && dir == Recv {
			e.readDNS(tr, d.data, int(d.lostBefore), int(d.len)-len(d.data), now)
		}
	}
	want := true
	if d.lostPeer > 0 {
		// First: those bytes of the other direction went before these.
		// (Only wire events carry them: TLS plaintext has no peer loss.)
		want = e.handler.Data(c, Segment{Dir: other, Time: now, Lost: int(d.lostPeer)})
	}
	if d.lostBefore > 0 {
		want = e.handler.Data(c, Segment{Dir: dir, Time: now, Lost: int(d.lostBefore), TLS: plaintext}) && want
	}
	if !e.handler.Data(c, Segment{Dir: dir, Time: now, Data: d.data, Lost: int(d.len) - len(d.data), TLS: plaintext}) || !want {
		e.stopCopying(tr)
	}
	if cl := tr.closing; cl != nil && dir == Recv && !plaintext {
		if cl.unread -= int64(d.len) + int64(d.lostBefore); cl.unread <= 0 {
			e.endClosing(tr, now)
		}
	}
}

// endClosing ends a connection TCP closed while the process still had bytes
// to read (tracked.closing).
func (e *Engine) endClosing(tr *tracked, now time.Time) {
	if e.conns.closed(tr.sock, tr.closing.local, tr.closing.remote, now) == tr {
		e.closeConn(tr, now)
	}
}
