package ebpftapreceiver

import (
	"bufio"
	"bytes"
	"context"
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
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.yaml.in/yaml/v3"

	"github.com/ebpftap/ebpftap/internal/e2e"
)

// Bounds of TestE2EDistribution's waits. The build bound covers a cold module
// cache on a 2-core machine (about 3 minutes measured); the others are
// generous multiples of what a working collector needs.
const (
	distBuildTimeout    = 15 * time.Minute
	distReadyTimeout    = 30 * time.Second
	distSpanTimeout     = 30 * time.Second
	distShutdownTimeout = 15 * time.Second
)

// TestE2EDistribution builds the collector distribution with ocb from the
// repository's builder-config.yaml, runs it with the repository's config.yaml,
// sends one HTTP request on loopback and expects its span in the file
// exporter's output.
func TestE2EDistribution(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: builds the collector distribution with ocb, which takes minutes")
	}
	e2e.RequireBPF(t)

	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(root, "go.mod"), "repository root")
	dir := t.TempDir()

	bin := buildDistribution(t, root, filepath.Join(dir, "dist"))

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
	collector := startCollector(t, bin, logPath, filepath.Join(root, "config.yaml"), override)

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
	require.NoError(t, collector.stop(), "collector shutdown; log:\n%s", tail(logPath))
	if !found {
		info, statErr := os.Stat(output)
		size := "no output file"
		if statErr == nil {
			size = fmt.Sprintf("%d bytes of output", info.Size())
		}
		t.Fatalf("no span with http.request.method=%s and path %q within %s (%s); collector log:\n%s",
			method, path, distSpanTimeout, size, tail(logPath))
	}
}

// buildDistribution runs ocb with a copy of the repository's manifest whose
// output goes to outDir, and returns the binary's path. The repository's
// _build is left alone so that a concurrent `make run` keeps its binary.
func buildDistribution(t *testing.T, root, outDir string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	require.NoError(t, err, "the go command is needed to run ocb")

	manifest := rewriteManifest(t, filepath.Join(root, "builder-config.yaml"), outDir)
	ctx, cancel := context.WithTimeout(context.Background(), distBuildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "tool", "builder", "--config", manifest)
	cmd.Dir = root // `go tool` resolves builder from the repository's go.mod
	start := time.Now()
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "ocb build:\n%s", out)
	t.Logf("ocb built the distribution in %s", time.Since(start).Round(time.Second))

	bin := filepath.Join(outDir, "otelcol-ebpftap")
	require.FileExists(t, bin)
	return bin
}

// rewriteManifest writes a copy of the ocb manifest at src with its output
// path set to outDir and every relative replace made absolute: ocb writes
// replaces verbatim into outDir/go.mod, so a path relative to the original
// output directory would point nowhere from outDir.
func rewriteManifest(t *testing.T, src, outDir string) string {
	t.Helper()
	raw, err := os.ReadFile(src)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, yaml.Unmarshal(raw, &m), "parsing %s", src)

	dist, ok := m["dist"].(map[string]any)
	require.True(t, ok, "%s has no dist section", src)
	origOut, _ := dist["output_path"].(string)
	require.NotEmpty(t, origOut, "%s has no dist.output_path", src)
	origOut = filepath.Join(filepath.Dir(src), origOut)
	dist["output_path"] = outDir

	if replaces, ok := m["replaces"].([]any); ok {
		for i, r := range replaces {
			s, _ := r.(string)
			from, to, ok := strings.Cut(s, "=>")
			require.True(t, ok, "replace %q in %s has no =>", s, src)
			to = strings.TrimSpace(to)
			if strings.HasPrefix(to, ".") {
				to = filepath.Join(origOut, to)
			}
			replaces[i] = strings.TrimSpace(from) + " => " + to
		}
	}

	out, err := yaml.Marshal(m)
	require.NoError(t, err)
	path := filepath.Join(filepath.Dir(outDir), "builder-config.yaml")
	require.NoError(t, os.WriteFile(path, out, 0o600))
	return path
}

type runningCollector struct {
	cmd  *exec.Cmd
	done chan error // receives Wait's result once
	err  error
	gone bool
}

// startCollector runs bin with the given configs, its output in logPath, and
// returns once the collector reports it is ready.
func startCollector(t *testing.T, bin, logPath string, configs ...string) *runningCollector {
	t.Helper()
	logFile, err := os.Create(logPath)
	require.NoError(t, err)
	defer logFile.Close()

	args := make([]string, 0, 2*len(configs))
	for _, c := range configs {
		args = append(args, "--config", c)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = filepath.Dir(logPath)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	require.NoError(t, cmd.Start())

	c := &runningCollector{cmd: cmd, done: make(chan error, 1)}
	go func() { c.done <- cmd.Wait() }()
	t.Cleanup(func() {
		if !c.gone {
			_ = cmd.Process.Kill()
			c.wait()
		}
	})

	deadline := time.Now().Add(distReadyTimeout)
	for {
		log, _ := os.ReadFile(logPath)
		if bytes.Contains(log, []byte("Everything is ready")) {
			return c
		}
		select {
		case err := <-c.done:
			c.gone, c.err = true, err
			t.Fatalf("collector exited before it was ready (%v); log:\n%s", err, tail(logPath))
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("collector not ready within %s; log:\n%s", distReadyTimeout, tail(logPath))
		}
	}
}

func (c *runningCollector) wait() error {
	if !c.gone {
		c.err, c.gone = <-c.done, true
	}
	return c.err
}

// stop sends SIGTERM and returns an error unless the collector exits with
// status 0 within distShutdownTimeout.
func (c *runningCollector) stop() error {
	if c.gone {
		return fmt.Errorf("collector had already exited: %w", c.err)
	}
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("sending SIGTERM to the collector: %w", err)
	}
	select {
	case err := <-c.done:
		c.gone, c.err = true, err
		if err != nil {
			return fmt.Errorf("collector exit after SIGTERM: %w", err)
		}
		return nil
	case <-time.After(distShutdownTimeout):
		return errors.New("collector still running " + distShutdownTimeout.String() + " after SIGTERM")
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
	f, err := os.Open(output)
	if errors.Is(err, os.ErrNotExist) {
		return false
	}
	require.NoError(t, err)
	defer f.Close()

	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	var um ptrace.JSONUnmarshaler
	for sc.Scan() {
		// A line being written may be cut.
		if !bytes.HasPrefix(sc.Bytes(), []byte(`{"resourceSpans"`)) {
			continue
		}
		td, err := um.UnmarshalTraces(sc.Bytes())
		if err != nil {
			continue
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
	require.NoError(t, sc.Err(), "reading %s", output)
	return false
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

// tail returns the last lines of the file at path, for failure messages.
func tail(path string) string {
	const keep = 60
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(reading %s: %v)", path, err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > keep {
		lines = append([]string{fmt.Sprintf("... %d lines before", len(lines)-keep)}, lines[len(lines)-keep:]...)
	}
	return strings.Join(lines, "\n")
}
