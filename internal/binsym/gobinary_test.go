package binsym

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// goTLSProgram calls crypto/tls's Write and Read directly, so the linker
// keeps both.
const goTLSProgram = `package main

import (
	"crypto/tls"
	"os"
)

func main() {
	c, err := tls.Dial("tcp", os.Args[1], &tls.Config{})
	if err != nil {
		os.Exit(1)
	}
	c.Write([]byte("ping"))
	b := make([]byte, 4)
	c.Read(b)
}
`

const goPlainProgram = `package main

import "fmt"

func main() { fmt.Println("no TLS here") }
`

// goBuild is one way of building a test program.
type goBuild struct {
	name  string
	goenv []string // GOARCH, CGO_ENABLED
	flags []string
}

// goBuilds builds src in each way, at once, into dir; it returns the
// executables by build name.
func goBuilds(t *testing.T, dir, src string, builds []goBuild) map[string]string {
	t.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command to build test programs with: %v", err)
	}
	srcDir := filepath.Join(dir, "src")
	if err := os.MkdirAll(srcDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(srcDir, "main.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	out := make(map[string]string, len(builds))
	errs := make([]error, len(builds))
	var wg sync.WaitGroup
	for i, b := range builds {
		exe := filepath.Join(dir, b.name)
		out[b.name] = exe
		wg.Go(func() {
			cmd := exec.Command(goCmd, append(append([]string{"build", "-o", exe}, b.flags...), "main.go")...)
			cmd.Dir = srcDir
			cmd.Env = append(os.Environ(), append([]string{"GOWORK=off", "GOFLAGS="}, b.goenv...)...)
			if msg, err := cmd.CombinedOutput(); err != nil {
				errs[i] = errors.New(b.name + ": " + err.Error() + ": " + string(msg))
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("building test programs: %v", err)
	}
	return out
}

func haveCC() bool {
	_, err := exec.LookPath("gcc")
	return err == nil
}

// goTLSPair is a program built with a symbol table and stripped: the two
// must give the same sites.
type goTLSPair struct {
	name  string
	goenv []string
	flags []string // besides -ldflags
	ld    string   // -ldflags, to which -s -w is added for the stripped one
}

func TestGoTLSProbeSites(t *testing.T) {
	pairs := []goTLSPair{
		{name: "native", goenv: []string{"CGO_ENABLED=0"}},
	}
	if !testing.Short() {
		pairs = append(pairs,
			goTLSPair{name: "amd64", goenv: []string{"GOARCH=amd64", "CGO_ENABLED=0"}},
			goTLSPair{name: "amd64-pie", goenv: []string{"GOARCH=amd64", "CGO_ENABLED=0"}, flags: []string{"-buildmode=pie"}},
			goTLSPair{name: "arm64", goenv: []string{"GOARCH=arm64", "CGO_ENABLED=0"}},
			goTLSPair{name: "arm64-pie", goenv: []string{"GOARCH=arm64", "CGO_ENABLED=0"}, flags: []string{"-buildmode=pie"}},
		)
		if haveCC() {
			// The C linker puts its start-up code before the Go text.
			pairs = append(pairs,
				goTLSPair{name: "cgo-external", goenv: []string{"CGO_ENABLED=1"}, ld: "-linkmode=external"},
				goTLSPair{name: "cgo-external-pie", goenv: []string{"CGO_ENABLED=1"}, flags: []string{"-buildmode=pie"}, ld: "-linkmode=external"},
			)
		} else {
			t.Log("no gcc: externally linked programs not tested")
		}
	}
	var builds []goBuild
	for _, p := range pairs {
		full, stripped := append([]string(nil), p.flags...), append([]string(nil), p.flags...)
		if p.ld != "" {
			full = append(full, "-ldflags="+p.ld)
		}
		stripped = append(stripped, strings.TrimSpace("-ldflags=-s -w "+p.ld))
		builds = append(builds,
			goBuild{name: p.name, goenv: p.goenv, flags: full},
			goBuild{name: p.name + "-stripped", goenv: p.goenv, flags: stripped})
	}
	exes := goBuilds(t, t.TempDir(), goTLSProgram, builds)

	for _, p := range pairs {
		t.Run(p.name, func(t *testing.T) {
			full, stripped := exes[p.name], exes[p.name+"-stripped"]
			if hasSymtab(t, stripped) {
				t.Fatalf("%s has a symbol table", stripped)
			}
			want, err := GoTLSProbeSites(full)
			if err != nil {
				t.Fatal(err)
			}
			got, err := GoTLSProbeSites(stripped)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("stripped program's sites differ (-with symbols +stripped):\n%s", diff)
			}
			if want.GoVersion != runtime.Version() {
				t.Errorf("GoVersion = %q, want %q", want.GoVersion, runtime.Version())
			}
			checkGoTLSSites(t, full, full, want)
			checkGoTLSSites(t, full, stripped, got)
			checkPclntabBounds(t, full)
			if slices.Contains(p.flags, "-buildmode=pie") {
				// Linkers may leave zeros where the dynamic relocations
				// write; the module data must then be read from those.
				zeroed := zeroSection(t, stripped, ".go.module")
				got, err := GoTLSProbeSites(zeroed)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("sites differ once the module data is zeroed in the file (-with symbols +zeroed):\n%s", diff)
				}
			}
			t.Logf("Write %#x returns %#x; Read %#x returns %#x", got.Write.Entry, got.Write.Returns, got.Read.Entry, got.Read.Returns)
		})
	}
}

// zeroSection writes a copy of the executable at path with the named
// section's contents zeroed.
func zeroSection(t *testing.T, path, name string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	sec := f.Section(name)
	if sec == nil || sec.Type == elf.SHT_NOBITS {
		t.Fatalf("no %s in %s", name, path)
	}
	clear(b[sec.Offset : sec.Offset+sec.Size])
	out := path + "-zeroed" + strings.ReplaceAll(name, ".", "-")
	if err := os.WriteFile(out, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return out
}

func hasSymtab(t *testing.T, path string) bool {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return f.Section(".symtab") != nil
}

// checkGoTLSSites checks the sites found in the executable at path against
// the symbol table of the one at symtabPath (the same program, not
// stripped), and that a RET is in the file at every return offset.
func checkGoTLSSites(t *testing.T, symtabPath, path string, sites *GoTLSSites) {
	t.Helper()
	f, err := elf.Open(symtabPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	code, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := funcBoundsFromSymtab(syms, []string{GoTLSWriteFunc, GoTLSReadFunc})
	for _, fn := range []struct {
		name  string
		sites FuncSites
	}{{GoTLSWriteFunc, sites.Write}, {GoTLSReadFunc, sites.Read}} {
		b, ok := want[fn.name]
		if !ok {
			t.Fatalf("%s not in the symbol table of %s", fn.name, symtabPath)
		}
		entry, ok := fileOffset(f, b.entry)
		// The probe goes past the stack check: on amd64 onto PUSHQ BP,
		// on arm64 after the B.LS to the morestack call.
		if !ok || fn.sites.Entry <= entry || fn.sites.Entry > entry+4*maxPrologue {
			t.Errorf("%s: body at file offset %#x, not within the prologue of the function at %#x", fn.name, fn.sites.Entry, entry)
		} else if f.Machine == elf.EM_X86_64 && code[fn.sites.Entry] != 0x55 {
			t.Errorf("%s: byte %#x at the body start %#x, not PUSHQ BP", fn.name, code[fn.sites.Entry], fn.sites.Entry)
		} else if w := binary.LittleEndian.Uint32(code[fn.sites.Entry-4:]); f.Machine == elf.EM_AARCH64 && w&0xff00001f != 0x54000009 {
			t.Errorf("%s: word %#x before the body start %#x, not B.LS", fn.name, w, fn.sites.Entry)
		}
		if len(fn.sites.Returns) == 0 {
			t.Errorf("%s: no returns", fn.name)
		}
		for _, r := range fn.sites.Returns {
			if r < entry || r >= entry+(b.end-b.entry) {
				t.Errorf("%s: return at %#x outside [%#x, %#x)", fn.name, r, entry, entry+(b.end-b.entry))
				continue
			}
			switch f.Machine {
			case elf.EM_X86_64:
				if code[r] != 0xc3 {
					t.Errorf("%s: byte %#x at return %#x, not RET", fn.name, code[r], r)
				}
			case elf.EM_AARCH64:
				if w := binary.LittleEndian.Uint32(code[r:]); w != arm64Ret {
					t.Errorf("%s: word %#x at return %#x, not RET", fn.name, w, r)
				}
			default:
				t.Errorf("unexpected machine %v", f.Machine)
			}
		}
	}
}

// checkPclntabBounds reads the bounds from the pclntab of a program that
// also has a symbol table, which says where they must be: the entry, and the
// end but for the padding up to the next function.
func checkPclntabBounds(t *testing.T, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	names := []string{GoTLSWriteFunc, GoTLSReadFunc}
	want, _ := funcBoundsFromSymtab(syms, names)
	// No symbols: runtime.text must come from the module data.
	got, err := funcBoundsFromPclntab(f, nil, names)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		w, g := want[n], got[n]
		if g.entry != w.entry || g.end < w.end || g.end-w.end >= 64 {
			t.Errorf("%s: pclntab says [%#x, %#x), the symbol table [%#x, %#x)", n, g.entry, g.end, w.entry, w.end)
		}
	}
}

func TestGoTLSProbeSitesNotProbed(t *testing.T) {
	dir := t.TempDir()
	plain := goBuilds(t, filepath.Join(dir, "plain"), goPlainProgram, []goBuild{
		{name: "plain", goenv: []string{"CGO_ENABLED=0"}},
		{name: "plain-stripped", goenv: []string{"CGO_ENABLED=0"}, flags: []string{"-ldflags=-s -w"}},
	})
	builds := []goBuild{{name: "tls-stripped", goenv: []string{"CGO_ENABLED=0"}, flags: []string{"-ldflags=-s -w"}}}
	if !testing.Short() {
		builds = append(builds, goBuild{name: "tls-386", goenv: []string{"GOARCH=386", "CGO_ENABLED=0"}})
	}
	tls := goBuilds(t, filepath.Join(dir, "tls"), goTLSProgram, builds)

	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tlsExe, err := os.ReadFile(tls["tls-stripped"])
	if err != nil {
		t.Fatal(err)
	}
	elfHeaderThenJunk := append(append([]byte(nil), tlsExe[:64]...), bytes.Repeat([]byte{0xa5}, 4096)...)
	// A pclntab of junk after its first bytes: the program is Go, but
	// nothing can be found in it.
	junkPclntab := func(from uint64) []byte {
		f, err := elf.NewFile(bytes.NewReader(tlsExe))
		if err != nil {
			t.Fatal(err)
		}
		sec := f.Section(".gopclntab")
		if sec == nil {
			t.Fatal("no .gopclntab in the stripped program")
		}
		b := append([]byte(nil), tlsExe...)
		for i := from; i < sec.Size; i++ {
			b[sec.Offset+i] = byte(i * 7)
		}
		return b
	}

	const (
		anyErr   = iota // a malformed file: any error will do, but no panic
		notGoTLS        // ErrNotGoTLS: skipped silently
		otherErr        // a Go program with crypto/tls that cannot be probed
	)
	tests := []struct {
		name     string
		path     string
		want     int
		wantIs   error
		optional bool // skip when path is missing
	}{
		{name: "go without TLS", path: plain["plain"], want: notGoTLS},
		{name: "go without TLS, stripped", path: plain["plain-stripped"], want: notGoTLS},
		{name: "C program", path: "/bin/sh", want: notGoTLS, optional: true},
		{name: "not ELF", path: write("text", []byte("#!/bin/sh\necho hello\n")), want: notGoTLS},
		{name: "empty", path: write("empty", nil), want: notGoTLS},
		{name: "missing", path: filepath.Join(dir, "missing"), want: otherErr, wantIs: fs.ErrNotExist},
		{name: "ELF header then junk", path: write("junk", elfHeaderThenJunk), want: anyErr},
		{name: "truncated Go program", path: write("truncated", tlsExe[:len(tlsExe)/2]), want: anyErr},
		{name: "junk pclntab header", path: write("junkpclntab8", junkPclntab(8)), want: anyErr},
		{name: "junk pclntab after its header", path: write("junkpclntab72", junkPclntab(72)), want: anyErr},
		{name: "junk pclntab after its header and tables", path: write("junkpclntab4k", junkPclntab(4096)), want: anyErr},
		{name: "386", path: tls["tls-386"], want: otherErr, optional: true},
		// Not position-independent: no relocation holds the module data.
		{name: "stripped, module data zeroed", path: zeroSection(t, tls["tls-stripped"], ".go.module"), want: otherErr},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := os.Stat(tt.path); tt.optional && err != nil {
				t.Skipf("%q: %v", tt.path, err)
			}
			sites, err := GoTLSProbeSites(tt.path)
			if err == nil {
				t.Fatalf("got %+v, want an error", sites)
			}
			t.Log(err)
			if !strings.Contains(err.Error(), tt.path) {
				t.Errorf("error %q does not name the file", err)
			}
			if tt.want != anyErr && errors.Is(err, ErrNotGoTLS) != (tt.want == notGoTLS) {
				t.Errorf("error %q: errors.Is(err, ErrNotGoTLS) = %v", err, !(tt.want == notGoTLS))
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %q is not %v", err, tt.wantIs)
			}
		})
	}
}

func TestGoVersionGate(t *testing.T) {
	tests := []struct {
		version string
		machine elf.Machine
		ok      bool
	}{
		{"go1.16.15", elf.EM_X86_64, false},
		{"go1.17", elf.EM_X86_64, true},
		{"go1.17.5", elf.EM_X86_64, true},
		{"go1.17.5", elf.EM_AARCH64, false},
		{"go1.18", elf.EM_AARCH64, true},
		{"go1.18beta1", elf.EM_AARCH64, true},
		{"go1.17rc2", elf.EM_AARCH64, false},
		{"go1.26.8", elf.EM_AARCH64, true},
		{"go1.22.0 X:boringcrypto", elf.EM_X86_64, true},
		{"go1.16 X:boringcrypto", elf.EM_X86_64, false},
		{"devel go1.27-abc", elf.EM_X86_64, true},
		{"devel go1.16-abc Tue Jan 1", elf.EM_X86_64, false},
		{"devel +abc", elf.EM_X86_64, true},
		{"go2", elf.EM_X86_64, true},
		{"go2.0", elf.EM_X86_64, true},
		{"", elf.EM_AARCH64, true},
		{"go1.26.8", elf.EM_386, false},
		{"go1.26.8", elf.EM_RISCV, false},
	}
	for _, tt := range tests {
		t.Run(tt.version+"/"+tt.machine.String(), func(t *testing.T) {
			err := checkGoVersion(tt.version, tt.machine)
			if (err == nil) != tt.ok {
				t.Errorf("checkGoVersion(%q, %v) = %v, want ok %v", tt.version, tt.machine, err, tt.ok)
			}
		})
	}
}

func TestGoBinaryReturns(t *testing.T) {
	tests := []struct {
		name    string
		arm64   bool
		code    []byte
		want    []uint64
		wantErr bool
	}{
		// MOVQ AX, BX is 48 89 c3: a 0xC3 byte that is no RET.
		{name: "amd64 C3 inside an instruction", code: []byte{0x48, 0x89, 0xc3, 0xc3}, want: []uint64{3}},
		{name: "amd64 two returns and padding", code: []byte{0x90, 0xc3, 0x31, 0xc0, 0xc3, 0xcc, 0xcc}, want: []uint64{1, 4}},
		{name: "amd64 RET imm16", code: []byte{0xc2, 0x08, 0x00}, want: []uint64{0}},
		{name: "amd64 no return", code: []byte{0x90, 0xcc}},
		{name: "amd64 truncated instruction", code: []byte{0xc3, 0x48, 0x8b}, wantErr: true},
		{name: "amd64 truncated displacement", code: []byte{0xc3, 0x48, 0x8b, 0x05, 0x00}, wantErr: true},
		{name: "amd64 truncated call", code: []byte{0xc3, 0xe8, 0x00}, wantErr: true},
		{name: "amd64 invalid instruction", code: []byte{0xc3, 0x06}, wantErr: true},
		{name: "arm64 returns", arm64: true, code: []byte{0x1f, 0x20, 0x03, 0xd5, 0xc0, 0x03, 0x5f, 0xd6, 0x00, 0x00, 0x00, 0x00, 0xc0, 0x03, 0x5f, 0xd6}, want: []uint64{4, 12}},
		{name: "arm64 RET X1 is not Go's", arm64: true, code: []byte{0x20, 0x00, 0x5f, 0xd6}},
		{name: "arm64 unaligned length", arm64: true, code: []byte{0xc0, 0x03, 0x5f, 0xd6, 0x00}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []uint64
			var err error
			if tt.arm64 {
				got, err = arm64Returns(tt.code, 0x10000)
			} else {
				got, err = amd64Returns(tt.code)
			}
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("returns (-want +got):\n%s", diff)
			}
		})
	}
}

func BenchmarkGoTLSProbeSites(b *testing.B) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		b.Skip(err)
	}
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(goTLSProgram), 0o644); err != nil {
		b.Fatal(err)
	}
	for _, v := range []struct{ name, ldflags string }{{"symtab", ""}, {"stripped", "-s -w"}} {
		exe := filepath.Join(dir, v.name)
		cmd := exec.Command(goCmd, "build", "-o", exe, "-ldflags="+v.ldflags, "main.go")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=", "CGO_ENABLED=0")
		if msg, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v: %s", err, msg)
		}
		b.Run(v.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := GoTLSProbeSites(exe); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	if path := os.Getenv("GOTLS_BENCH_EXE"); path != "" {
		// Any executable, to measure one that is not Go or is large.
		b.Run("GOTLS_BENCH_EXE", func(b *testing.B) {
			for b.Loop() {
				_, _ = GoTLSProbeSites(path)
			}
		})
	}
}

// TestReaderHas: the name is found wherever it lies, across the pieces
// readerHas reads too.
func TestReaderHas(t *testing.T) {
	name := []byte("crypto/tls.(*Conn).Read\x00")
	const piece = 256 << 10
	for _, at := range []int{0, 100, piece - len(name), piece - 5, piece, 2*piece + 3, 3*piece - 1} {
		data := make([]byte, 3*piece+64)
		copy(data[at:], name)
		if has, err := readerHas(bytes.NewReader(data), name); !has || err != nil {
			t.Errorf("name at %d: found %v, err %v", at, has, err)
		}
		if has, err := readerHas(bytes.NewReader(data[:at+len(name)-1]), name); has || err != nil {
			t.Errorf("name cut at %d: found %v, err %v", at, has, err)
		}
	}
	if has, _ := readerHas(bytes.NewReader(nil), name); has {
		t.Error("found in nothing")
	}
}

// TestBodyStart: the probe site past the stack check, on prologues as Go's
// compiler writes them, and an error where there is none.
func TestBodyStart(t *testing.T) {
	amd64 := []struct {
		name string
		code []byte
		want uint64
		ok   bool
	}{
		// CMPQ SP, 0x10(R14); JBE +0x10; PUSHQ BP; ...
		{"small frame", []byte{0x49, 0x3b, 0x66, 0x10, 0x76, 0x10, 0x55, 0x48, 0x89, 0xe5, 0xc3, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90}, 6, true},
		// LEAQ -0x48(SP), R12; CMPQ R12, 0x10(R14); JBE rel32 +0x10; PUSHQ BP
		{"large frame", append([]byte{0x4c, 0x8d, 0x64, 0x24, 0xb8, 0x4d, 0x3b, 0x66, 0x10, 0x0f, 0x86, 0x10, 0, 0, 0, 0x55}, make([]byte, 32)...), 15, true},
		// huge frame: MOVQ SP, R12; SUBQ $0x3000, R12; JB +0x20 (borrow);
		// CMPQ R12, 0x10(R14); JBE +0x10; PUSHQ BP
		{"huge frame", append([]byte{0x49, 0x89, 0xe4, 0x49, 0x81, 0xec, 0, 0x30, 0, 0, 0x72, 0x20, 0x4d, 0x3b, 0x66, 0x10, 0x76, 0x10, 0x55}, make([]byte, 48)...), 18, true},
		// PUSHQ BP; MOVQ SP, BP; RET: no stack check (a NOSPLIT function)
		{"no check", []byte{0x55, 0x48, 0x89, 0xe5, 0xc3}, 0, false},
		// a backward jump is not the check
		{"backward", []byte{0x49, 0x3b, 0x66, 0x10, 0x76, 0xf0, 0x55, 0xc3}, 0, false},
		{"garbage", []byte{0x0f, 0xff}, 0, false},
	}
	for _, tc := range amd64 {
		got, err := amd64BodyStart(tc.code)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("amd64 %s: %d, %v; want %d, ok %v", tc.name, got, err, tc.want, tc.ok)
		}
	}
	word := func(ws ...uint32) []byte {
		b := make([]byte, 4*len(ws))
		for i, w := range ws {
			binary.LittleEndian.PutUint32(b[4*i:], w)
		}
		return b
	}
	const nop = 0xd503201f
	arm64 := []struct {
		name string
		code []byte
		want uint64
		ok   bool
	}{
		// LDR X16, [X28, #16]; CMP SP, X16; B.LS +5 instructions; STR ...
		{"check", word(0xf9400b90, 0xeb3003ff, 0x540000a9, nop, nop, nop, nop, arm64Ret), 12, true},
		// huge frame: LDR X16, [X28, #16]; SUB X17, SP, #N; B.LO (borrow);
		// CMP X17, X16; B.LS; STR ...
		{"huge frame", word(0xf9400b90, 0xd14007f1, 0x54000103, 0xeb10023f, 0x540000a9, nop, nop, nop, nop, nop, arm64Ret), 20, true},
		{"no check", word(nop, nop, nop, nop, arm64Ret), 0, false},
		{"backward", word(0xf9400b90, 0xeb3003ff, 0x54ffffe9, nop, arm64Ret), 0, false},
	}
	for _, tc := range arm64 {
		got, err := arm64BodyStart(tc.code)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("arm64 %s: %d, %v; want %d, ok %v", tc.name, got, err, tc.want, tc.ok)
		}
	}
}
