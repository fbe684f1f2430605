package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/cilium/ebpf"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// sample is what one round of a scenario in a mode measured.
type sample struct {
	Scenario string `json:"scenario"`
	Mode     string `json:"mode"`
	Round    int    `json:"round"`
	Err      string `json:"error,omitempty"`

	Requests int64         `json:"requests"` // completed, as the load tool counted
	RPS      float64       `json:"rps"`
	P50      time.Duration `json:"p50_ns"`
	P99      time.Duration `json:"p99_ns"`
	// TracedCPU is the server's and the load tool's CPU time during the
	// load: the traced processes, who pay for every probe hit.
	TracedCPU time.Duration `json:"traced_cpu_ns"`
	// HostBusy is all CPUs' busy time during the load, HostCPUTime their
	// time in all (busy or not): every process's and the kernel's work, the
	// bench's own included.
	HostBusy    time.Duration `json:"host_busy_ns"`
	HostCPUTime time.Duration `json:"host_cpu_time_ns"`

	// Probe hits during the load. The floor's uprobes are counted by
	// tracefs, by library, and its tracepoints by its empty program's run
	// count; ebpftap's by its programs' run counts. BPFRuntime is the
	// programs' run time: ebpftap's, or the floor's empty program's.
	UprobeHits      uint64            `json:"uprobe_hits"`
	UprobeHitsByLib map[string]uint64 `json:"uprobe_hits_by_library,omitempty"`
	TracepointHits  uint64            `json:"tracepoint_hits"`
	// TracepointHitsCounted is false where nothing counts them: the
	// baseline, and the floor with -floor-tracepoints=tracefs.
	TracepointHitsCounted bool `json:"tracepoint_hits_counted"`

	BPFRuntime time.Duration         `json:"bpf_runtime_ns"`
	Programs   map[string]programRun `json:"programs,omitempty"`

	Collector        bool             `json:"collector"`
	CollectorCPU     time.Duration    `json:"collector_cpu_ns"` // from the load's start until its spans arrived
	CollectorPeakRSS uint64           `json:"collector_peak_rss_bytes"`
	DrainWait        time.Duration    `json:"drain_wait_ns"` // from the load's end until its spans arrived or the sink went quiet
	LogRecords       int64            `json:"log_records"`   // all the sink received in the round, warm-up included
	ServerSpans      int64            `json:"server_spans"`
	ClientSpans      int64            `json:"client_spans"`
	Drops            map[string]int64 `json:"drops,omitempty"` // during the load, by reason
}

// exporterDropReason names, among the drops, the items the collector's
// exporter threw away (in the whole round: its log has no finer time).
const exporterDropReason = "exporter_dropped_items"

// programRun is one BPF program's runs during the load.
type programRun struct {
	Uprobe  bool          `json:"uprobe"`
	Runs    uint64        `json:"runs"`
	Runtime time.Duration `json:"runtime_ns"`
}

// Waits of a round. Spans reach the sink within a flush (200 ms) and a
// batch timeout (200 ms) of their exchange; a second without any means the
// pipeline is empty.
const (
	settledAfter = time.Second
	settleLimit  = 10 * time.Second
	drainQuiet   = 2 * time.Second
	drainLimit   = 60 * time.Second
)

// runRound runs one round: the server, the mode's tracing, a warm-up load
// and the measured load.
func (b *bench) runRound(ctx context.Context, sc scenario, m mode, round int) (s sample, err error) {
	s = sample{Scenario: sc.name, Mode: m.name, Round: round, Collector: m.level != ""}
	dir, err := os.MkdirTemp(b.work, fmt.Sprintf("%s-%s-%d-", sc.name, m.key, round))
	if err != nil {
		return s, err
	}

	// The collector starts first, as it would be running on a host before
	// the applications: the servers and tools are then probed at exec.
	var col *collector
	if m.level != "" {
		b.sink.reset()
		cfg, err := b.writeCollectorConfig(dir, m)
		if err != nil {
			return s, err
		}
		if col, err = startCollector(ctx, b.collectorBin, cfg, filepath.Join(dir, "collector.log")); err != nil {
			return s, err
		}
		defer func() {
			if !col.proc.exited() {
				col.proc.kill()
			}
		}()
	}

	server, port, err := sc.startServer(ctx, b, dir)
	if err != nil {
		return s, fmt.Errorf("starting the server: %w", err)
	}
	defer server.kill()
	_, serverPids, err := groupCPU(server.pid())
	if err != nil {
		return s, err
	}

	var floor *floorProbes
	if m.floor {
		sites, err := b.floorSites(sc, server, serverPids)
		if err != nil {
			return s, err
		}
		if floor, err = setFloor(sites, b.tracepoints, b.opts.floorTracepoints); err != nil {
			return s, err
		}
		defer func() { err = errors.Join(err, floor.remove()) }()
	}

	target := sc.target(port)
	// The warm-up gets the load tool's executable probed (in the ebpftap
	// modes, at its first exec), the server's code paths and the caches
	// warm, so the measured load starts in the steady state.
	if _, _, err := b.runLoad(ctx, sc, target, b.opts.warmup, dir, "warmup"); err != nil {
		return s, fmt.Errorf("warm-up: %w", err)
	}
	if col != nil {
		waitFor(ctx, settleLimit, func() bool { return b.sink.quietFor(settledAfter) })
		// The drop counts before the load must include the warm-up's: wait
		// for metrics emitted after the warm-up's exchanges were handled.
		settled := time.Now()
		waitFor(ctx, settleLimit, func() bool { return b.sink.metricsSince(settled) })
	}

	// Before the load.
	serverCPU0, _, err := groupCPU(server.pid())
	if err != nil {
		return s, err
	}
	var progs0 map[ebpf.ProgramID]progStat
	var colCPU0 time.Duration
	var serverSpans0 int64
	var drops0 map[string]int64
	if col != nil {
		if progs0, err = programsOf(col.proc.pid()); err != nil {
			return s, err
		}
		st, err := readProcStat(col.proc.pid())
		if err != nil {
			return s, err
		}
		colCPU0 = st.cpu
		serverSpans0 = b.sink.spansOf(ptrace.SpanKindServer, serverPids...)
		drops0 = b.sink.dropsNow()
	}
	var hits0 map[string]uint64
	var tpRuns0 uint64
	var tpRuntime0 time.Duration
	if floor != nil {
		if hits0, err = floor.hits(); err != nil {
			return s, err
		}
		if tpRuns0, tpRuntime0, err = floor.tracepointStats(); err != nil {
			return s, err
		}
	}

	var profiled chan error
	if col != nil && b.opts.pprof != "" {
		profiled = make(chan error, 1)
		path := filepath.Join(b.opts.pprof, fmt.Sprintf("%s-%s-%d.pprof", sc.name, m.key, round))
		go func() { profiled <- profileCPU(ctx, b.opts.duration, path) }()
	}
	host0, err := readHostCPU()
	if err != nil {
		return s, err
	}
	res, load, err := b.runLoad(ctx, sc, target, b.opts.duration, dir, "load")
	if err != nil {
		return s, err
	}
	host1, err := readHostCPU()
	if err != nil {
		return s, err
	}
	s.HostBusy, s.HostCPUTime = host1.busy-host0.busy, host1.total-host0.total
	if profiled != nil {
		if err := <-profiled; err != nil {
			return s, err
		}
	}

	// After the load.
	serverCPU1, _, err := groupCPU(server.pid())
	if err != nil {
		return s, err
	}
	s.Requests, s.RPS, s.P50, s.P99 = res.requests, res.rps, res.p50, res.p99
	s.TracedCPU = serverCPU1 - serverCPU0 + load.cpu
	if floor != nil {
		hits1, err := floor.hits()
		if err != nil {
			return s, err
		}
		s.UprobeHitsByLib = map[string]uint64{}
		for lib, n := range hits1 {
			s.UprobeHitsByLib[lib] = n - hits0[lib]
			s.UprobeHits += n - hits0[lib]
		}
		runs, runtime, err := floor.tracepointStats()
		if err != nil {
			return s, err
		}
		s.TracepointHits, s.BPFRuntime = runs-tpRuns0, runtime-tpRuntime0
		s.TracepointHitsCounted = floor.empty != nil
	}
	if col == nil {
		return s, nil
	}
	progs1, err := programsOf(col.proc.pid())
	if err != nil {
		return s, err
	}
	s.Programs = map[string]programRun{}
	s.TracepointHitsCounted = true
	for name, d := range programDelta(progs0, progs1) {
		s.Programs[name] = programRun{Uprobe: d.uprobe, Runs: d.runs, Runtime: d.runtime}
		s.BPFRuntime += d.runtime
		if d.uprobe {
			s.UprobeHits += d.runs
		} else {
			s.TracepointHits += d.runs
		}
	}

	// Every exchange has made its two spans, or the pipeline has gone
	// quiet without them.
	serverSpans := func() int64 { return b.sink.spansOf(ptrace.SpanKindServer, serverPids...) - serverSpans0 }
	clientSpans := func() int64 { return b.sink.spansOf(ptrace.SpanKindClient, load.pid) }
	drainStart := time.Now()
	waitFor(ctx, drainLimit, func() bool {
		return serverSpans() >= s.Requests && clientSpans() >= s.Requests || b.sink.quietFor(drainQuiet)
	})
	s.DrainWait = time.Since(drainStart)
	st, err := readProcStat(col.proc.pid())
	if err != nil {
		return s, err
	}
	s.CollectorCPU = st.cpu - colCPU0
	if s.CollectorPeakRSS, err = peakRSS(col.proc.pid()); err != nil {
		return s, err
	}
	// Stopping flushes the receiver's last metrics: the final drop counts.
	if err := col.stop(); err != nil {
		return s, err
	}
	s.ServerSpans, s.ClientSpans = serverSpans(), clientSpans()
	s.LogRecords = b.sink.logCount()
	s.Drops = map[string]int64{}
	for reason, n := range b.sink.dropsNow() {
		if d := n - drops0[reason]; d > 0 {
			s.Drops[reason] = d
		}
	}
	if log, err := os.ReadFile(col.log); err == nil {
		if n := exporterDroppedItems(log); n > 0 {
			s.Drops[exporterDropReason] = n
		}
	}
	return s, nil
}

// runLoad runs the scenario's load tool against target for d.
func (b *bench) runLoad(ctx context.Context, sc scenario, target string, d time.Duration, dir, name string) (loadResult, finished, error) {
	logPath := filepath.Join(dir, name+".log")
	args := sc.tool.args(b.program("goload"), target, d, logPath)
	ctx, cancel := context.WithTimeout(ctx, d+time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	f, err := runToEnd(ctx, args, &stdout, &stderr)
	// Kept with the round's other files, for -keep.
	_ = os.WriteFile(filepath.Join(dir, name+".out"), append(stdout.Bytes(), stderr.Bytes()...), 0o644)
	if err != nil {
		return loadResult{}, f, fmt.Errorf("%w\n%s%s", err, stdout.Bytes(), stderr.Bytes())
	}
	var log io.Reader
	if lf, err := os.Open(logPath); err == nil {
		defer lf.Close()
		log = lf
	}
	res, err := sc.tool.parse(stdout.Bytes(), log)
	return res, f, err
}

// waitFor polls done until it holds, limit passes or ctx ends.
func waitFor(ctx context.Context, limit time.Duration, done func() bool) {
	deadline := time.Now().Add(limit)
	for !done() && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}
