package ebpftapreceiver

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/ebpftap/ebpftap/internal/e2e"
)

// BenchmarkE2ELoad drives a server with wrk twice in one run, without and
// then with the receiver capturing both ends, and reports the ratios:
// throughput and latency with/without, the share of transactions captured,
// the receiver's CPU per transaction and its peak heap. Each run is a
// fixed-length load, so one iteration is enough (-benchtime=1x).
//
// http1-go: plain HTTP/1.1 against the Go test server.
// https-nginx: HTTPS against nginx; wrk and nginx both use OpenSSL, so both
// ends are captured through the TLS library uprobes.
// https-go: HTTPS against the Go test server: wrk's end through OpenSSL's
// uprobes, the server's through Go's crypto/tls probes.
func BenchmarkE2ELoad(b *testing.B) {
	e2e.RequireBPF(b)
	if _, err := exec.LookPath("wrk"); err != nil {
		b.Fatal("wrk is needed for the load benchmark (apt-get install wrk)")
	}
	b.Run("http1-go", func(b *testing.B) {
		port := startServer(b, e2eProgram(b, "goserver"))
		benchLoad(b, fmt.Sprintf("http://127.0.0.1:%d/ok", port))
	})
	b.Run("https-nginx", func(b *testing.B) {
		cert, key := e2e.SelfSignedCert(b)
		benchLoad(b, fmt.Sprintf("https://127.0.0.1:%d/ok", startNginx(b, cert, key, false)))
	})
	b.Run("https-go", func(b *testing.B) {
		cert, key := e2e.SelfSignedCert(b)
		port := startServer(b, e2eProgram(b, "goserver"), "-cert", cert, "-key", key)
		benchLoad(b, fmt.Sprintf("https://127.0.0.1:%d/ok", port))
	})
}

func benchLoad(b *testing.B, url string) {
	const duration = "5s"

	for range b.N {
		base := runWrk(b, url, duration)

		var spans atomic.Int64
		traces, _ := consumer.NewTraces(func(_ context.Context, td ptrace.Traces) error {
			spans.Add(int64(td.SpanCount()))
			return nil
		})
		logs, _ := consumer.NewLogs(func(context.Context, plog.Logs) error { return nil })
		// ebpftap.capture.dropped is cumulative: its last values are the totals.
		var dropsMu sync.Mutex
		drops := map[string]int64{}
		metrics, _ := consumer.NewMetrics(func(_ context.Context, md pmetric.Metrics) error {
			dropsMu.Lock()
			defer dropsMu.Unlock()
			for _, rm := range md.ResourceMetrics().All() {
				for _, sm := range rm.ScopeMetrics().All() {
					for _, m := range sm.Metrics().All() {
						if m.Name() != "ebpftap.capture.dropped" {
							continue
						}
						for _, dp := range m.Sum().DataPoints().All() {
							reason, _ := dp.Attributes().Get("ebpftap.drop.reason")
							drops[reason.Str()] = dp.IntValue()
						}
					}
				}
			}
			return nil
		})
		r := startReceiverWith(b, nil, traces, logs, metrics)

		peak := samplePeakHeap()
		cpu0 := processCPU()
		with := runWrk(b, url, duration)
		// Both ends of every request are captured; wait for the last flush.
		deadline := time.Now().Add(10 * time.Second)
		for spans.Load() < 2*with.requests && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		cpu := processCPU() - cpu0
		peakHeap := peak()

		b.ReportMetric(with.rps/base.rps, "throughput-ratio")
		b.ReportMetric(float64(with.p50)/float64(base.p50), "p50-latency-ratio")
		b.ReportMetric(float64(with.p99)/float64(base.p99), "p99-latency-ratio")
		b.ReportMetric(float64(spans.Load())/float64(2*with.requests), "captured-ratio")
		b.ReportMetric(float64(cpu.Microseconds())/float64(max(spans.Load(), 1)), "cpu-µs/span")
		b.ReportMetric(float64(peakHeap)/(1<<20), "peak-heap-MiB")
		b.Logf("without: %.0f req/s p50 %v p99 %v; with: %.0f req/s p50 %v p99 %v; %d spans for %d requests",
			base.rps, base.p50, base.p99, with.rps, with.p50, with.p99, spans.Load(), with.requests)
		dropsMu.Lock()
		b.Logf("drops reported so far (ebpftap.capture.dropped): %v", drops)
		dropsMu.Unlock()
		ps := r.tap.ParserStats()
		b.Logf("engine %+v; parser: gaps %d, malformed %d, not HTTP %d, unmatched %d", r.engine.Stats(),
			ps.CaptureGap.Load(), ps.Malformed.Load(), ps.NotHTTP.Load(), ps.UnmatchedResponse.Load())
	}
}

type wrkResult struct {
	rps      float64
	requests int64
	p50, p99 time.Duration
}

var (
	wrkRequests = regexp.MustCompile(`(\d+) requests in`)
	wrkRPS      = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	wrkP50      = regexp.MustCompile(`50%\s+([\d.]+)(us|ms|s)`)
	wrkP99      = regexp.MustCompile(`99%\s+([\d.]+)(us|ms|s)`)
)

func runWrk(b *testing.B, url, duration string) wrkResult {
	b.Helper()
	out, err := exec.Command("wrk", "-t2", "-c16", "-d"+duration, "--latency", url).CombinedOutput()
	if err != nil {
		b.Fatalf("wrk: %v\n%s", err, out)
	}
	var r wrkResult
	if m := wrkRequests.FindSubmatch(out); m != nil {
		r.requests, _ = strconv.ParseInt(string(m[1]), 10, 64)
	}
	if m := wrkRPS.FindSubmatch(out); m != nil {
		r.rps, _ = strconv.ParseFloat(string(m[1]), 64)
	}
	r.p50, r.p99 = wrkLatency(wrkP50.FindSubmatch(out)), wrkLatency(wrkP99.FindSubmatch(out))
	if r.requests == 0 || r.rps == 0 || r.p50 == 0 || r.p99 == 0 {
		b.Fatalf("cannot read wrk's report:\n%s", out)
	}
	return r
}

func wrkLatency(m [][]byte) time.Duration {
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[string(m[2])]
	return time.Duration(v * float64(unit))
}

// processCPU is the user and system time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// samplePeakHeap samples the heap in use every 10 ms until the returned
// function is called, which returns the largest sample.
func samplePeakHeap() func() uint64 {
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var ms runtime.MemStats
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 {
		close(stop)
		<-done
		return peak.Load()
	}
}
