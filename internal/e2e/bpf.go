// Package e2e holds what the end-to-end tests of several packages share: the
// rule for tests that need BPF, throwaway TLS certificates and servers, and
// the collector distribution, built once per test binary and run.
package e2e

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/features"
)

// RequireBPF stops t unless this process can load the receiver's BPF
// programs. On a developer's machine a run without root or BPF is normal, so
// t is skipped with the reason. With CI=true the machine is meant to have
// both, and a skip would let every E2E test pass without running, so t fails.
func RequireBPF(t testing.TB) {
	t.Helper()
	reason := bpfUnavailable()
	if reason == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true and BPF is unavailable: %s", reason)
	}
	t.Skipf("skipping: %s", reason)
}

// bpfUnavailable says why BPF cannot be used here, or "" when it can. It
// probes once per test binary: the answer cannot change during a run.
var bpfUnavailable = sync.OnceValue(func() string {
	if runtime.GOOS != "linux" {
		return fmt.Sprintf("BPF capture needs Linux, this is %s", runtime.GOOS)
	}
	if euid := os.Geteuid(); euid != 0 {
		return fmt.Sprintf("loading BPF programs needs root, euid is %d", euid)
	}
	// CO-RE relocations are resolved against the kernel's own BTF.
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		return fmt.Sprintf("kernel BTF is missing: %v", err)
	}
	if err := features.HaveProgramType(ebpf.TracePoint); err != nil {
		return fmt.Sprintf("tracepoint programs cannot be loaded: %v", err)
	}
	if err := features.HaveMapType(ebpf.RingBuf); err != nil {
		return fmt.Sprintf("ring buffer maps cannot be created: %v", err)
	}
	return ""
})
