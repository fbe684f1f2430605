package examples_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/ebpftap/ebpftap/internal/e2e"
)

// distSpanTimeout bounds the wait for a request's span: a generous multiple of
// what a working collector needs.
const distSpanTimeout = 30 * time.Second

// TestE2EDistribution runs the distribution with the repository's config.yaml,
// sends one HTTP request on loopback and expects its span in the file
// exporter's output.
func TestE2EDistribution(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: builds the collector distribution with ocb, which takes minutes")
	}
	e2e.RequireBPF(t)

	root := e2e.RepoRoot(t)
	dir := t.TempDir()
	bin := e2e.Distribution(t)

	output := filepath.Join(dir, "traces.json")
	override := filepath.Join(dir, "override.yaml")
	require.NoError(t, os.WriteFile(override, fmt.Appendf(nil, `receivers:
  ebpftap:
    ignore_loopback: false
exporters:
  file/traces:
    path: %q
    flush_interval: 100ms
  file/logs:
    path: %q
  file/metrics:
    path: %q
service:
  telemetry:
    # The default internal metrics endpoint (:8888) may be taken on a developer's machine.
    metrics:
      level: none
`, output, filepath.Join(dir, "logs.json"), filepath.Join(dir, "metrics.json")), 0o600))

	logPath := filepath.Join(dir, "collector.log")
	collector := e2e.StartCollector(t, bin, logPath, filepath.Join(root, "config.yaml"), override)

	const method = http.MethodGet
	path := "/ebpftap-e2e/" + randomHex(t, 8)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	}))
	defer srv.Close()
	url := srv.URL + path

	// The request is repeated until its span shows up, so a probe that
	// attaches a little after "ready" does not fail the test; the loop is
	// bounded by distSpanTimeout.
	var found bool
	deadline := time.Now().Add(distSpanTimeout)
	for !found && time.Now().Before(deadline) {
		sendRequest(t, url)
		time.Sleep(time.Second)
		found = outputHasSpan(t, output, method, path)
	}

	// Shutdown is checked whether or not the span came: a clean exit on
	// SIGTERM is part of what a distribution must do.
	require.NoError(t, collector.Stop(), "collector shutdown; log:\n%s", collector.Log())
	if !found {
		info, statErr := os.Stat(output)
		size := "no output file"
		if statErr == nil {
			size = fmt.Sprintf("%d bytes of output", info.Size())
		}
		t.Fatalf("no span with http.request.method=%s and path %q within %s (%s); collector log:\n%s",
			method, path, distSpanTimeout, size, collector.Log())
	}
}

// sendRequest makes one GET to url from a separate process, as a real client
// would be: curl when it is installed, else this test process itself.
func sendRequest(t *testing.T, url string) {
	t.Helper()
	if curl, err := exec.LookPath("curl"); err == nil {
		out, err := exec.Command(curl, "-sS", "--max-time", "5", "-o", "/dev/null", url).CombinedOutput()
		require.NoError(t, err, "curl %s: %s", url, out)
		return
	}
	// No keep-alive: an idle connection would outlive the test and trip goleak.
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(url)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	require.NoError(t, resp.Body.Close())
}

// outputHasSpan reports whether the file exporter's output holds a span with
// the given method and an attribute (url.path on the server side, url.full on
// the client side) that contains path.
func outputHasSpan(t *testing.T, output, method, path string) bool {
	t.Helper()
	var um ptrace.JSONUnmarshaler
	for line := range bytes.Lines(readExported(t, output)) {
		td, err := um.UnmarshalTraces(line)
		if err != nil {
			continue // a line being written may be cut
		}
		for _, rs := range td.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, span := range ss.Spans().All() {
					attrs := span.Attributes()
					m, ok := attrs.Get("http.request.method")
					if !ok || m.AsString() != method {
						continue
					}
					for _, key := range []string{"url.path", "url.full"} {
						if v, ok := attrs.Get(key); ok && strings.Contains(v.AsString(), path) {
							return true
						}
					}
				}
			}
		}
	}
	return false
}

// readExported returns what the file exporter wrote to path so far, one
// OTLP/JSON document a line, or nothing while the file does not exist.
func readExported(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	require.NoError(t, err)
	return b
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

// TestE2EDistributionKilled kills a capturing collector with SIGKILL, which
// runs none of its shutdown code, and checks the kernel keeps nothing of
// it: no BPF program, map or link it held, no tracefs probe it added.
func TestE2EDistributionKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: builds the collector distribution with ocb, which takes minutes")
	}
	e2e.RequireBPF(t)
	if _, err := exec.LookPath("bpftool"); err != nil {
		t.Fatal("bpftool is needed to list the kernel's BPF objects (apt-get install bpftool)")
	}
	bin := e2e.Distribution(t)
	dir := t.TempDir()
	override := filepath.Join(dir, "override.yaml")
	require.NoError(t, os.WriteFile(override, fmt.Appendf(nil, `exporters:
  file/traces: {path: %q}
  file/logs: {path: %q}
  file/metrics: {path: %q}
service:
  telemetry:
    metrics:
      level: none
`, filepath.Join(dir, "t.json"), filepath.Join(dir, "l.json"), filepath.Join(dir, "m.json")), 0o600))

	probesBefore := tracefsProbes(t)
	collector := e2e.StartCollector(t, bin, filepath.Join(dir, "collector.log"), filepath.Join(e2e.RepoRoot(t), "config.yaml"), override)
	held := map[string][]uint32{}
	for _, kind := range []string{"prog", "map", "link"} {
		held[kind] = e2e.HeldBPF(t, kind, collector.PID())
	}
	require.NotEmpty(t, held["prog"], "the running collector holds no BPF program; log:\n%s", collector.Log())
	require.NotEmpty(t, held["map"], "the running collector holds no BPF map")
	require.NotEmpty(t, held["link"], "the running collector holds no BPF link")
	t.Logf("the collector holds %d programs, %d maps and %d links", len(held["prog"]), len(held["map"]), len(held["link"]))

	require.NoError(t, collector.Kill())
	// The kernel frees what a dead process held once its last file is
	// closed, after an RCU grace period: allow it a moment.
	deadline := time.Now().Add(10 * time.Second)
	remaining := func() map[string]int {
		left := map[string]int{}
		for kind, ids := range held {
			if n := e2e.ListedBPF(t, kind, ids); n > 0 {
				left[kind] = n
			}
		}
		return left
	}
	left := remaining()
	for len(left) > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		left = remaining()
	}
	require.Empty(t, left, "after SIGKILL the kernel still lists these of the collector's objects, by kind")
	require.Equal(t, probesBefore, tracefsProbes(t), "tracefs probes before the collector ran and after it was killed")
}

// tracefsProbes returns the uprobe and kprobe events defined in tracefs; a
// probe added through tracefs (the fallback where perf events cannot carry
// it) would outlive a killed process there.
func tracefsProbes(t *testing.T) string {
	t.Helper()
	var all []string
	for _, f := range []string{"uprobe_events", "kprobe_events"} {
		for _, root := range []string{"/sys/kernel/tracing", "/sys/kernel/debug/tracing"} {
			b, err := os.ReadFile(filepath.Join(root, f))
			if err == nil {
				all = append(all, string(b))
				break
			}
		}
	}
	return strings.Join(all, "")
}
