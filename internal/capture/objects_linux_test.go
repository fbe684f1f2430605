//go:build linux && (amd64 || arm64)

package capture

import (
	"bytes"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/ebpftap/ebpftap/internal/e2e"
)

// These tests read the embedded BPF objects without loading them.

// fields returns the *T fields of the struct s points to, by their ebpf tag
// (the object's name for them); with fill, each nil field is first set to a
// distinct placeholder.
func fields[T any](s any, fill bool) map[string]*T {
	out := make(map[string]*T)
	v := reflect.ValueOf(s).Elem()
	for i := range v.NumField() {
		f, tag := v.Field(i), v.Type().Field(i).Tag.Get("ebpf")
		if tag == "" || f.Type() != reflect.TypeFor[*T]() {
			continue
		}
		if fill && f.IsNil() {
			f.Set(reflect.ValueOf(new(T)))
		}
		if !f.IsNil() {
			out[tag] = f.Interface().(*T)
		}
	}
	return out
}

// programsIn returns the programs of a bpf2go programs struct by name.
func programsIn(s any) map[string]*ebpf.Program { return fields[ebpf.Program](s, false) }

// TestTracepointsCoverEveryProgram: every program of bpf/syscalls.c is
// attached, once, to the tracepoint its section names.
func TestTracepointsCoverEveryProgram(t *testing.T) {
	spec, err := loadSyscalls()
	if err != nil {
		t.Fatal(err)
	}
	var progs syscallsPrograms
	names := make(map[*ebpf.Program]string)
	for name, p := range fields[ebpf.Program](&progs, true) {
		names[p] = name
	}
	attached := make(map[string]bool)
	for _, tp := range tracepoints(&progs) {
		name := names[tp.prog]
		if attached[name] {
			t.Errorf("program %s is attached twice", name)
		}
		attached[name] = true
		if want := "tracepoint/" + tp.group + "/" + tp.event; spec.Programs[name].SectionName != want {
			t.Errorf("program %s is attached to %s, its section is %q", name, want, spec.Programs[name].SectionName)
		}
	}
	for name := range spec.Programs {
		if !attached[name] {
			t.Errorf("program %s of bpf/syscalls.c is not attached", name)
		}
	}
}

// TestTLSObjectsShareTheSyscallMaps: the TLS objects get the syscall
// object's map for each map they declare of the same name (a map left out
// would be a separate map that nothing else sees), and are given no other
// (cilium/ebpf refuses a replacement the object does not declare).
func TestTLSObjectsShareTheSyscallMaps(t *testing.T) {
	syscalls, err := loadSyscalls()
	if err != nil {
		t.Fatal(err)
	}
	var m syscallsMaps
	placeholders := fields[ebpf.Map](&m, true)
	for _, obj := range []struct {
		name   string
		load   func() (*ebpf.CollectionSpec, error)
		shared map[string]*ebpf.Map
	}{
		{"tlslib", loadTlslib, m.tlsLibraryMaps()},
		{"gotls", loadGotls, m.captureMaps()},
	} {
		spec, err := obj.load()
		if err != nil {
			t.Fatal(err)
		}
		for name := range spec.Maps {
			if _, ok := syscalls.Maps[name]; ok && !strings.HasPrefix(name, ".") && obj.shared[name] == nil {
				t.Errorf("%s: map %s is not the syscall object's", obj.name, name)
			}
		}
		for name, shared := range obj.shared {
			if _, ok := spec.Maps[name]; !ok {
				t.Errorf("%s: given map %s, which it does not declare", obj.name, name)
			}
			if shared != placeholders[name] {
				t.Errorf("%s: map %s is not the syscall object's map of that name", obj.name, name)
			}
		}
	}
}

// TestTLSLibraryNames: every library the kernel can report in an event's
// tls_library field (enum tls_library in bpf/headers/events.h) has a name of
// its own.
func TestTLSLibraryNames(t *testing.T) {
	spec, err := loadSyscalls()
	if err != nil {
		t.Fatal(err)
	}
	var enum *btf.Enum
	if err := spec.Types.TypeByName("tls_library", &enum); err != nil {
		t.Fatal(err)
	}
	seen := make(map[string]string)
	for _, v := range enum.Values {
		name := tlsLibraryName(uint8(v.Value))
		if name == "unknown" {
			t.Errorf("%s (%d) has no name", v.Name, v.Value)
		} else if other, ok := seen[name]; ok {
			t.Errorf("%s and %s are both named %q", v.Name, other, name)
		}
		seen[name] = v.Name
	}
	if len(seen) != len(enum.Values) || len(enum.Values) < 3 {
		t.Errorf("names %v for %d libraries", slices.Collect(maps.Keys(seen)), len(enum.Values))
	}
}

// TestLibraryFileNames: bpf/syscalls.c's openat filter is given the file
// name of every shared TLS library in tlsLibraries.
func TestLibraryFileNames(t *testing.T) {
	spec, err := loadSyscalls()
	if err != nil {
		t.Fatal(err)
	}
	var s syscallsVariableSpecs
	if err := spec.Assign(&s); err != nil {
		t.Fatal(err)
	}
	if err := setLibraryFiles(s.TlsLibFiles); err != nil {
		t.Fatal(err)
	}
	files := make([]syscallsLibFileName, uintptr(s.TlsLibFiles.Size())/unsafe.Sizeof(syscallsLibFileName{}))
	if err := s.TlsLibFiles.Get(files); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range files {
		b := unsafe.Slice((*byte)(unsafe.Pointer(&f.Prefix[0])), len(f.Prefix))
		if name := string(bytes.TrimRight(b, "\x00")); f.Len != uint32(len(name)) {
			t.Errorf("file name %q with length %d", name, f.Len)
		} else if name != "" {
			got = append(got, name)
		}
	}
	var want []string
	for _, lib := range tlsLibraries {
		want = append(want, lib.file)
	}
	if !slices.Equal(got, want) {
		t.Errorf("the kernel looks for %q, want %q", got, want)
	}
}

// TestE2EVerifierLog: a program the verifier refuses is logged with the
// verifier's summary at error level and its whole log at debug level.
func TestE2EVerifierLog(t *testing.T) {
	e2e.RequireBPF(t)
	_, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:    ebpf.SocketFilter,
		License: "GPL",
		Instructions: asm.Instructions{
			asm.Mov.Reg(asm.R0, asm.R2), // R2 is not initialized
			asm.Return(),
		},
	})
	if err == nil {
		t.Fatal("the verifier accepted a program that reads an uninitialized register")
	}
	core, logs := observer.New(zap.DebugLevel)
	e := &Engine{log: zap.New(core)}
	if !e.logVerifier(err) {
		t.Fatalf("%v was not taken for the verifier's", err)
	}
	var errors, debug int
	for _, l := range logs.All() {
		text := l.Message + " " + fmt.Sprint(l.ContextMap())
		switch {
		case l.Level == zapcore.ErrorLevel && strings.Contains(text, "R2"):
			errors++
		case l.Level == zapcore.DebugLevel && strings.Contains(text, "processed") && strings.Contains(text, "R2 !read_ok"):
			debug++
		}
	}
	if errors != 1 || debug != 1 {
		t.Errorf("logged %d error and %d debug entries with the verifier's words, want 1 and 1: %v", errors, debug, logs.All())
	}
}

// TestE2EKernelReads checks that the programs read kernel structures through
// BTF casts where the kernel has bpf_rdonly_cast, as this one does, and with
// Options.ProbeReads through bpf_probe_read_kernel only: the fallback that
// TestE2EEngineTLSLibraries runs end to end.
func TestE2EKernelReads(t *testing.T) {
	e2e.RequireBPF(t)
	kernel, err := btf.LoadKernelSpec()
	if err != nil {
		t.Fatal(err)
	}
	var cast *btf.Func
	if err := kernel.TypeByName("bpf_rdonly_cast", &cast); err != nil {
		// Every other test then runs the fallback.
		t.Skipf("this kernel has no bpf_rdonly_cast (Linux 6.2+), so no casts to compare: %v", err)
	}
	// bpf_rdonly_cast leaves no call behind (the verifier turns it into a
	// move), and the loaded program's helper calls are not named: the casts
	// show as fewer calls, a bpf_probe_read_kernel per field gone.
	var calls [2]int
	for i, probeReads := range []bool{false, true} {
		e := startEngineWith(t, Options{ProbeReads: probeReads}, &recorder{})
		info, err := e.objs.EnterRead.Info()
		if err != nil {
			t.Fatal(err)
		}
		insns, err := info.Instructions()
		if err != nil {
			t.Fatal(err)
		}
		for _, ins := range insns {
			if ins.IsBuiltinCall() {
				calls[i]++
			}
		}
		e.Close()
	}
	t.Logf("enter_read's helper calls: %d with casts, %d with ProbeReads", calls[0], calls[1])
	if calls[0] == 0 || calls[1]-calls[0] < 8 {
		t.Errorf("enter_read makes %d helper calls with casts, %d with ProbeReads; want at least 8 fewer with casts", calls[0], calls[1])
	}
}

func TestWakeupShift(t *testing.T) {
	for size, want := range map[int]int{16 << 20: 16, 256 << 10: 16, 128 << 10: 15, 64 << 10: 14, 4096: 10} {
		if got := wakeupShift(size); got != want {
			t.Errorf("wakeupShift(%d) = %d, want %d", size, got, want)
		}
	}
}
