//go:build linux && (amd64 || arm64)

package capture

import (
	"os"
	"testing"

	"go.uber.org/zap"
)

// TestProbeWithoutPrograms: when the kernel refused the TLS objects, files
// are passed over, neither probed nor counted as failures.
func TestProbeWithoutPrograms(t *testing.T) {
	self, err := os.Executable() // a Go program
	if err != nil {
		t.Fatal(err)
	}
	tp := newTLSProbes(zap.NewNop(), nil, false, "/proc")
	for _, path := range []string{self, "/bin/sh", "/usr/lib/x86_64-linux-gnu/libssl.so.3", "/usr/lib/aarch64-linux-gnu/libssl.so.3"} {
		if _, err := os.Stat(path); err != nil {
			continue
		}
		if lib, links, err := tp.probe(path); lib != "" || links != nil || err != nil {
			t.Errorf("%s: probed as %q with %d links, err %v; want passed over", path, lib, len(links), err)
		}
	}
}
