package examples_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/ebpftap/ebpftap/internal/e2e"
)

// jaegerLogTimeout bounds the wait for the log record once its span is in
// Jaeger: the two pipelines flush their batches independently, 200ms apart at
// most, and the file exporter every 100ms here.
const jaegerLogTimeout = 10 * time.Second

// TestE2EJaeger runs the distribution with examples/jaeger.yaml against a
// real Jaeger v2 on loopback: curl makes an HTTPS request to a Go TLS server
// in this process, and both ends' spans must come back from Jaeger's query
// API with their process's attributes, and the client's transaction log
// record, from the logs pipeline, must carry its span's trace and span ids.
func TestE2EJaeger(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: builds the collector distribution with ocb and Jaeger, which takes minutes")
	}
	e2e.RequireBPF(t)
	curl, err := exec.LookPath("curl")
	require.NoError(t, err, "curl is needed (apt-get install curl)")

	root := e2e.RepoRoot(t)
	dir := t.TempDir()
	jaegerBin := e2e.Jaeger(t)
	bin := e2e.Distribution(t)

	jaeger := e2e.StartJaeger(t, jaegerBin, dir)

	// Jaeger on loopback is excluded by its executable's path, as the
	// example's comment advises: its side of each export would otherwise be
	// a span, exported in turn.
	logs := filepath.Join(dir, "logs.json")
	override := filepath.Join(dir, "override.yaml")
	require.NoError(t, os.WriteFile(override, fmt.Appendf(nil, `receivers:
  ebpftap:
    ignore_loopback: false
    filters:
      exclude_processes:
        - {exe: %q, match: exact}
exporters:
  otlp_grpc/jaeger:
    endpoint: %q
  file/logs:
    path: %q
    flush_interval: 100ms
service:
  telemetry:
    # The default internal metrics endpoint (:8888) may be taken on a developer's machine.
    metrics:
      level: none
`, jaegerBin, jaeger.OTLPGRPC, logs), 0o600))

	collector := e2e.StartCollector(t, bin, filepath.Join(dir, "collector.log"),
		filepath.Join(root, "examples", "jaeger.yaml"), override)

	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	}))
	defer srv.Close()

	// Each attempt has its own path and its own curl process, so the span
	// found tells which attempt, and so which pid, it belongs to. Requests
	// repeat until a span shows up: a probe may attach a little after
	// "ready". The loop is bounded by distSpanTimeout.
	start := time.Now()
	base := "/ebpftap-jaeger/" + randomHex(t, 8)
	curlPIDs := map[string]int{} // url.full → pid of the curl that sent it
	var (
		client, server jaegerSpan
		found          bool
	)
	deadline := start.Add(distSpanTimeout)
	for attempt := 0; !found && time.Now().Before(deadline); attempt++ {
		url := fmt.Sprintf("%s%s/%d", srv.URL, base, attempt)
		curlPIDs[url] = curlHTTPS(t, curl, url)
		time.Sleep(time.Second)

		client, found = findJaegerSpan(t, jaeger.QueryURL, "curl", start, func(s jaegerSpan) bool {
			_, ok := curlPIDs[s.str("url.full")]
			return ok
		})
		if found {
			url := client.str("url.full")
			server, found = findJaegerSpan(t, jaeger.QueryURL, filepath.Base(os.Args[0]), start, func(s jaegerSpan) bool {
				return s.span.Kind() == ptrace.SpanKindServer && srv.URL+s.str("url.path") == url
			})
		}
	}
	if !found {
		stopBoth(t, collector, jaeger)
		t.Fatalf("Jaeger had no client span for any of %d requests to %s%s/<attempt>, or no server span for it, within %s; collector log:\n%s\nJaeger log:\n%s",
			len(curlPIDs), srv.URL, base, distSpanTimeout, collector.Log(), jaeger.Log())
	}

	url := client.str("url.full")
	t.Run("client span", func(t *testing.T) {
		assert.Equal(t, ptrace.SpanKindClient, client.span.Kind())
		assert.Equal(t, "GET", client.span.Name())
		checkJaegerProcess(t, client, int64(curlPIDs[url]), curl)
		assert.Contains(t, client.res("process.command_line"), url)
		checkJaegerHTTP(t, client, "openssl")
	})
	t.Run("server span", func(t *testing.T) {
		exe, err := os.Executable()
		require.NoError(t, err)
		assert.Equal(t, "GET", server.span.Name())
		checkJaegerProcess(t, server, int64(os.Getpid()), exe)
		assert.Equal(t, "https", server.str("url.scheme"))
		checkJaegerHTTP(t, server, "go")
		// Both ends were captured here: one trace, the server's span the
		// client's child, with no header in the request.
		assert.Equal(t, client.span.TraceID(), server.span.TraceID(), "one trace")
		assert.Equal(t, client.span.SpanID(), server.span.ParentSpanID(), "the server span's parent")
	})

	// The log record comes through the second pipeline, into the file.
	var record plog.LogRecord
	logDeadline := time.Now().Add(jaegerLogTimeout)
	for found = false; !found && time.Now().Before(logDeadline); {
		record, found = findLogRecord(t, logs, client.span.TraceID(), client.span.SpanID())
		if !found {
			time.Sleep(200 * time.Millisecond)
		}
	}
	stopBoth(t, collector, jaeger)
	if !found {
		t.Fatalf("no log record with trace id %s and span id %s in %s within %s of its span",
			client.span.TraceID(), client.span.SpanID(), logs, jaegerLogTimeout)
	}
	assert.Equal(t, "ebpftap.http.transaction", record.EventName())
	// "GET URL 200 DURATION"
	line := strings.Fields(record.Body().AsString())
	require.Len(t, line, 4, "the log record's line %q", record.Body().AsString())
	assert.Equal(t, []string{"GET", url, "200"}, line[:3], "the log record's method, url and status")
}

// stopBoth stops the collector and then Jaeger, each of which must exit
// cleanly on SIGTERM; the collector first, so that its exports end before
// Jaeger does.
func stopBoth(t *testing.T, collector *e2e.Collector, jaeger *e2e.JaegerServer) {
	t.Helper()
	assert.NoError(t, collector.Stop(), "collector shutdown; log:\n%s", collector.Log())
	assert.NoError(t, jaeger.Stop(), "Jaeger shutdown; log:\n%s", jaeger.Log())
}

// curlHTTPS makes one GET to url with curl, a separate process on OpenSSL,
// and returns curl's pid.
func curlHTTPS(t *testing.T, curl, url string) int {
	t.Helper()
	// -k: the server's certificate is httptest's own. HTTP/1.1, as the
	// server speaks no other.
	cmd := exec.Command(curl, "-sSfk", "--http1.1", "--max-time", "5", "-o", "/dev/null", url)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "curl %s: %s", url, out)
	return cmd.Process.Pid
}

// jaegerSpan is a span as Jaeger's query API returned it, with its resource.
type jaegerSpan struct {
	span     ptrace.Span
	resource pcommon.Resource
}

// str is a span attribute as a string, "" when the span has none.
func (s jaegerSpan) str(key string) string {
	if v, ok := s.span.Attributes().Get(key); ok {
		return v.AsString()
	}
	return ""
}

// res is a resource attribute as a string, "" when the resource has none.
func (s jaegerSpan) res(key string) string {
	if v, ok := s.resource.Attributes().Get(key); ok {
		return v.AsString()
	}
	return ""
}

// findJaegerSpan asks Jaeger's query API (api/v3, OTLP JSON) for the traces
// of service since start and returns the first span that match accepts.
func findJaegerSpan(t *testing.T, queryURL, service string, start time.Time, match func(jaegerSpan) bool) (jaegerSpan, bool) {
	t.Helper()
	q := url.Values{
		"query.service_name":   {service},
		"query.start_time_min": {start.Add(-time.Minute).UTC().Format(time.RFC3339Nano)},
		"query.start_time_max": {time.Now().Add(time.Minute).UTC().Format(time.RFC3339Nano)},
		// Required by the in-memory store; each attempt is a trace of its own.
		"query.num_traces": {"100"},
	}
	// No keep-alive: an idle connection would outlive the test and trip goleak.
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(queryURL + "/api/v3/traces?" + q.Encode())
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	// The API answers 404 until the service has a trace.
	if resp.StatusCode == http.StatusNotFound {
		return jaegerSpan{}, false
	}
	require.Equal(t, http.StatusOK, resp.StatusCode, "Jaeger's /api/v3/traces: %s", body)

	var wrapper struct {
		Result json.RawMessage `json:"result"`
	}
	require.NoError(t, json.Unmarshal(body, &wrapper), "Jaeger's /api/v3/traces: %s", body)
	var um ptrace.JSONUnmarshaler
	td, err := um.UnmarshalTraces(wrapper.Result)
	require.NoError(t, err, "Jaeger's /api/v3/traces result: %s", wrapper.Result)
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, span := range ss.Spans().All() {
				if s := (jaegerSpan{span: span, resource: rs.Resource()}); match(s) {
					return s, true
				}
			}
		}
	}
	return jaegerSpan{}, false
}

// checkJaegerProcess checks the process attributes of s's resource: the
// process that made the span is pid, running exe.
func checkJaegerProcess(t *testing.T, s jaegerSpan, pid int64, exe string) {
	t.Helper()
	attrs := s.resource.Attributes().AsRaw()
	assert.Equal(t, pid, attrs["process.pid"], "process.pid")
	assert.Equal(t, filepath.Base(exe), attrs["process.executable.name"], "process.executable.name")
	assert.Equal(t, filepath.Base(exe), attrs["service.name"], "service.name")
	if real, err := filepath.EvalSymlinks(exe); assert.NoError(t, err) {
		assert.Equal(t, real, attrs["process.executable.path"], "process.executable.path")
	}
	assert.Equal(t, "root", attrs["process.owner"], "process.owner")
}

// checkJaegerHTTP checks the HTTP and TLS attributes of a GET answered 200 by
// httptest's TLS server, seen through library's probes.
func checkJaegerHTTP(t *testing.T, s jaegerSpan, library string) {
	t.Helper()
	attrs := s.span.Attributes().AsRaw()
	assert.Equal(t, "GET", attrs["http.request.method"], "http.request.method")
	assert.Equal(t, int64(200), attrs["http.response.status_code"], "http.response.status_code")
	assert.Equal(t, "1.1", attrs["network.protocol.version"], "network.protocol.version")
	assert.Equal(t, "tls", attrs["tls.protocol.name"], "tls.protocol.name")
	assert.Equal(t, library, attrs["ebpftap.tls.library"], "ebpftap.tls.library")
}

// findLogRecord returns the record with the span ids traceID and spanID in
// the file exporter's output at path.
func findLogRecord(t *testing.T, path string, traceID pcommon.TraceID, spanID pcommon.SpanID) (plog.LogRecord, bool) {
	t.Helper()
	var um plog.JSONUnmarshaler
	for line := range bytes.Lines(readExported(t, path)) {
		ld, err := um.UnmarshalLogs(line)
		if err != nil {
			continue // a line being written may be cut
		}
		for _, rl := range ld.ResourceLogs().All() {
			for _, sl := range rl.ScopeLogs().All() {
				for _, r := range sl.LogRecords().All() {
					if r.TraceID() == traceID && r.SpanID() == spanID {
						return r, true
					}
				}
			}
		}
	}
	return plog.LogRecord{}, false
}
