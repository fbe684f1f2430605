//go:build linux && (amd64 || arm64)

package capture

import (
	"bufio"
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cilium/ebpf/link"
	"go.uber.org/zap"

	"github.com/ebpftap/ebpftap/internal/binsym"
)

// tlsProbes attaches the TLS uprobes to every library or executable on the
// host that has a TLS API we read plaintext from (C libraries: bpf/tlslib.c;
// Go's crypto/tls: bpf/gotls.c), once per file: a uprobe is set on the file,
// so it covers every process mapping it, including processes started later.
type tlsProbes struct {
	log     *zap.Logger
	progs   tlsPrograms
	uprobes uprobeAttacher
	// procRoot is where procfs is; container files are reached through
	// /proc/<pid>/root.
	procRoot string

	// files is every file inspected, probed or not, so each is read once
	// (up to maxInspectedFiles unprobed ones: more are read again when seen
	// again). Only start (before run begins) and run touch it; close waits
	// for run to end first.
	files  map[fileID]*probedFile
	pinned map[fileID]bool // the system's libraries: probed for good
	grace  time.Duration   // Options.TLSProbeGrace

	pids      chan inspectRequest // processes to inspect, from exec events
	opened    chan inspectRequest // library files processes opened
	stop      chan struct{}
	done      chan struct{}
	running   bool // run was started: close waits for it
	closeOnce sync.Once

	pace pacer // bounds the inspections a second

	attached, failed atomic.Uint64 // files
	detached         atomic.Uint64 // probed files no process used any more
	pidsDropped      atomic.Uint64 // requests not handled: their queue was full

	// denied is the processes whose files the collector may not open
	// (docs/privileges.md: CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH), each
	// counted once in deniedProcs; scanAll forgets those gone. Only run and
	// start touch it.
	denied      map[int]bool
	deniedProcs atomic.Uint64
}

// maxInspectedFiles bounds the files remembered as inspected.
const maxInspectedFiles = 65536

// fileID names a file whatever path it is reached by.
type fileID struct{ dev, ino uint64 }

type probedFile struct {
	path     string
	links    []link.Link
	lastUsed time.Time // when a scan last saw a process using it
}

// tlsLibrary says how to find and probe one TLS library.
type tlsLibrary struct {
	id       syscallsTlsLibrary           // reported in events
	name     string                       // Conn.TLSLibrary
	file     string                       // prefix of the shared library's file name
	funcs    map[string]syscallsTlsCookie // function → what it does, for bpf/tlslib.c
	required []string                     // functions a file must define to be this library
}

var tlsLibraries = []tlsLibrary{
	{
		id: syscallsTlsLibraryTLS_LIB_OPENSSL, name: "openssl", file: "libssl.so",
		funcs: map[string]syscallsTlsCookie{
			"SSL_write": 0, "SSL_read": syscallsTlsCookieTLS_COOKIE_RECV,
			// Since OpenSSL 1.1.1; python's ssl module calls these.
			"SSL_write_ex": syscallsTlsCookieTLS_COOKIE_EX,
			"SSL_read_ex":  syscallsTlsCookieTLS_COOKIE_RECV | syscallsTlsCookieTLS_COOKIE_EX,
		},
		required: []string{"SSL_read", "SSL_write"},
	},
	{
		id: syscallsTlsLibraryTLS_LIB_GNUTLS, name: "gnutls", file: "libgnutls.so",
		funcs:    map[string]syscallsTlsCookie{"gnutls_record_send": 0, "gnutls_record_recv": syscallsTlsCookieTLS_COOKIE_RECV},
		required: []string{"gnutls_record_send", "gnutls_record_recv"},
	},
}

// tlsLibraryName names the library of an event's tls_library field.
func tlsLibraryName(id uint8) string {
	if id == uint8(syscallsTlsLibraryTLS_LIB_GO) {
		return goLibrary
	}
	for _, l := range tlsLibraries {
		if uint8(l.id) == id {
			return l.name
		}
	}
	return "unknown"
}

// libraryDirs are searched at start for TLS libraries that no running
// process has mapped yet, so that a process started later is covered from
// its first call.
var libraryDirs = []string{"/usr/lib/*", "/lib/*", "/usr/lib64", "/lib64", "/usr/local/lib", "/usr/lib", "/lib"}

// newTLSProbes probes files with progs, as uprobe_multi links if multi,
// with opts' logger, procfs and grace period.
func newTLSProbes(progs tlsPrograms, multi bool, opts Options) *tlsProbes {
	return &tlsProbes{
		log:      opts.Logger,
		progs:    progs,
		uprobes:  uprobeAttacher{multi: multi},
		procRoot: opts.ProcRoot,
		files:    make(map[fileID]*probedFile),
		pinned:   make(map[fileID]bool),
		denied:   make(map[int]bool),
		grace:    opts.TLSProbeGrace,
		pids:     make(chan inspectRequest, 1024),
		opened:   make(chan inspectRequest, 256),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		// A host starting processes faster than this has them inspected
		// late (the queue holds 1024) rather than take a core for it.
		pace: pacer{interval: time.Second / 200, burst: 200},
	}
}

// start probes what is on the host now and follows new processes.
func (t *tlsProbes) start() {
	for _, dir := range libraryDirs {
		for _, lib := range tlsLibraries {
			matches, _ := filepath.Glob(filepath.Join(dir, lib.file+"*"))
			for _, path := range matches {
				if id, err := t.inspect(path); err == nil {
					t.pinned[id] = true // processes started later will use them
				}
			}
		}
	}
	t.scanAll()
	t.running = true
	go t.run()
}

// run inspects processes that executed a program, and rescans everything
// now and then to catch libraries loaded with dlopen. A library a process
// just opened goes first: the process is about to call it.
func (t *tlsProbes) run() {
	defer close(t.done)
	rescan := time.NewTicker(10 * time.Second)
	defer rescan.Stop()
	for {
		select {
		case req := <-t.opened:
			t.inspectOpened(req)
			continue
		default:
		}
		select {
		case <-t.stop:
			return
		case req := <-t.opened:
			t.inspectOpened(req)
		case req := <-t.pids:
			if !t.pace.wait(t.stop) {
				return
			}
			t.scanProcess(req.pid, nil, nil)
			if !req.again {
				// The dynamic loader maps the libraries right after
				// exec; look again once it has.
				time.AfterFunc(100*time.Millisecond, func() { t.send(t.pids, inspectRequest{pid: req.pid, again: true}) })
			}
		case <-rescan.C:
			t.scanAll()
		}
	}
}

type inspectRequest struct {
	pid   int
	again bool   // the second look, after the dynamic loader ran
	path  string // a library file the process opened: inspect just that
}

// libraryOpened asks for a TLS library file a process opened to be
// inspected at once, before the process maps and calls it.
func (t *tlsProbes) libraryOpened(pid int, path string) {
	dir := filepath.Join(t.procRoot, strconv.Itoa(pid))
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, "cwd", path)
	} else {
		path = filepath.Join(dir, "root", path)
	}
	t.send(t.opened, inspectRequest{pid: pid, path: path})
}

// execed asks for a process that executed a program to be inspected; it
// never blocks the caller.
func (t *tlsProbes) execed(pid int) { t.send(t.pids, inspectRequest{pid: pid}) }

func (t *tlsProbes) send(queue chan inspectRequest, req inspectRequest) {
	select {
	case queue <- req:
	default:
		t.pidsDropped.Add(1)
	}
}

// close detaches every probe; the counters stay readable.
func (t *tlsProbes) close() {
	t.closeOnce.Do(func() {
		close(t.stop)
		if t.running {
			<-t.done
		}
		for _, f := range t.files {
			for _, l := range f.links {
				_ = l.Close()
			}
		}
		t.files = nil
		t.progs.close()
	})
}

// scanAll inspects every process but this one, then forgets the files no
// process has used for the grace period, detaching their probes, except the
// system's libraries.
func (t *tlsProbes) scanAll() {
	entries, err := os.ReadDir(t.procRoot)
	if err != nil {
		t.log.Warn("listing processes for TLS libraries", zap.Error(err))
		return // nothing is known to be unused
	}
	inUse := make(map[fileID]bool)
	seen := make(map[string]fileID)
	live := make(map[int]bool, len(entries))
	self := os.Getpid() // its probes would trap its own exporters' TLS calls for nothing
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil && pid != self {
			live[pid] = true
			t.scanProcess(pid, inUse, seen)
		}
	}
	for pid := range t.denied {
		if !live[pid] {
			delete(t.denied, pid)
		}
	}
	now := time.Now()
	for id, f := range t.files {
		if inUse[id] {
			f.lastUsed = now
		}
		if now.Sub(f.lastUsed) < t.grace || t.pinned[id] {
			continue
		}
		// Unused for the grace period: forgotten, and inspected afresh if
		// a process brings it back.
		delete(t.files, id)
		if len(f.links) > 0 {
			for _, l := range f.links {
				_ = l.Close()
			}
			t.detached.Add(1)
			t.log.Debug("removed the TLS probes of a file no process used for the grace period", zap.String("path", f.path))
		}
	}
}

// scanProcess inspects a process's executable and every file it has mapped
// executable, through its root so that container files are found: a TLS
// library may have any name, and the files already inspected cost a stat.
// seen, when not nil, holds the files of this scan by the maps' device and
// inode, so that a library many processes map is opened once per scan.
func (t *tlsProbes) scanProcess(pid int, inUse map[fileID]bool, seen map[string]fileID) {
	use := func(id fileID, err error) {
		if err == nil && inUse != nil {
			inUse[id] = true
		}
		t.noteDenied(pid, err)
	}
	dir := filepath.Join(t.procRoot, strconv.Itoa(pid))
	root := filepath.Join(dir, "root")
	use(t.inspect(filepath.Join(dir, "exe")))
	f, err := os.Open(filepath.Join(dir, "maps"))
	if err != nil {
		return // gone, or a kernel thread
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		// address perms offset dev inode path (proc(5))
		fields := strings.Fields(s.Text())
		if len(fields) < 6 || !strings.Contains(fields[1], "x") || !strings.HasPrefix(fields[5], "/") {
			continue // not executable, or not a file ([vdso], anonymous)
		}
		key := fields[3] + " " + fields[4]
		if id, ok := seen[key]; ok {
			use(id, nil)
			continue
		}
		id, err := t.inspect(filepath.Join(root, fields[5]))
		use(id, err)
		if err == nil && seen != nil {
			seen[key] = id
		}
	}
}

// inspectOpened inspects a library file a process opened.
func (t *tlsProbes) inspectOpened(req inspectRequest) {
	_, err := t.inspect(req.path)
	t.noteDenied(req.pid, err)
}

// noteDenied counts pid, once, if err is the refusal to open one of its
// files, and logs the first such process: its HTTPS may be seen encrypted
// only, and nothing else would say so.
func (t *tlsProbes) noteDenied(pid int, err error) {
	if !errors.Is(err, fs.ErrPermission) || t.denied[pid] {
		return
	}
	t.denied[pid] = true
	if t.deniedProcs.Add(1) == 1 {
		t.log.Info("not permitted to open the files of a process to look for TLS libraries; the HTTPS of such processes is seen encrypted only, unless the library is probed through another process (docs/privileges.md: CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH)",
			zap.Int("pid", pid), zap.Error(err))
	}
}

// inspect attaches the probes to the file at path if it has a TLS API we
// read and was not seen before. A file that cannot be probed is logged
// once. It returns the file's identity, or why the file could not be opened.
func (t *tlsProbes) inspect(path string) (id fileID, err error) {
	// Held open, the file stays reachable when path stops naming it: a
	// /proc/<pid>/exe of a process that exits while it is inspected.
	file, err := os.Open(path)
	if err != nil {
		return fileID{}, err
	}
	defer file.Close()
	var st syscall.Stat_t
	if err := syscall.Fstat(int(file.Fd()), &st); err != nil {
		return fileID{}, err
	}
	id = fileID{uint64(st.Dev), st.Ino}
	if _, seen := t.files[id]; seen {
		return id, nil
	}
	f := &probedFile{path: path, lastUsed: time.Now()}
	if len(t.files) < maxInspectedFiles {
		t.files[id] = f
	}
	if !forThisMachine(file) {
		return id, nil // not ELF, or built for another architecture (run by an emulator)
	}
	name, links, err := t.probe(fmt.Sprintf("/proc/self/fd/%d", file.Fd()))
	switch {
	case err != nil:
		t.failed.Add(1)
		t.log.Warn("cannot probe a TLS library; its traffic is seen encrypted only", zap.String("path", path), zap.Error(err))
	case len(links) > 0:
		f.links = links
		t.files[id] = f // probed files are always remembered, to be detached
		t.attached.Add(1)
		t.log.Info("probing TLS library", zap.String("library", name), zap.String("path", path))
	}
	return id, nil
}

// probe attaches the probes of the first TLS library the file exports, or
// of Go's crypto/tls if it is a Go program that has it. No links and no
// error: none of them.
func (t *tlsProbes) probe(path string) (library string, links []link.Link, err error) {
	libraries := tlsLibraries
	if t.progs.lib == nil {
		libraries = nil // not loaded (see loadTLS)
	}
	for _, lib := range libraries {
		offsets, err := binsym.DynamicFuncOffsets(path, slices.Collect(maps.Keys(lib.funcs)))
		if err != nil || !hasAll(offsets, lib.required) {
			continue // not this library (or not an ELF file)
		}
		links, err := t.attachLibrary(path, lib, offsets)
		return lib.name, links, err
	}
	if t.progs.golang == nil {
		return "", nil, nil
	}
	sites, err := binsym.GoTLSProbeSites(path)
	if errors.Is(err, binsym.ErrNotGoTLS) {
		return "", nil, nil
	}
	if err != nil {
		return goLibrary, nil, err
	}
	links, err = t.attachGo(path, sites)
	return goLibrary + " " + sites.GoVersion, links, err
}

// hostMachine is the ELF machine of the programs the BPF code can read the
// registers of.
var hostMachine = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[runtime.GOARCH]

// forThisMachine reports whether file is an ELF file for this machine. A
// probe on a file of another architecture, run by an emulator such as
// qemu-user, would write this machine's breakpoint into its code.
func forThisMachine(file *os.File) bool {
	f, err := elf.NewFile(file)
	return err == nil && f.Machine == hostMachine
}

func hasAll(offsets map[string]uint64, names []string) bool {
	for _, n := range names {
		if _, ok := offsets[n]; !ok {
			return false
		}
	}
	return true
}

// attachLibrary sets bpf/tlslib.c's probes on the library's functions that
// the file defines, at the offsets given: at entry and at return.
func (t *tlsProbes) attachLibrary(path string, lib tlsLibrary, offsets map[string]uint64) ([]link.Link, error) {
	enter := probeSet{what: "entry probe", prog: t.progs.lib.TlsEnter}
	ret := probeSet{what: "return probe", prog: t.progs.lib.TlsReturn, uretprobe: true}
	for fn, off := range offsets {
		cookie := uint64(lib.id) | uint64(lib.funcs[fn])
		enter.add(fn, off, cookie)
		ret.add(fn, off, cookie)
	}
	return t.uprobes.attach(path, enter, ret)
}

// goLibrary is Conn.TLSLibrary for Go's crypto/tls.
const goLibrary = "go"

// attachGo sets bpf/gotls.c's probes on a Go program: at the entry of
// (*tls.Conn).Write, whose plaintext is known there, and at the entry and
// each RET instruction of Read, since a uretprobe would corrupt a Go stack.
func (t *tlsProbes) attachGo(path string, s *binsym.GoTLSSites) ([]link.Link, error) {
	const lib = uint64(syscallsTlsLibraryTLS_LIB_GO)
	const read = lib | uint64(syscallsTlsCookieTLS_COOKIE_RECV)
	enter := probeSet{what: "entry probe", prog: t.progs.golang.GoTlsEnter}
	enter.add(binsym.GoTLSWriteFunc, s.Write.Entry, lib)
	enter.add(binsym.GoTLSReadFunc, s.Read.Entry, read)
	ret := probeSet{what: "return probe", prog: t.progs.golang.GoTlsReturn}
	for _, off := range s.Read.Returns {
		ret.add(binsym.GoTLSReadFunc, off, read)
	}
	return t.uprobes.attach(path, enter, ret)
}

func (t *tlsProbes) stats(s *Stats) {
	detached := t.detached.Load() // first: attached only grows past it
	s.TLSFilesProbed = t.attached.Load() - detached
	s.TLSFilesFailed = t.failed.Load()
	s.TLSExecsSkipped = t.pidsDropped.Load()
	s.TLSProcessesDenied = t.deniedProcs.Load()
}
