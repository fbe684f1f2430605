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
