package ebpftapreceiver

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/receivertest"

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
