package ebpftapreceiver

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/ebpftap/ebpftap/internal/e2e"
	"github.com/ebpftap/ebpftap/receiver/ebpftapreceiver/internal/metadata"
)

// e2eSinks are the pipelines an end-to-end test's receiver feeds.
type e2eSinks struct {
	traces  *consumertest.TracesSink
	logs    *consumertest.LogsSink
	metrics *consumertest.MetricsSink
}

// startE2EReceiver starts the receiver, all three signals, with cfg changed
// by edit, and stops it when the test ends.
func startE2EReceiver(t testing.TB, edit func(*Config)) (*ebpftapReceiver, e2eSinks) {
	t.Helper()
	s := e2eSinks{new(consumertest.TracesSink), new(consumertest.LogsSink), new(consumertest.MetricsSink)}
	return startReceiverWith(t, edit, s.traces, s.logs, s.metrics), s
}

// startReceiverWith starts the receiver feeding the given consumers.
func startReceiverWith(t testing.TB, edit func(*Config), traces consumer.Traces, logs consumer.Logs, metrics consumer.Metrics) *ebpftapReceiver {
	t.Helper()
	return startReceiverSet(t, receivertest.NewNopSettings(metadata.Type), edit, traces, logs, metrics)
}

// startReceiverSet starts the receiver with the given settings (its own
// telemetry's among them) feeding the given consumers.
func startReceiverSet(t testing.TB, set receiver.Settings, edit func(*Config), traces consumer.Traces, logs consumer.Logs, metrics consumer.Metrics) *ebpftapReceiver {
	t.Helper()
	e2e.RequireBPF(t)
	f := NewFactory()
	cfg := f.CreateDefaultConfig().(*Config)
	cfg.Direction = DirectionAll
	cfg.IgnoreLoopback = false
	cfg.MetricsInterval = 500 * time.Millisecond
	if edit != nil {
		edit(cfg)
	}
	ctx := context.Background()
	tr, err := f.CreateTraces(ctx, set, cfg, traces)
	if err != nil {
		t.Fatal(err)
	}
	lr, err := f.CreateLogs(ctx, set, cfg, logs)
	if err != nil {
		t.Fatal(err)
	}
	mr, err := f.CreateMetrics(ctx, set, cfg, metrics)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []component.Component{tr, lr, mr} {
		if err := c.Start(ctx, componenttest.NewNopHost()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := c.Shutdown(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
	return tr.(interface{ Unwrap() *ebpftapReceiver }).Unwrap()
}

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// strippedPrograms are also built with -ldflags="-s -w" as name-stripped:
// no symbol table, so their functions are found from .gopclntab.
var strippedPrograms = []string{"goclient", "goserver"}

// e2eProgram builds (once per test binary) the test program testdata/e2e/name
// and returns its path.
func e2eProgram(t testing.TB, name string) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "ebpftap-e2e-")
		if buildErr != nil {
			return
		}
		builds := [][]string{{"-o", binDir + "/", "../../testdata/e2e/..."}}
		for _, p := range strippedPrograms {
			builds = append(builds, []string{"-ldflags=-s -w", "-o", filepath.Join(binDir, p+"-stripped"), "../../testdata/e2e/" + p})
		}
		for _, args := range builds {
			out, err := exec.Command("go", append([]string{"build"}, args...)...).CombinedOutput()
			if err != nil {
				buildErr = &buildError{err, string(out)}
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, name)
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return "building test programs: " + e.err.Error() + "\n" + e.out }

// startServer runs a server process that prints its port on its first line,
// and stops it when the test ends.
func startServer(t testing.TB, name string, args ...string) int {
	t.Helper()
	_, out := startProcess(t, name, args...)
	line, err := out.ReadString('\n')
	if err != nil {
		t.Fatalf("%s did not print its port: %v", name, err)
	}
	port, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("%s printed %q, not a port", name, line)
	}
	return port
}

// startProcess runs a process and returns it with its stdout, read line by
// line; it is killed when the test ends.
func startProcess(t testing.TB, name string, args ...string) (*exec.Cmd, *bufio.Reader) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd, bufio.NewReader(out)
}

// run runs a client to completion and fails the test if it fails.
func run(t *testing.T, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

// capturedSpan is a span with its process, flattened for assertions.
type capturedSpan struct {
	exe  string
	kind ptrace.SpanKind
	span ptrace.Span
	res  pcommon.Resource
}

func (c capturedSpan) str(key string) string {
	if v, ok := c.span.Attributes().Get(key); ok {
		return v.AsString()
	}
	return ""
}

func (c capturedSpan) int(key string) int64 {
	if v, ok := c.span.Attributes().Get(key); ok {
		return v.Int()
	}
	return -1
}

// spansWhere returns the spans received so far that match.
func spansWhere(sink *consumertest.TracesSink, match func(capturedSpan) bool) []capturedSpan {
	var out []capturedSpan
	for _, td := range sink.AllTraces() {
		for i := 0; i < td.ResourceSpans().Len(); i++ {
			rs := td.ResourceSpans().At(i)
			exe, _ := rs.Resource().Attributes().Get("process.executable.name")
			for j := 0; j < rs.ScopeSpans().Len(); j++ {
				ss := rs.ScopeSpans().At(j).Spans()
				for k := 0; k < ss.Len(); k++ {
					c := capturedSpan{exe: exe.Str(), kind: ss.At(k).Kind(), span: ss.At(k), res: rs.Resource()}
					if match(c) {
						out = append(out, c)
					}
				}
			}
		}
	}
	return out
}

// waitSpans waits until want spans match, then a little longer to catch
// duplicates, and returns what matched.
func waitSpans(t *testing.T, sink *consumertest.TracesSink, want int, match func(capturedSpan) bool) []capturedSpan {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && len(spansWhere(sink, match)) < want {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(2 * flushInterval)
	got := spansWhere(sink, match)
	if len(got) != want {
		for _, s := range got {
			t.Logf("%v %s trace=%s span=%s conn=%d start=%v attrs=%v", s.kind, s.exe, s.span.TraceID(), s.span.SpanID(),
				s.int("ebpftap.connection.id"), s.span.StartTimestamp(), s.span.Attributes().AsRaw())
		}
		t.Fatalf("got %d matching spans, want %d", len(got), want)
	}
	return got
}

// byKind splits spans into client and server spans.
func byKind(spans []capturedSpan) (client, server []capturedSpan) {
	for _, s := range spans {
		switch s.kind {
		case ptrace.SpanKindClient:
			client = append(client, s)
		case ptrace.SpanKindServer:
			server = append(server, s)
		}
	}
	return client, server
}

// freePort returns a loopback port that was free a moment ago, for servers
// that cannot be told to pick one.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitListening waits until something accepts connections on port.
func waitListening(t testing.TB, port int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on port %d: %v", port, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// discardingServer starts an HTTP server in this process, which the engine
// never captures, that reads any request body and answers reply; it returns
// the server's port and stops with t.
func discardingServer(t *testing.T, reply string) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, reply)
	})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	return ln.Addr().(*net.TCPAddr).Port
}
