//go:build linux && (amd64 || arm64)

package capture

import (
	"errors"
	"fmt"
	"math/bits"
	"os"
	"unsafe"

	"github.com/cilium/ebpf"
	"go.uber.org/zap"
)

// The kernel side is three objects built from bpf/ (see doc.go): the syscall
// programs, which own the maps, and two objects of TLS uprobes that work on
// some of those maps. Programs and maps are reached through the structs
// bpf2go generates; each object declares only the maps it uses.

// syscallObjects is what the engine keeps of bpf/syscalls.c: its programs,
// and its maps, which the TLS objects share.
type syscallObjects struct {
	syscallsPrograms
	syscallsMaps
}

// tracepoint is where one program of bpf/syscalls.c is attached.
type tracepoint struct {
	group, event string
	prog         *ebpf.Program
}

// tracepoints pairs every program of bpf/syscalls.c with the tracepoint its
// SEC() names; TestTracepointsCoverEveryProgram holds the two together. They
// are attached in this order: every exit before its enter, so that no call
// is remembered at an enter whose exit is not there yet to take it (a later
// exit of the same syscall on another fd would take it instead).
func tracepoints(p *syscallsPrograms) []tracepoint {
	return []tracepoint{
		{"syscalls", "sys_exit_connect", p.ExitConnect},
		{"syscalls", "sys_exit_write", p.ExitWrite},
		{"syscalls", "sys_exit_sendto", p.ExitSendto},
		{"syscalls", "sys_exit_writev", p.ExitWritev},
		{"syscalls", "sys_exit_sendmsg", p.ExitSendmsg},
		{"syscalls", "sys_exit_read", p.ExitRead},
		{"syscalls", "sys_exit_recvfrom", p.ExitRecvfrom},
		{"syscalls", "sys_exit_readv", p.ExitReadv},
		{"syscalls", "sys_exit_recvmsg", p.ExitRecvmsg},
		{"syscalls", "sys_enter_connect", p.EnterConnect},
		{"syscalls", "sys_exit_accept", p.ExitAccept},
		{"syscalls", "sys_exit_accept4", p.ExitAccept4},
		{"sock", "inet_sock_set_state", p.SockState},
		{"syscalls", "sys_enter_write", p.EnterWrite},
		{"syscalls", "sys_enter_sendto", p.EnterSendto},
		{"syscalls", "sys_enter_writev", p.EnterWritev},
		{"syscalls", "sys_enter_sendmsg", p.EnterSendmsg},
		{"syscalls", "sys_enter_read", p.EnterRead},
		{"syscalls", "sys_enter_recvfrom", p.EnterRecvfrom},
		{"syscalls", "sys_enter_readv", p.EnterReadv},
		{"syscalls", "sys_enter_recvmsg", p.EnterRecvmsg},
		{"syscalls", "sys_enter_openat", p.EnterOpenat},
		{"sched", "sched_process_exec", p.ProcessExec},
		{"sched", "sched_process_exit", p.ProcessExit},
	}
}

// loadSyscallObjects loads bpf/syscalls.c into e.objs: the ring buffer
// sized as configured, this process left out, and the file names of
// tlsLibraries to look for in openat.
func (e *Engine) loadSyscallObjects() error {
	spec, err := loadSyscalls()
	if err != nil {
		return fmt.Errorf("capture: reading the embedded BPF object: %w", err)
	}
	if err := e.configure(spec); err != nil {
		return fmt.Errorf("capture: %w", err)
	}
	var s syscallsVariableSpecs
	if err := spec.Assign(&s); err != nil {
		return fmt.Errorf("capture: reading the embedded BPF object: %w", err)
	}
	if err := setLibraryFiles(s.TlsLibFiles); err != nil {
		return err
	}
	if f := e.opts.Ports; f != nil {
		mode := syscallsPortFilterModePORT_FILTER_EXCLUDE
		if f.Include {
			mode = syscallsPortFilterModePORT_FILTER_INCLUDE
		}
		if err := s.PortFilter.Set(uint32(mode)); err != nil {
			return fmt.Errorf("capture: setting port_filter: %w", err)
		}
		if len(f.Ports) > MaxFilterPorts {
			return fmt.Errorf("capture: %d ports to filter, at most %d", len(f.Ports), MaxFilterPorts)
		}
		ports := spec.Maps["filter_ports"]
		for _, p := range f.Ports {
			ports.Contents = append(ports.Contents, ebpf.MapKV{Key: p, Value: uint8(1)})
		}
	}
	if e.opts.ExcludeExecutable != nil {
		if err := s.ProcessFilter.Set(uint8(1)); err != nil {
			return fmt.Errorf("capture: setting process_filter: %w", err)
		}
		spec.Maps["ignored_processes"].MaxEntries = uint32(e.opts.MaxProcesses)
	}
	if err := spec.LoadAndAssign(&e.objs, nil); err != nil {
		if e.logVerifier(err) {
			if !e.opts.ProbeReads {
				// A kernel with the casts whose verifier still refuses
				// them: the helper reads are the fallback.
				e.log.Warn("loading the BPF programs again, reading kernel structures with bpf_probe_read_kernel")
				e.opts.ProbeReads = true
				return e.loadSyscallObjects()
			}
			return fmt.Errorf("capture: the kernel's verifier rejected a BPF program: %w", err)
		}
		return withPrivilegeHint("loading BPF programs", err)
	}
	return nil
}

// commonSpecs is what every object declares (bpf/headers/capture.h) and is
// configured with.
type commonSpecs struct {
	Events         *ebpf.MapSpec      `ebpf:"events"`
	SelfTgid       *ebpf.VariableSpec `ebpf:"self_tgid"`
	ProbeReadsOnly *ebpf.VariableSpec `ebpf:"probe_reads_only"`
	WakeupShift    *ebpf.VariableSpec `ebpf:"wakeup_shift"`
}

// configure sets what every object is loaded with: the ring buffer's size
// (a replacement map must match its spec) and how much of it fills before
// the reader is woken, the process never to capture, this one, and how
// kernel structures are read (Options.ProbeReads).
func (e *Engine) configure(spec *ebpf.CollectionSpec) error {
	var s commonSpecs
	if err := spec.Assign(&s); err != nil {
		return fmt.Errorf("reading the embedded BPF object: %w", err)
	}
	s.Events.MaxEntries = uint32(e.opts.RingBufferSize)
	if err := s.WakeupShift.Set(uint32(wakeupShift(e.opts.RingBufferSize))); err != nil {
		return fmt.Errorf("setting wakeup_shift: %w", err)
	}
	if err := s.SelfTgid.Set(uint32(os.Getpid())); err != nil {
		return fmt.Errorf("setting self_tgid: %w", err)
	}
	if e.opts.ProbeReads {
		if err := s.ProbeReadsOnly.Set(uint32(1)); err != nil {
			return fmt.Errorf("setting probe_reads_only: %w", err)
		}
	}
	return nil
}

// wakeupShift is the log2 of how many bytes wait in a ring buffer of size
// bytes (a power of two) before the reader is woken: 64 KiB, or a quarter of
// a smaller ring buffer.
func wakeupShift(size int) int {
	return min(16, bits.Len(uint(size))-1-2)
}

// setLibraryFiles fills bpf/syscalls.c's tls_lib_files with the file names
// of the shared TLS libraries in tlsLibraries.
func setLibraryFiles(v *ebpf.VariableSpec) error {
	files := make([]syscallsLibFileName, uintptr(v.Size())/unsafe.Sizeof(syscallsLibFileName{}))
	if len(tlsLibraries) > len(files) {
		return fmt.Errorf("capture: %d TLS libraries, room for %d file names in bpf/syscalls.c", len(tlsLibraries), len(files))
	}
	for i, lib := range tlsLibraries {
		f := &files[i]
		if len(lib.file) > len(f.Prefix) {
			return fmt.Errorf("capture: TLS library file name %q is longer than bpf/syscalls.c's %d bytes", lib.file, len(f.Prefix))
		}
		for j := range len(lib.file) {
			f.Prefix[j] = int8(lib.file[j])
		}
		f.Len = uint32(len(lib.file))
	}
	if err := v.Set(files); err != nil {
		return fmt.Errorf("capture: setting tls_lib_files: %w", err)
	}
	return nil
}

// tlsPrograms are the TLS probe programs the kernel accepted; an object it
// refused is nil.
type tlsPrograms struct {
	lib    *tlslibPrograms // C libraries: bpf/tlslib.c
	golang *gotlsPrograms  // Go's crypto/tls: bpf/gotls.c
}

func (p tlsPrograms) close() {
	if p.lib != nil {
		_ = p.lib.Close()
	}
	if p.golang != nil {
		_ = p.golang.Close()
	}
}

// captureMaps is the maps of bpf/headers/capture.h, which every object
// declares: one ring buffer, one set of counters, policies and lost bytes.
// bpf/gotls.c declares these and its own Go calls in flight (go_calls).
func (m *syscallsMaps) captureMaps() map[string]*ebpf.Map {
	return map[string]*ebpf.Map{
		syscallsMapEvents:   m.Events,
		syscallsMapCounters: m.Counters,
		syscallsMapPolicies: m.Policies,
		syscallsMapLost:     m.Lost,
	}
}

// tlsLibraryMaps is every map bpf/tlslib.c declares: capture.h's and
// tlslib.h's, which it shares with the syscall programs that fill them.
func (m *syscallsMaps) tlsLibraryMaps() map[string]*ebpf.Map {
	shared := m.captureMaps()
	shared[syscallsMapTlsCalls] = m.TlsCalls
	shared[syscallsMapSslSocks] = m.SslSocks
	shared[syscallsMapLastRead] = m.LastRead
	shared[syscallsMapPendingBind] = m.PendingBind
	return shared
}

// loadTLS loads the TLS probe programs, C libraries' and Go's, on the
// syscall object's maps. An object the kernel refuses costs its TLS
// plaintext, not the capture: it is logged and left out.
func (e *Engine) loadTLS() *tlsProbes {
	multi := !e.opts.ClassicUprobes && useUprobeMulti()
	var progs tlsPrograms
	lib, golang := new(tlslibPrograms), new(gotlsPrograms)
	if err := e.loadUprobes(loadTlslib, e.objs.tlsLibraryMaps(), lib, multi); err != nil {
		e.logTLSLoad("TLS library", err)
	} else {
		progs.lib = lib
	}
	if err := e.loadUprobes(loadGotls, e.objs.captureMaps(), golang, multi); err != nil {
		e.logTLSLoad("Go crypto/tls", err)
	} else {
		progs.golang = golang
	}
	e.log.Debug("TLS probes", zap.Bool("uprobe_multi", multi))
	return newTLSProbes(progs, multi, e.opts)
}

func (e *Engine) logTLSLoad(what string, err error) {
	e.logVerifier(err)
	e.log.Error("cannot load the "+what+" BPF programs; their HTTPS is seen encrypted only", zap.Error(err))
}

// loadUprobes loads an embedded object of uprobes into progs, its bpf2go
// programs struct, on the syscall object's maps in shared; multi loads the
// programs for uprobe_multi links.
func (e *Engine) loadUprobes(load func() (*ebpf.CollectionSpec, error), shared map[string]*ebpf.Map, progs any, multi bool) error {
	spec, err := load()
	if err != nil {
		return fmt.Errorf("reading the embedded BPF object: %w", err)
	}
	if err := e.configure(spec); err != nil {
		return err
	}
	if multi {
		prepareUprobeMulti(spec)
	}
	return spec.LoadAndAssign(progs, &ebpf.CollectionOptions{MapReplacements: shared})
}

// logVerifier logs err, if the verifier refused a program, and says so: the
// summary at error level, the verifier's whole log at debug level.
func (e *Engine) logVerifier(err error) bool {
	var ve *ebpf.VerifierError
	if !errors.As(err, &ve) {
		return false
	}
	e.log.Error("BPF verifier rejected a program; the debug log level shows its full log", zap.Error(ve))
	e.log.Debug("BPF verifier log", zap.String("log", fmt.Sprintf("%+v", ve)))
	return true
}

// withPrivilegeHint wraps an error of step. checkPrivileges found the
// capabilities it needs, so a refusal comes from elsewhere: say where to look.
func withPrivilegeHint(step string, err error) error {
	if errors.Is(err, os.ErrPermission) {
		return fmt.Errorf("capture: %s was refused though this process has CAP_BPF and CAP_PERFMON; a user namespace (capabilities of a rootless container count for nothing here), a seccomp profile or a security module (SELinux, AppArmor, lockdown) may deny bpf(2) and perf_event_open(2): %w", step, err)
	}
	return fmt.Errorf("capture: %s: %w", step, err)
}
