package ebpftapreceiver

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path"
	"strconv"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/ebpftap/ebpftap/receiver/ebpftapreceiver/internal/metadata"
)

// The overload of TestE2ERingBufferOverloadMarksHoles: overloadClients
// clients each POST overloadRequests requests of overloadRequestBody bytes
// on one connection, each answered with overloadResponseBody bytes.
const (
	overloadClients      = 4
	overloadRequests     = 300
	overloadRequestBody  = 2000
	overloadResponseBody = 3000
)

// overloadBody is the body of the message about path: path and a separator
// again and again, so that any piece of it says whose it is.
func overloadBody(path, sep string, n int) []byte {
	return bytes.Repeat([]byte(path+sep), n/(len(path)+1)+1)[:n]
}

// overloadClient POSTs argv[3] requests of argv[4] bytes to
// 127.0.0.1:argv[1] on one connection, with paths /r/argv[2]/i and bodies
// as overloadBody makes them, and checks every response of argv[5] bytes
// (the server echoes the path in X-Path).
const overloadClient = `import http.client, sys
port, cid, n, size, rsize = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
c = http.client.HTTPConnection("127.0.0.1", port)
for i in range(n):
    path = "/r/%s/%d" % (cid, i)
    body = ((path + ";").encode() * (size // (len(path) + 1) + 1))[:size]
    c.request("POST", path, body=body, headers={"Content-Type": "text/plain"})
    r = c.getresponse()
    data = r.read()
    assert r.status == 200 and len(data) == rsize and r.getheader("X-Path") == path, (r.status, len(data))
c.close()
print("ok")`

// TestE2ERingBufferOverloadMarksHoles overloads a 64 KiB ring buffer with
// HTTP exchanges whose every byte the test knows, and checks that nothing
// exported is silently wrong: every span or log record not marked
// incomplete or truncated carries exactly the exchange's method, path,
// status, body sizes and (at level full) bodies and headers; a truncated
// body is a prefix of the real one. The loss must show: transactions marked,
// ring_buffer_full counted in ebpftap.capture.dropped, and the collector's
// own receiver telemetry must count every span and log record handed over.
func TestE2ERingBufferOverloadMarksHoles(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	set := receivertest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	sinks := e2eSinks{new(consumertest.TracesSink), new(consumertest.LogsSink), new(consumertest.MetricsSink)}
	r := startReceiverSet(t, set, func(c *Config) {
		c.Engine.RingBufferSize = 64 << 10
		c.Capture.Level = LevelFull
		c.Capture.MaxBodyBytes = 1 << 16
	}, sinks.traces, sinks.logs, sinks.metrics)

	// The server runs in this process, which the engine never captures:
	// only the clients' ends are seen.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		if err != nil || !bytes.Equal(body, overloadBody(req.URL.Path, ";", overloadRequestBody)) {
			http.Error(w, "wrong body", http.StatusBadRequest)
			return
		}
		w.Header().Set("X-Path", req.URL.Path)
		w.Header().Set("Content-Type", "text/plain")
		if n, _ := strconv.Atoi(path.Base(req.URL.Path)); n%2 == 0 { // else chunked
			w.Header().Set("Content-Length", strconv.Itoa(overloadResponseBody))
		}
		w.Write(overloadBody(req.URL.Path, "|", overloadResponseBody))
	})}
	go srv.Serve(ln)
	defer srv.Close()
	port := ln.Addr().(*net.TCPAddr).Port

	var clients sync.WaitGroup
	errs := make(chan error, overloadClients)
	for i := range overloadClients {
		clients.Add(1)
		go func() {
			defer clients.Done()
			out, err := exec.Command("python3", "-c", overloadClient, strconv.Itoa(port), strconv.Itoa(i), strconv.Itoa(overloadRequests),
				strconv.Itoa(overloadRequestBody), strconv.Itoa(overloadResponseBody)).CombinedOutput()
			if err != nil || string(out) != "ok\n" {
				errs <- fmt.Errorf("client %d: %v\n%s", i, err, out)
			}
		}()
	}
	clients.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := r.Shutdown(context.Background()); err != nil { // flushes everything
		t.Fatal(err)
	}

	ours := func(s capturedSpan) bool {
		return s.kind == ptrace.SpanKindClient && s.int("server.port") == int64(port)
	}
	spans := spansWhere(sinks.traces, ours)
	var marked, exact, noResponse int
	for _, s := range spans {
		reqMarked := s.flag("ebpftap.http.request.incomplete") || s.flag("ebpftap.http.request.body.truncated") ||
			s.int("ebpftap.http.request.body.lost") > 0
		respMarked := s.flag("ebpftap.http.response.incomplete") || s.flag("ebpftap.http.response.body.truncated") ||
			s.int("ebpftap.http.response.body.lost") > 0
		if reqMarked || respMarked {
			marked++
		} else if s.int("http.response.status_code") != -1 {
			exact++
		}
		u := s.str("url.full")
		if !reqMarked {
			if s.str("http.request.method") != "POST" || !strings.Contains(u, "/r/") || s.int("http.request.body.size") != overloadRequestBody {
				t.Errorf("unmarked request wrong: %v", s.span.Attributes().AsRaw())
			}
		}
		switch {
		case reqMarked || respMarked:
		case s.int("http.response.status_code") == -1:
			// No response seen: the span must say so.
			if s.str("error.type") != "ebpftap.no_response" {
				t.Errorf("no response to %s, unmarked: %v", u, s.span.Attributes().AsRaw())
			}
			noResponse++
		case s.int("http.response.status_code") != 200 || s.int("http.response.body.size") != overloadResponseBody:
			t.Errorf("unmarked response to %s wrong: %v", u, s.span.Attributes().AsRaw())
		case !strings.HasSuffix(u, first(s.strs("http.response.header.x-path"))):
			t.Errorf("the response to %s is another's: %v", u, s.span.Attributes().AsRaw())
		}
	}
	records := overloadLogRecords(sinks.logs, port)
	if len(records) == 0 {
		t.Error("no log record of the exchanges with the overload server")
	}
	for _, lr := range records {
		checkOverloadRecord(t, lr)
	}

	ringFull := lastDropped(sinks.metrics, metadata.AttributeEbpftapDropReasonRingBufferFull.String())
	t.Logf("%d clients × %d exchanges: %d spans exported, %d exact, %d marked incomplete or truncated, %d without a response; %d log records; ring_buffer_full drops %d, capture gaps %d",
		overloadClients, overloadRequests, len(spans), exact, marked, noResponse, len(records), ringFull,
		lastDropped(sinks.metrics, metadata.AttributeEbpftapDropReasonHTTPCaptureGap.String()))
	if marked == 0 || ringFull == 0 {
		t.Errorf("%d transactions marked and %d events dropped for a full ring buffer: the load did not overload it", marked, ringFull)
	}
	if exact == 0 {
		t.Error("no transaction came out whole: the check of unmarked ones checked nothing")
	}

	// The collector's own telemetry counts what the pipelines were given.
	if got, want := telemetrySum(t, tel, "otelcol_receiver_accepted_spans"), int64(sinks.traces.SpanCount()); got != want {
		t.Errorf("otelcol_receiver_accepted_spans %d; the pipeline got %d", got, want)
	}
	if got, want := telemetrySum(t, tel, "otelcol_receiver_accepted_log_records"), int64(sinks.logs.LogRecordCount()); got != want {
		t.Errorf("otelcol_receiver_accepted_log_records %d; the pipeline got %d", got, want)
	}
	var points int64
	for _, md := range sinks.metrics.AllMetrics() {
		points += int64(md.DataPointCount())
	}
	if got := telemetrySum(t, tel, "otelcol_receiver_accepted_metric_points"); got != points {
		t.Errorf("otelcol_receiver_accepted_metric_points %d; the pipeline got %d", got, points)
	}
}

// strs returns the values of a string slice attribute.
func (c capturedSpan) strs(key string) []string {
	var out []string
	if v, ok := c.span.Attributes().Get(key); ok && v.Type() == pcommon.ValueTypeSlice {
		for i := 0; i < v.Slice().Len(); i++ {
			out = append(out, v.Slice().At(i).AsString())
		}
	}
	return out
}

func first(s []string) string {
	if len(s) == 0 {
		return "\x00none"
	}
	return s[0]
}

func (c capturedSpan) flag(key string) bool {
	v, ok := c.span.Attributes().Get(key)
	return ok && v.Bool()
}

// overloadRecord is the part of a log record the overload test checks.
type overloadRecord struct {
	url   string // from the record's line
	attrs pcommon.Map
}

// overloadLogRecords returns the log records of exchanges with the
// overload server on port.
func overloadLogRecords(sink *consumertest.LogsSink, port int) []overloadRecord {
	var out []overloadRecord
	host := "127.0.0.1:" + strconv.Itoa(port)
	for _, ld := range sink.AllLogs() {
		for _, rl := range ld.ResourceLogs().All() {
			for _, sl := range rl.ScopeLogs().All() {
				for _, lr := range sl.LogRecords().All() {
					// "METHOD URL STATUS DURATION"
					line := strings.Fields(lr.Body().AsString())
					if len(line) < 2 || !strings.Contains(line[1], host) {
						continue
					}
					out = append(out, overloadRecord{url: line[1], attrs: lr.Attributes()})
				}
			}
		}
	}
	return out
}

// checkOverloadRecord fails t when a message of the record is unmarked and
// not exactly what was sent, or marked truncated and not a prefix of it.
func checkOverloadRecord(t *testing.T, rec overloadRecord) {
	t.Helper()
	_, path, _ := strings.Cut(strings.TrimPrefix(rec.url, "http://"), "/")
	path = "/" + path
	flag := func(key string) bool {
		v, ok := rec.attrs.Get(key)
		return ok && v.Bool()
	}
	check := func(name string, want []byte) {
		if flag("ebpftap.http." + name + ".incomplete") {
			return // marked: may be anything the capture saw
		}
		v, ok := rec.attrs.Get("ebpftap.http." + name + ".body")
		if !ok {
			t.Errorf("%s %s: unmarked, no body", path, name)
			return
		}
		got := []byte(v.AsString())
		if v.Type() == pcommon.ValueTypeBytes {
			got = v.Bytes().AsRaw()
		}
		if flag("ebpftap.http." + name + ".body.truncated") {
			if !bytes.HasPrefix(want, got) {
				t.Errorf("%s %s: truncated body %q... is not a prefix of what was sent", path, name, got[:min(len(got), 40)])
			}
			return
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s %s: unmarked body of %d bytes is not the %d sent", path, name, len(got), len(want))
		}
	}
	if flag("ebpftap.http.request.incomplete") {
		return // the request's path itself may be partial
	}
	check("request", overloadBody(path, ";", overloadRequestBody))
	status, hasResponse := rec.attrs.Get("http.response.status_code")
	if !hasResponse || flag("ebpftap.http.response.incomplete") {
		return
	}
	if status.Int() != 200 {
		t.Errorf("%s: unmarked response with status %d", path, status.Int())
	}
	if xp, ok := rec.attrs.Get("http.response.header.x-path"); ok && (xp.Slice().Len() != 1 || xp.Slice().At(0).AsString() != path) {
		t.Errorf("%s: the response of another request (x-path %v)", path, xp.AsRaw())
	}
	check("response", overloadBody(path, "|", overloadResponseBody))
}

// telemetrySum is the sum of the points of one of the collector's own
// counters.
func telemetrySum(t *testing.T, tel *componenttest.Telemetry, name string) int64 {
	t.Helper()
	m, err := tel.GetMetric(name)
	if err != nil {
		t.Fatalf("the receiver's telemetry has no %s: %v", name, err)
	}
	sum, ok := m.Data.(metricdata.Sum[int64])
	if !ok {
		t.Fatalf("%s is a %T, not an int64 sum", name, m.Data)
	}
	var n int64
	for _, dp := range sum.DataPoints {
		n += dp.Value
	}
	return n
}

// lastDropped is the ebpftap.capture.dropped total for reason in the last
// emission that has it: the metric is cumulative.
func lastDropped(sink *consumertest.MetricsSink, reason string) int64 {
	var n int64
	for _, md := range sink.AllMetrics() {
		if d := droppedFor([]pmetric.Metrics{md}, reason); d > 0 {
			n = d
		}
	}
	return n
}
