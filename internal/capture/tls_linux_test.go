//go:build linux && (amd64 || arm64)

package capture

import (
	"debug/elf"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// TestProbeWithoutPrograms: when the kernel refused the TLS objects, files
// are passed over, neither probed nor counted as failures.
func TestProbeWithoutPrograms(t *testing.T) {
	self, err := os.Executable() // a Go program
	if err != nil {
		t.Fatal(err)
	}
	tp := newTLSProbes(tlsPrograms{}, false, Options{}.withDefaults())
	for _, path := range []string{self, "/bin/sh", "/usr/lib/x86_64-linux-gnu/libssl.so.3", "/usr/lib/aarch64-linux-gnu/libssl.so.3"} {
		if _, err := os.Stat(path); err != nil {
			continue
		}
		if lib, links, err := tp.probe(path); lib != "" || links != nil || err != nil {
			t.Errorf("%s: probed as %q with %d links, err %v; want passed over", path, lib, len(links), err)
		}
	}
}

// TestForThisMachine: files built for another architecture (run by an
// emulator) and files that are not ELF are never probed.
func TestForThisMachine(t *testing.T) {
	header := func(m elf.Machine) []byte {
		h := make([]byte, 64) // an ELF64 header with no sections or segments
		copy(h, elf.ELFMAG)
		h[elf.EI_CLASS], h[elf.EI_DATA], h[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)
		binary.LittleEndian.PutUint16(h[16:], uint16(elf.ET_DYN))
		binary.LittleEndian.PutUint16(h[18:], uint16(m))
		binary.LittleEndian.PutUint32(h[20:], uint32(elf.EV_CURRENT))
		binary.LittleEndian.PutUint16(h[52:], 64) // e_ehsize
		return h
	}
	other := elf.EM_AARCH64
	if hostMachine == elf.EM_AARCH64 {
		other = elf.EM_X86_64
	}
	for _, tc := range []struct {
		name string
		data []byte
		want bool
	}{
		{"this machine", header(hostMachine), true},
		{"another machine", header(other), false},
		{"riscv", header(elf.EM_RISCV), false},
		{"not ELF", []byte("#!/bin/sh\necho hi\n"), false},
		{"empty", nil, false},
	} {
		path := filepath.Join(t.TempDir(), "f")
		if err := os.WriteFile(path, tc.data, 0o755); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := forThisMachine(f); got != tc.want {
			t.Errorf("%s: forThisMachine = %v, want %v", tc.name, got, tc.want)
		}
		f.Close()
	}
}
