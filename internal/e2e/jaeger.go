package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Bounds of Jaeger's build and start. A cold build took 3.5 minutes on a
// 2-core machine (about 320 modules, none shared with the distribution's
// versions); a warm one takes seconds.
const (
	jaegerBuildTimeout = 15 * time.Minute
	jaegerQueryTimeout = 30 * time.Second
)

var jaegerBuild onceBuild

// Jaeger builds Jaeger v2 from the tools/jaeger module, once per test binary,
// into _build/e2e/jaeger, and returns the binary's path. Jaeger has a module
// of its own because it is built on other collector versions than this
// repository (see tools/jaeger/go.mod).
func Jaeger(t testing.TB) string {
	t.Helper()
	root := RepoRoot(t)
	return jaegerBuild.do(func() (string, error) {
		return buildJaeger(root, filepath.Join(root, "_build", "e2e"))
	}).binary(t, "go built Jaeger")
}

func buildJaeger(root, outDir string) (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("the go command is needed to build Jaeger: %w", err)
	}
	bin := filepath.Join(outDir, "jaeger")
	ctx, cancel := context.WithTimeout(context.Background(), jaegerBuildTimeout)
	defer cancel()
	// -buildvcs=false: the module sits inside this repository's checkout, and
	// stamping its VCS state would make the build depend on git and on the
	// checkout's ownership; Jaeger's version is of no use to the tests.
	cmd := exec.CommandContext(ctx, goBin, "build", "-buildvcs=false", "-o", bin, "github.com/jaegertracing/jaeger/cmd/jaeger")
	cmd.Dir = filepath.Join(root, "tools", "jaeger")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building Jaeger in %s: %w\n%s", cmd.Dir, err, out)
	}
	return bin, nil
}

// JaegerServer is a running Jaeger v2 with in-memory storage, listening on
// loopback only.
type JaegerServer struct {
	*Collector        // Jaeger v2 is a collector distribution: same start, readiness and stop
	OTLPGRPC   string // host:port of its OTLP gRPC receiver
	QueryURL   string // base URL of its query service's HTTP API (and UI)
}

// StartJaeger runs the Jaeger binary bin with in-memory storage, an OTLP gRPC
// receiver and its query service on free loopback ports, its config and log
// in dir, and returns once its query API answers. It is killed at the end of
// t unless it was stopped.
func StartJaeger(t testing.TB, bin, dir string) *JaegerServer {
	t.Helper()
	ports := freePorts(t, 3)
	otlpPort, queryPort, queryGRPCPort := ports[0], ports[1], ports[2]
	config := filepath.Join(dir, "jaeger.yaml")
	// Only the components the test needs, so that no default port (8888 for
	// metrics, 16685 for the query gRPC API, 13133, ...) can collide with
	// something already running. The query service's self-tracing is off:
	// its spans would only be noise.
	err := os.WriteFile(config, fmt.Appendf(nil, `service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
extensions:
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 10000
  jaeger_query:
    storage:
      traces: memstore
    enable_tracing: false
    http:
      endpoint: 127.0.0.1:%d
    grpc:
      endpoint: 127.0.0.1:%d
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:%d
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`, queryPort, queryGRPCPort, otlpPort), 0o600)
	if err != nil {
		t.Fatal(err)
	}

	j := &JaegerServer{
		Collector: StartCollector(t, bin, filepath.Join(dir, "jaeger.log"), config),
		OTLPGRPC:  fmt.Sprintf("127.0.0.1:%d", otlpPort),
		QueryURL:  fmt.Sprintf("http://127.0.0.1:%d", queryPort),
	}
	// "Everything is ready" comes once the extensions started; the query
	// service's HTTP server may still be binding.
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(jaegerQueryTimeout)
	for {
		resp, err := client.Get(j.QueryURL + "/api/v3/services")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return j
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		if time.Now().After(deadline) {
			t.Fatalf("Jaeger's query API at %s did not answer within %s (last: %v); log:\n%s",
				j.QueryURL, jaegerQueryTimeout, err, j.Log())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// freePorts returns n distinct TCP ports on 127.0.0.1 that were free a
// moment ago. Another process may take one before the caller binds it; the
// caller then fails to start with an "address already in use" in its log.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		// Each listener stays open until all are chosen, so that the kernel
		// cannot hand out one port twice.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports
}
