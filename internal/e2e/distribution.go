package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// Bounds of the distribution's build and runs. The build bound covers a cold
// cache on a 2-core machine (about 4 minutes measured, 330 modules); the others are
// generous multiples of what a working collector needs.
const (
	distBuildTimeout    = 15 * time.Minute
	distReadyTimeout    = 30 * time.Second
	distShutdownTimeout = 15 * time.Second
)

// RepoRoot returns the repository's root: the nearest directory above the
// working directory whose go.mod is this module's.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		mod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(mod, []byte("module github.com/ebpftap/ebpftap\n")) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod of github.com/ebpftap/ebpftap above the working directory")
		}
		dir = parent
	}
}

// Distribution builds the collector distribution with ocb from the
// repository's builder-config.yaml, once per test binary, and returns the
// binary's path. It goes to _build/e2e rather than _build, so that a
// concurrent `make run` keeps its binary.
func Distribution(t testing.TB) string {
	t.Helper()
	root := RepoRoot(t)
	return distributionBuild.do(func() (string, error) {
		return buildDistribution(root, filepath.Join(root, "_build", "e2e"))
	}).binary(t, "ocb built the distribution")
}

var distributionBuild onceBuild

// onceBuild runs a build at most once per test binary: every test that needs
// the binary shares the first build's outcome, failure included.
type onceBuild struct {
	once sync.Once
	done builtBinary
}

// builtBinary is the outcome of one build made for the tests.
type builtBinary struct {
	bin  string
	took time.Duration
	err  error
}

func (o *onceBuild) do(build func() (string, error)) builtBinary {
	o.once.Do(func() {
		start := time.Now()
		bin, err := build()
		o.done = builtBinary{bin: bin, took: time.Since(start), err: err}
	})
	return o.done
}

// binary fails t if the build failed, else logs what was built and how long
// it took (a cold cache takes minutes), and returns the binary's path.
func (b builtBinary) binary(t testing.TB, what string) string {
	t.Helper()
	if b.err != nil {
		t.Fatal(b.err)
	}
	t.Logf("%s in %s", what, b.took.Round(time.Second))
	return b.bin
}

func buildDistribution(root, outDir string) (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("the go command is needed to run ocb: %w", err)
	}
	manifest, err := rewriteManifest(filepath.Join(root, "builder-config.yaml"), outDir)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), distBuildTimeout)
	defer cancel()
	goflags, err := exec.Command(goBin, "env", "GOFLAGS").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOFLAGS: %w", err)
	}
	cmd := exec.CommandContext(ctx, goBin, "tool", "builder", "--config", manifest)
	cmd.Dir = root // `go tool` resolves builder from the repository's go.mod
	// -e, as `make build` passes it: ocb's `go mod tidy` also loads the components' tests, and one
	// of them imports a module the proxy refuses (see OCB_GOFLAGS in the Makefile).
	cmd.Env = append(os.Environ(), "GOFLAGS="+strings.TrimSpace(string(goflags))+" -e")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("ocb build: %w\n%s", err, out)
	}
	bin := filepath.Join(outDir, "otelcol-ebpftap")
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("ocb built no binary: %w", err)
	}
	return bin, nil
}

// rewriteManifest writes a copy of the ocb manifest at src, next to outDir,
// with its output path set to outDir and every relative replace made
// absolute: ocb writes replaces verbatim into outDir/go.mod, so a path
// relative to the original output directory would point nowhere from outDir.
func rewriteManifest(src, outDir string) (string, error) {
	raw, err := os.ReadFile(src)
	if err != nil {
		return "", err
	}
	var m map[string]any
	if err := yaml.Unmarshal(raw, &m); err != nil {
		return "", fmt.Errorf("parsing %s: %w", src, err)
	}
	dist, ok := m["dist"].(map[string]any)
	if !ok {
		return "", fmt.Errorf("%s has no dist section", src)
	}
	origOut, _ := dist["output_path"].(string)
	if origOut == "" {
		return "", fmt.Errorf("%s has no dist.output_path", src)
	}
	origOut = filepath.Join(filepath.Dir(src), origOut)
	dist["output_path"] = outDir

	if replaces, ok := m["replaces"].([]any); ok {
		for i, r := range replaces {
			s, _ := r.(string)
			from, to, ok := strings.Cut(s, "=>")
			if !ok {
				return "", fmt.Errorf("replace %q in %s has no =>", s, src)
			}
			to = strings.TrimSpace(to)
			if strings.HasPrefix(to, ".") {
				to = filepath.Join(origOut, to)
			}
			replaces[i] = strings.TrimSpace(from) + " => " + to
		}
	}

	out, err := yaml.Marshal(m)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(filepath.Dir(outDir), "e2e-builder-config.yaml")
	return path, os.WriteFile(path, out, 0o600)
}

// Collector is a running distribution.
type Collector struct {
	cmd     *exec.Cmd
	logPath string
	done    chan error // receives Wait's result once
	err     error
	gone    bool
}

// StartCollector runs bin with the given configs, its output in logPath, and
// returns once the collector reports it is ready. The collector is killed at
// the end of t unless it was stopped.
func StartCollector(t testing.TB, bin, logPath string, configs ...string) *Collector {
	t.Helper()
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()

	args := make([]string, 0, 2*len(configs))
	for _, c := range configs {
		args = append(args, "--config", c)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = filepath.Dir(logPath)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	c := &Collector{cmd: cmd, logPath: logPath, done: make(chan error, 1)}
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
			t.Fatalf("collector exited before it was ready (%v); log:\n%s", err, Tail(logPath))
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("collector not ready within %s; log:\n%s", distReadyTimeout, Tail(logPath))
		}
	}
}

func (c *Collector) wait() error {
	if !c.gone {
		c.err, c.gone = <-c.done, true
	}
	return c.err
}

// Stop sends SIGTERM and returns an error unless the collector exits with
// status 0 within distShutdownTimeout.
func (c *Collector) Stop() error {
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

// PID is the collector's process id.
func (c *Collector) PID() int { return c.cmd.Process.Pid }

// Kill sends SIGKILL, the end that runs no shutdown code, and waits for the
// process to be gone.
func (c *Collector) Kill() error {
	if c.gone {
		return fmt.Errorf("collector had already exited: %w", c.err)
	}
	if err := c.cmd.Process.Kill(); err != nil {
		return fmt.Errorf("killing the collector: %w", err)
	}
	_ = c.wait() // "signal: killed", as asked
	return nil
}

// Log returns the end of the collector's output, for failure messages.
func (c *Collector) Log() string { return Tail(c.logPath) }

// Tail returns the last lines of the file at path, for failure messages.
func Tail(path string) string {
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
