package ebpftapreceiver

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/ebpftap/ebpftap/internal/e2e"
	"github.com/ebpftap/ebpftap/receiver/ebpftapreceiver/internal/metadata"
)

// unprivilegedChild marks the copy of this test binary that
// TestE2EStartWithoutPrivileges runs as an unprivileged user.
const unprivilegedChild = "EBPFTAP_TEST_UNPRIVILEGED_CHILD"

// TestE2EStartWithoutPrivileges runs Start as user nobody and checks that it
// fails with an error that says which privileges are missing.
func TestE2EStartWithoutPrivileges(t *testing.T) {
	if os.Getenv(unprivilegedChild) != "" {
		startUnprivileged(t)
		return
	}
	e2e.RequireBPF(t) // root, to run the child as another user
	// The child must be able to execute a copy of this binary.
	dir, err := os.MkdirTemp("", "ebpftap-unprivileged-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "receiver.test")
	copyFile(t, os.Args[0], bin)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestE2EStartWithoutPrivileges$", "-test.v")
	cmd.Env = append(os.Environ(), unprivilegedChild+"=1", "HOME="+dir)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestE2EStartWithoutPrivileges") {
		t.Fatalf("unprivileged child: %v\n%s", err, out)
	}
}

func startUnprivileged(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Fatal("the unprivileged child runs as root")
	}
	f := NewFactory()
	cfg := f.CreateDefaultConfig()
	r, err := f.CreateTraces(context.Background(), receivertest.NewNopSettings(metadata.Type), cfg, new(consumertest.TracesSink))
	if err != nil {
		t.Fatal(err)
	}
	err = r.Start(context.Background(), componenttest.NewNopHost())
	if err == nil {
		_ = r.Shutdown(context.Background())
		t.Fatal("Start succeeded without privileges")
	}
	t.Logf("Start: %v", err)
	if msg := err.Error(); !strings.Contains(msg, "root") || !strings.Contains(msg, "CAP_") {
		t.Errorf("error %q does not say which privileges are missing", msg)
	}
	if err := r.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown after a failed Start: %v", err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}

// capabilityChild marks the copy of this test binary that TestE2EPrivileges
// runs under setpriv with a reduced capability set.
const capabilityChild = "EBPFTAP_TEST_CAPABILITY_CHILD"

// childProgramMetrics, as capabilityChild's value, has the child enable the
// BPF programs' metrics.
const childProgramMetrics = "program-metrics"

// bpfStatsEnabled is whether the sysctl has the kernel count every BPF
// program's run time already.
func bpfStatsEnabled(t *testing.T) bool {
	b, err := os.ReadFile("/proc/sys/kernel/bpf_stats_enabled")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b)) == "1"
}

// minimumCapabilities is docs/privileges.md's minimum, as setpriv names them.
var minimumCapabilities = []string{"bpf", "perfmon", "sys_ptrace", "dac_read_search"}

// TestE2EPrivileges runs the receiver as root with the documented minimum
// of capabilities (setpriv --bounding-set) and with each one taken away.
// Processes of another user (nobody) make a plain HTTP request (python3,
// with OTEL_SERVICE_NAME set) and an HTTPS one from a Go program only its
// owner may read. With the minimum, both must come out, the Go one from
// its TLS plaintext, both with their OTEL_SERVICE_NAME: the minimum
// suffices for the whole job. Without CAP_BPF or CAP_PERFMON Start must
// fail naming it; without CAP_SYS_PTRACE or CAP_DAC_READ_SEARCH it must
// start, warn naming it, and lose what docs/privileges.md says it loses.
func TestE2EPrivileges(t *testing.T) {
	if os.Getenv(capabilityChild) != "" {
		runCapabilityChild(t)
		return
	}
	e2e.RequireBPF(t)
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Fatal(err) // util-linux
	}
	cert, key := e2e.SelfSignedCert(t)
	plainPort := startServer(t, e2eProgram(t, "goserver"))
	tlsPort := startServer(t, e2eProgram(t, "goserver"), "-cert", cert, "-key", key)
	goClient := nobodysPrivateCopy(t, e2eProgram(t, "goclient"))

	without := func(c string) []string {
		return slices.DeleteFunc(slices.Clone(minimumCapabilities), func(s string) bool { return s == c })
	}
	for _, tc := range []struct {
		name     string
		caps     []string
		startErr string // the capability Start's error must name
		warning  string // the capability Start's warning must name
		goTLS    bool   // the Go program's HTTPS comes out
		environ  bool   // OTEL_SERVICE_NAME is read (asserted where the outcome is the same on every kernel)
		programs bool   // the BPF programs' metrics are enabled
	}{
		{name: "minimum", caps: minimumCapabilities, goTLS: true, environ: true},
		{name: "without_CAP_BPF", caps: without("bpf"), startErr: "CAP_BPF"},
		{name: "without_CAP_PERFMON", caps: without("perfmon"), startErr: "CAP_PERFMON"},
		{name: "without_CAP_SYS_PTRACE", caps: without("sys_ptrace"), warning: "CAP_SYS_PTRACE"},
		{name: "without_CAP_DAC_READ_SEARCH", caps: without("dac_read_search"), warning: "CAP_DAC_READ_SEARCH"},
		// The kernel counts the programs' run time only for CAP_SYS_ADMIN,
		// unless the sysctl counts them already.
		{name: "program_metrics_without_CAP_SYS_ADMIN", caps: minimumCapabilities, programs: true, goTLS: true, environ: true,
			startErr: map[bool]string{true: "CAP_SYS_ADMIN"}[!bpfStatsEnabled(t)]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			child := startCapabilityChild(t, tc.caps, tc.programs)
			if tc.startErr != "" {
				out := child.finish(t)
				if out.startErr == "" {
					t.Fatalf("Start succeeded without %s", tc.startErr)
				}
				if !strings.Contains(out.startErr, tc.startErr) {
					t.Errorf("Start's error %q does not name %s", out.startErr, tc.startErr)
				}
				for _, c := range []string{"CAP_BPF", "CAP_PERFMON"} {
					if strings.Contains(out.startErr, c+": ") != (c == tc.startErr) {
						t.Errorf("Start's error %q does not name %s alone, with what it is for", out.startErr, tc.startErr)
					}
				}
				return
			}
			query := "case=privileges-" + tc.name
			plainURL := fmt.Sprintf("http://127.0.0.1:%d/ok?%s", plainPort, query)
			tlsURL := fmt.Sprintf("https://127.0.0.1:%d/ok?%s", tlsPort, query)
			// The description of a process is read at its first connection:
			// the client lives on a little so that its environ is still there.
			runAsNobody(t, "priv-python", "/usr/bin/python3", "-c", `import sys, time, urllib.request
urllib.request.urlopen(sys.argv[1]).read()
time.sleep(0.3)`, plainURL)
			// A Go program is probed once inspected after its exec: the
			// delay leaves the time. It exits as soon as it has its answer,
			// often before the engine describes it: its environ is not
			// asserted.
			runAsNobody(t, "", goClient, "-delay=200ms", tlsURL)
			out := child.finish(t)
			if out.startErr != "" {
				t.Fatalf("Start failed: %s", out.startErr)
			}

			var warnings []string
			for _, l := range out.logs {
				if strings.HasPrefix(l, "warn capturing without") {
					warnings = append(warnings, l)
				}
			}
			switch {
			case tc.warning == "" && len(warnings) != 0:
				t.Errorf("Start warned with every capability of the minimum: %q", warnings)
			case tc.warning != "" && (len(warnings) != 1 || !strings.Contains(warnings[0], "without "+tc.warning+":")):
				t.Errorf("Start's warnings %q, want one naming %s", warnings, tc.warning)
			}

			var plain, goTLS []capabilitySpan
			for _, s := range out.spans {
				switch {
				case s.URL == plainURL:
					plain = append(plain, s)
				case s.URL == tlsURL:
					goTLS = append(goTLS, s)
				}
			}
			if len(plain) != 1 || !strings.HasPrefix(plain[0].Exe, "python3") || plain[0].Owner != "nobody" {
				t.Fatalf("plain HTTP client spans %+v, want one from python3 of nobody", plain)
			}
			if tc.environ && plain[0].Service != "priv-python" {
				t.Errorf("python3's service.name %q, want its OTEL_SERVICE_NAME priv-python", plain[0].Service)
			}
			if tc.warning == "CAP_DAC_READ_SEARCH" && plain[0].Service != plain[0].Exe {
				t.Errorf("python3's service.name %q without CAP_DAC_READ_SEARCH, want the executable's name", plain[0].Service)
			}
			if !tc.goTLS {
				if len(goTLS) != 0 {
					t.Errorf("the Go program's HTTPS came out without %s: %+v", tc.warning, goTLS)
				}
				if !slices.ContainsFunc(out.logs, func(l string) bool { return strings.HasPrefix(l, "info not permitted to open the files of a process") }) {
					t.Errorf("no log said that a process's files could not be opened: %q", out.logs)
				}
				return
			}
			if len(goTLS) != 1 || goTLS[0].Exe != "goclient" || goTLS[0].Library != "go" || goTLS[0].Owner != "nobody" {
				t.Errorf("Go HTTPS client spans %+v, want one from goclient of nobody through crypto/tls", goTLS)
			}
		})
	}
}

// nobodysPrivateCopy copies the program at path into a directory of user
// nobody that only nobody may enter, readable and executable only by nobody.
func nobodysPrivateCopy(t *testing.T, path string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ebpftap-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin := filepath.Join(dir, filepath.Base(path))
	copyFile(t, path, bin)
	for _, p := range []string{bin, dir} {
		if err := os.Chown(p, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	return bin
}

// runAsNobody runs a client as user nobody, with OTEL_SERVICE_NAME=service
// if service is not "".
func runAsNobody(t *testing.T, service, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=/"}
	if service != "" {
		cmd.Env = append(cmd.Env, "OTEL_SERVICE_NAME="+service)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{}}}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s as nobody: %v\n%s", name, err, out)
	}
}

// capabilityChildProcess is a copy of this test binary running the receiver
// under setpriv.
type capabilityChildProcess struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  *bufio.Scanner
	output strings.Builder // everything it wrote, for failures
	out    capabilityOutput
}

// capabilityOutput is what the child reports.
type capabilityOutput struct {
	startErr string           // Start's error, if it failed
	logs     []string         // "level message", info and above
	spans    []capabilitySpan // client spans
}

// capabilitySpan is what the child reports of a client span.
type capabilitySpan struct {
	URL, Exe, Owner, Service, Library string
}

// startCapabilityChild runs the child with only caps (setpriv's names), the
// BPF programs' metrics enabled with programs, and waits until its Start
// returned.
func startCapabilityChild(t *testing.T, caps []string, programs bool) *capabilityChildProcess {
	t.Helper()
	bounding := "-all"
	for _, c := range caps {
		bounding += ",+" + c
	}
	c := &capabilityChildProcess{}
	c.cmd = exec.Command("setpriv", "--bounding-set="+bounding, "--inh-caps=-all", "--",
		os.Args[0], "-test.run=^TestE2EPrivileges$", "-test.v")
	c.cmd.Env = append(os.Environ(), capabilityChild+"="+map[bool]string{false: "1", true: childProgramMetrics}[programs])
	c.cmd.Stderr = &c.output
	var err error
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.cmd.Process.Kill()
		_ = c.cmd.Wait()
	})
	c.lines = bufio.NewScanner(stdout)
	c.lines.Buffer(nil, 1<<20)
	for c.lines.Scan() {
		line := c.lines.Text()
		c.output.WriteString(line + "\n")
		if msg, ok := strings.CutPrefix(line, "CAPS start-error "); ok {
			c.out.startErr = msg
			return c
		}
		if line == "CAPS started" {
			return c
		}
	}
	t.Fatalf("the child ended before its Start returned:\n%s", c.output.String())
	return nil
}

// finish tells the child that the clients are done and reads its report.
func (c *capabilityChildProcess) finish(t *testing.T) capabilityOutput {
	t.Helper()
	_ = c.stdin.Close()
	for c.lines.Scan() {
		line := c.lines.Text()
		c.output.WriteString(line + "\n")
		if msg, ok := strings.CutPrefix(line, "CAPS log "); ok {
			c.out.logs = append(c.out.logs, msg)
		}
		if msg, ok := strings.CutPrefix(line, "CAPS span "); ok {
			var s capabilitySpan
			if err := json.Unmarshal([]byte(msg), &s); err != nil {
				t.Fatalf("child's span %q: %v", msg, err)
			}
			c.out.spans = append(c.out.spans, s)
		}
	}
	if err := c.cmd.Wait(); err != nil || !strings.Contains(c.output.String(), "--- PASS: TestE2EPrivileges") {
		t.Fatalf("child: %v\n%s", err, c.output.String())
	}
	return c.out
}

// runCapabilityChild is the child's side: start the receiver, say so, wait
// for the parent's clients (standard input closed), then report the logs
// and the client spans.
func runCapabilityChild(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	set := receivertest.NewNopSettings(metadata.Type)
	set.Logger = zap.New(core)
	f := NewFactory()
	cfg := f.CreateDefaultConfig().(*Config)
	cfg.Direction = DirectionAll
	cfg.IgnoreLoopback = false
	sink := new(consumertest.TracesSink)
	r, err := f.CreateTraces(context.Background(), set, cfg, sink)
	if err != nil {
		t.Fatal(err)
	}
	handles := []component.Component{r}
	if os.Getenv(capabilityChild) == childProgramMetrics {
		cfg.Metrics.EbpftapCaptureProgramRuns.Enabled = true
		// The same receiver as r's (shared.go), now in a metrics pipeline too.
		m, err := f.CreateMetrics(context.Background(), set, cfg, consumertest.NewNop())
		if err != nil {
			t.Fatal(err)
		}
		handles = append(handles, m)
	}
	for _, h := range handles { // the last Start starts the receiver
		err = h.Start(context.Background(), componenttest.NewNopHost())
	}
	if err != nil {
		fmt.Println("CAPS start-error", strings.ReplaceAll(err.Error(), "\n", " "))
		_ = r.Shutdown(context.Background())
		return
	}
	fmt.Println("CAPS started")
	_, _ = io.Copy(io.Discard, os.Stdin)
	time.Sleep(5 * flushInterval) // the last exchanges through the tap and a flush
	if err := r.Shutdown(context.Background()); err != nil {
		t.Error(err)
	}
	for _, e := range logs.All() {
		fmt.Println("CAPS log", e.Level, strings.ReplaceAll(e.Message, "\n", " "))
	}
	for _, s := range spansWhere(sink, func(s capturedSpan) bool { return s.kind == ptrace.SpanKindClient }) {
		attr := func(m pcommon.Map, k string) string {
			v, _ := m.Get(k)
			return v.AsString()
		}
		b, err := json.Marshal(capabilitySpan{
			URL:     s.str("url.full"),
			Exe:     s.exe,
			Owner:   attr(s.res.Attributes(), "process.owner"),
			Service: attr(s.res.Attributes(), "service.name"),
			Library: s.str("ebpftap.tls.library"),
		})
		if err != nil {
			t.Fatal(err)
		}
		fmt.Println("CAPS span", string(b))
	}
}
