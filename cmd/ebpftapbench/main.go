// Command ebpftapbench is `make bench`: it drives real loads on loopback
// against servers traced by ebpftap and prints, as a markdown table (also
// written to _build/bench.md), what ebpftap costs the traced processes and
// the host compared with no capture (baseline) and with bare probes at
// ebpftap's sites (the floor). Run as root, from the repository's root,
// after `make build`.
//
// Each scenario (scenarios.go) is a server and a load tool; each mode
// (modes.go) traces them differently: not at all, with the floor's tracefs
// probes (floor.go), or with the collector distribution at a capture level
// (collector.go), which exports to an OTLP sink the bench runs (sink.go).
// The modes alternate within a round, and every figure is the median of the
// rounds (report.go). What is measured and how is in round.go and
// measure.go.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

type options struct {
	duration, warmup time.Duration
	rounds           int
	scenarios, modes string
	collectorBin     string
	out              string
	sslReturns       string
	floorTracepoints string
	keep             bool
	pprof            string // a directory for the collector's CPU profiles, or ""
}

// bench is what every round shares.
type bench struct {
	opts         options
	repo         string // the repository's root: the programs' sources, the engine's BPF object
	work         string // temporary: certificate, configs, logs, programs
	binDir       string
	collectorBin string
	cert, key    string
	sink         *sink
	sinkSocket   string
	tracepoints  []string // ebpftap's, for the floor
	sslReturns   []string // the OpenSSL functions the floor sets a uretprobe on
}

func (b *bench) program(name string) string { return filepath.Join(b.binDir, name) }

func main() {
	var o options
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "length of each measured load")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "length of the unmeasured load before each measured one")
	flag.IntVar(&o.rounds, "rounds", 2, "rounds per scenario; each runs every mode once")
	flag.StringVar(&o.scenarios, "scenarios", "all", "comma-separated scenarios: all, or any of "+scenarioNames())
	flag.StringVar(&o.modes, "modes", "baseline,floor,none,summary,full,sampled", "comma-separated modes")
	flag.StringVar(&o.collectorBin, "collector", "_build/otelcol-ebpftap", "the collector distribution (make build)")
	flag.StringVar(&o.out, "out", "_build/bench.md", "where to write the report; the rounds' raw figures go beside it as .json")
	flag.StringVar(&o.sslReturns, "floor-ssl-returns", "all", "OpenSSL functions the floor sets a uretprobe on: all (as the engine does now) or reads")
	flag.StringVar(&o.floorTracepoints, "floor-tracepoints", floorTracepointsBPF, "how the floor sets ebpftap's tracepoints: bpf (one empty BPF program, counted) or tracefs (enabled with no program, uncounted)")
	flag.StringVar(&o.pprof, "pprof", "", "save the collector's CPU profile of each measured load in this directory (scenario-mode-round.pprof)")
	flag.BoolVar(&o.keep, "keep", false, "keep the work directory (configs, logs) and print its path")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "ebpftapbench:", err)
		os.Exit(1)
	}
}

func scenarioNames() string {
	var names []string
	for _, s := range scenarios {
		names = append(names, s.name)
	}
	return strings.Join(names, ",")
}

func run(o options) (err error) {
	scs, err := pickScenarios(o.scenarios)
	if err != nil {
		return err
	}
	ms, err := pickModes(o.modes)
	if err != nil {
		return err
	}
	sslReturns, err := opensslReturns(o.sslReturns)
	if err != nil {
		return err
	}
	if o.floorTracepoints != floorTracepointsBPF && o.floorTracepoints != floorTracepointsTracefs {
		return fmt.Errorf("-floor-tracepoints: must be bpf or tracefs; got %q", o.floorTracepoints)
	}
	if o.rounds < 1 || o.duration < time.Second {
		return errors.New("-rounds must be at least 1 and -duration at least 1s")
	}
	if err := checkPrerequisites(scs, ms, o.collectorBin); err != nil {
		return err
	}
	if o.pprof != "" {
		if err := os.MkdirAll(o.pprof, 0o755); err != nil {
			return err
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()

	b := &bench{opts: o, sslReturns: sslReturns}
	if b.repo, err = os.Getwd(); err != nil {
		return err
	}
	if b.collectorBin, err = filepath.Abs(o.collectorBin); err != nil {
		return err
	}
	if b.work, err = os.MkdirTemp("", "ebpftapbench-"); err != nil {
		return err
	}
	defer func() {
		if o.keep {
			fmt.Fprintln(os.Stderr, "work directory kept:", b.work)
			return
		}
		_ = os.RemoveAll(b.work)
	}()
	// A bench killed outright leaves its floor probes behind: clear them
	// before anything is measured.
	if _, err := os.Stat(filepath.Join(tracefsRoot, "uprobe_events")); err == nil {
		if err := removeFloor(); err != nil {
			return fmt.Errorf("removing a previous run's floor probes: %w", err)
		}
	}
	if err := b.prepare(ctx); err != nil {
		return err
	}
	defer b.sink.stop()
	// bpf_stats count every program's runs and run time while the returned
	// descriptor is open; closing it (or the bench dying) turns them off.
	statsOn, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
	if err != nil {
		return fmt.Errorf("enabling bpf_stats: %w", err)
	}
	defer statsOn.Close()

	started := time.Now()
	var samples []sample
	interrupted := false
rounds:
	for _, sc := range scs {
		for round := range o.rounds {
			for _, m := range roundOrder(ms, round) {
				s, err := b.runRound(ctx, sc, m, round+1)
				if ctx.Err() != nil {
					interrupted = true
					break rounds
				}
				if err != nil {
					s.Err = err.Error()
					fmt.Fprintf(os.Stderr, "%s, %s, round %d: FAILED: %v\n", sc.name, m.name, round+1, err)
				} else {
					fmt.Fprintf(os.Stderr, "%s, %s, round %d: %s\n", sc.name, m.name, round+1, progressLine(s))
				}
				samples = append(samples, s)
			}
		}
	}

	report := renderReport(samples, scs, ms, o, time.Since(started), interrupted)
	fmt.Print(report)
	if err := writeReport(o.out, report, samples); err != nil {
		return err
	}
	if interrupted {
		return errors.New("interrupted; the report covers the rounds that finished")
	}
	return nil
}

// prepare builds the Go programs, makes the servers' certificate, reads
// ebpftap's tracepoints for the floor and starts the sink.
func (b *bench) prepare(ctx context.Context) error {
	b.binDir = filepath.Join(b.work, "bin")
	if err := os.Mkdir(b.binDir, 0o755); err != nil {
		return err
	}
	build := exec.CommandContext(ctx, "go", "build", "-o", b.binDir+"/",
		"./testdata/e2e/goserver", "./testdata/e2e/grpcserver", "./cmd/ebpftapbench/goload")
	build.Dir = b.repo
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("building the test programs: %w\n%s", err, out)
	}
	b.cert, b.key = filepath.Join(b.work, "cert.pem"), filepath.Join(b.work, "key.pem")
	cert := exec.CommandContext(ctx, "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
		"-nodes", "-keyout", b.key, "-out", b.cert, "-days", "2", "-subj", "/CN=localhost",
		"-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1")
	if out, err := cert.CombinedOutput(); err != nil {
		return fmt.Errorf("making the servers' certificate: %w\n%s", err, out)
	}
	var err error
	if b.tracepoints, err = engineTracepoints(b.repo); err != nil {
		return err
	}
	b.sinkSocket = filepath.Join(b.work, "sink.sock")
	b.sink, err = startSink(b.sinkSocket)
	return err
}

func progressLine(s sample) string {
	line := fmt.Sprintf("%.0f req/s, p50 %v, p99 %v, traced CPU %.1f µs/req, uprobe hits %.2f/req",
		s.RPS, s.P50, s.P99, perRequest(s, micros(s.TracedCPU)), perRequest(s, float64(s.UprobeHits)))
	if s.TracepointHitsCounted {
		line += fmt.Sprintf(", tracepoint hits %.2f/req, BPF %.0f ns/req",
			perRequest(s, float64(s.TracepointHits)), perRequest(s, float64(s.BPFRuntime)))
	}
	if s.Collector {
		line += fmt.Sprintf(", collector %.1f µs/req, spans %d server / %d client for %d requests",
			perRequest(s, micros(s.CollectorCPU)), s.ServerSpans, s.ClientSpans, s.Requests)
	}
	return line
}

// renderReport is the whole markdown report: the conditions, the table and
// how to read it.
func renderReport(samples []sample, scs []scenario, ms []mode, o options, took time.Duration, interrupted bool) string {
	var b strings.Builder
	var uts unix.Utsname
	_ = unix.Uname(&uts)
	fmt.Fprintf(&b, "## ebpftap bench, %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "Linux %s, %d CPUs; each load %s after a %s warm-up, 16 connections; %d rounds, modes alternated; medians; %s in all.\n",
		unix.ByteSliceToString(uts.Release[:]), runtime.NumCPU(), o.duration, o.warmup, o.rounds, took.Round(time.Second))
	if interrupted {
		b.WriteString("\n**Interrupted**: only the rounds that finished are in the table.\n")
	}
	rows := buildRows(samples, scs, ms)
	b.WriteString("\n" + renderTable(rows))
	b.WriteString("\nScenarios (server and load tool, both traced):\n")
	for _, sc := range scs {
		fmt.Fprintf(&b, "- %s: %s\n", sc.name, sc.description)
	}
	b.WriteString(readingNotes)
	if budget := renderBudget(rows); budget != "" {
		b.WriteString("\nThe CPU a request takes beyond the floor's, in µs a request (medians):\n\n" + budget + budgetNotes)
	}
	if hits := renderFloorHits(samples, scs); hits != "" {
		b.WriteString("\nFloor uprobe hits per request, by library:\n" + hits)
	}
	for _, m := range ms {
		if m.key == "summary" {
			b.WriteString(renderPrograms(samples, scs, m))
		}
	}
	var failed []string
	for _, s := range samples {
		if s.Err != "" {
			failed = append(failed, fmt.Sprintf("- %s, %s, round %d: %s", s.Scenario, s.Mode, s.Round, oneLine(s.Err)))
		}
	}
	if len(failed) > 0 {
		b.WriteString("\nFailed rounds:\n" + strings.Join(failed, "\n") + "\n")
	}
	return b.String()
}

const readingNotes = `
Reading it:
- Ratios are to the same scenario's baseline in this run. CPU, hits and BPF time are per request the load tool completed.
- traced CPU: user + system time of the server (all its processes) and the load tool during the load, from /proc and wait4; uprobe traps and tracepoint programs are charged to them.
- floor: ebpftap's probe sites with no work behind them: tracefs uprobes at the same TLS sites (and uretprobes where the engine sets them), in a tracefs instance that records nothing, and one BPF program that returns at once on each of the same syscall, sock and sched tracepoints (with -floor-tracepoints=tracefs: the tracepoints enabled in the instance, no program, not counted).
- hits and BPF ns: BPF programs' run counts and run time from bpf_stats (ebpftap's programs, or the floor's empty one), on the whole host during the load, other processes' syscalls included; bpf_stats itself adds two clock reads per run. The floor's uprobe hits come from tracefs's uprobe_profile.
- collector: the otelcol-ebpftap process (receiver, batch, OTLP gRPC export over a unix socket to the bench), CPU from the load's start until its spans arrived; peak RSS is its VmHWM.
- complete: SERVER spans of the server's processes and CLIENT spans of the load tool, over the requests the tool completed; a request in flight when the tool stopped may add a span beyond 1. The sampled mode keeps the spans of about a tenth of the requests (sampling.ratio 0.1, decided by trace id, both ends alike): its completeness is about 0.1, and its metrics still count every request. drops: the ebpftap.capture.dropped counts that grew during the load, summed over the rounds.
`

const budgetNotes = `
- host busy: the share of all CPUs' time that was busy during the load (/proc/stat); host CPU: that busy time per request, every process's and the kernel's.
- added to the floor's: the mode's host CPU a request less the floor's. traced processes: the server's and the load tool's CPU beyond the floor's, the BPF programs' time beyond the floor's empty ones (of which BPF) included; collector: the otelcol-ebpftap process; rest: the kernel's work outside these processes and the bench's own (its sink receiving the exports). Rest and traced processes can come out a few µs below zero: two short rounds, and the collector's CPU counted until its spans arrived, past the end of the load that bounds the host's.
- While the host is busy near 100%, throughput is the CPUs' time over the CPU a request takes: a mode keeps 0.9 × the floor's throughput only if it adds at most a ninth of the floor's host CPU a request (the last column).
`

// writeReport writes the report and, beside it, the rounds' raw figures.
func writeReport(path, report string, samples []sample) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(path, []byte(report), 0o644); err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	raw, err := json.MarshalIndent(samples, "", "  ")
	if err != nil {
		return err
	}
	jsonPath := strings.TrimSuffix(path, filepath.Ext(path)) + ".json"
	if err := os.WriteFile(jsonPath, raw, 0o644); err != nil {
		return fmt.Errorf("writing the raw figures: %w", err)
	}
	fmt.Fprintf(os.Stderr, "written: %s, %s\n", path, jsonPath)
	return nil
}
