//go:build linux && (amd64 || arm64)

package capture

import (
	"bufio"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"go.uber.org/zap"
)

// tlsProbes attaches the TLS library uprobes (bpf/openssl.c) to every
// library or executable on the host that exports the OpenSSL API, once per
// file: a uprobe is set on the file, so it covers every process mapping it,
// including processes started later.
type tlsProbes struct {
	log  *zap.Logger
	coll *ebpf.Collection
	// procRoot is where procfs is; container files are reached through
	// /proc/<pid>/root.
	procRoot string

	// files is every file inspected, probed or not, so each is read once.
	// Only start (before run begins) and run touch it; close waits for run
	// to end first.
	files  map[fileID]*probedFile
	pinned map[fileID]bool // the system's libraries: probed for good

	pids      chan inspectRequest // processes to inspect, from exec events
	stop      chan struct{}
	done      chan struct{}
	running   bool // run was started: close waits for it
	closeOnce sync.Once

	attached, failed atomic.Uint64 // files
	detached         atomic.Uint64 // probed files no process used any more
	pidsDropped      atomic.Uint64 // exec events not inspected: the queue was full
	notRemembered    atomic.Uint64 // files inspected while files was full: they are read again next time
}

// maxInspectedFiles bounds the files remembered as inspected.
const maxInspectedFiles = 65536

// fileID names a file whatever path it is reached by.
type fileID struct{ dev, ino uint64 }

type probedFile struct {
	path  string
	links []link.Link
}

// tlsLibrary says how to find and probe one TLS library.
type tlsLibrary struct {
	id       syscallsTlsLibrary // the probes' attach cookie, reported in events
	name     string             // Conn.TLSLibrary
	file     string             // prefix of the shared library's file name
	probes   map[string]string  // function → program (bpf/tlslib.c), set at entry and at return
	required []string           // functions a file must define to be this library
}

var tlsLibraries = []tlsLibrary{
	{
		id: syscallsTlsLibraryTLS_LIB_OPENSSL, name: "openssl", file: "libssl.so",
		probes: map[string]string{
			"SSL_write": "tls_write", "SSL_read": "tls_read",
			// Since OpenSSL 1.1.1; python's ssl module calls these.
			"SSL_write_ex": "tls_write_ex", "SSL_read_ex": "tls_read_ex",
		},
		required: []string{"SSL_read", "SSL_write"},
	},
	{
		id: syscallsTlsLibraryTLS_LIB_GNUTLS, name: "gnutls", file: "libgnutls.so",
		probes:   map[string]string{"gnutls_record_send": "tls_write", "gnutls_record_recv": "tls_read"},
		required: []string{"gnutls_record_send", "gnutls_record_recv"},
	},
}

// tlsLibraryName names the library of an event's tls_library field.
func tlsLibraryName(id uint8) string {
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

func newTLSProbes(log *zap.Logger, coll *ebpf.Collection, procRoot string) *tlsProbes {
	return &tlsProbes{
		log:      log,
		coll:     coll,
		procRoot: procRoot,
		files:    make(map[fileID]*probedFile),
		pinned:   make(map[fileID]bool),
		pids:     make(chan inspectRequest, 1024),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
}

// start probes what is on the host now and follows new processes.
func (t *tlsProbes) start() {
	for _, dir := range libraryDirs {
		for _, lib := range tlsLibraries {
			matches, _ := filepath.Glob(filepath.Join(dir, lib.file+"*"))
			for _, path := range matches {
				if id, ok := t.inspect(path); ok {
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
// now and then to catch libraries loaded with dlopen.
func (t *tlsProbes) run() {
	defer close(t.done)
	rescan := time.NewTicker(10 * time.Second)
	defer rescan.Stop()
	for {
		select {
		case <-t.stop:
			return
		case req := <-t.pids:
			switch {
			case req.rescan:
				t.scanAll()
				continue
			case req.path != "":
				t.inspect(req.path)
				continue
			}
			t.scanProcess(req.pid, nil)
			if !req.again {
				// The dynamic loader maps the libraries right after
				// exec; look again once it has.
				time.AfterFunc(100*time.Millisecond, func() { t.send(inspectRequest{pid: req.pid, again: true}) })
			}
		case <-rescan.C:
			t.scanAll()
		}
	}
}

type inspectRequest struct {
	pid    int
	again  bool   // the second look, after the dynamic loader ran
	path   string // a library file the process opened: inspect just that
	rescan bool   // scan every process now
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
	t.send(inspectRequest{pid: pid, path: path})
}

// execed asks for a process that executed a program to be inspected; it
// never blocks the caller.
func (t *tlsProbes) execed(pid int) { t.send(inspectRequest{pid: pid}) }

func (t *tlsProbes) send(req inspectRequest) {
	select {
	case t.pids <- req:
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
		t.coll.Close()
	})
}

// scanAll inspects every process, then detaches the probes of files that no
// process uses any more, except the system's libraries.
func (t *tlsProbes) scanAll() {
	inUse := make(map[fileID]bool)
	defer func() {
		for id, f := range t.files {
			if len(f.links) > 0 && !inUse[id] && !t.pinned[id] {
				for _, l := range f.links {
					_ = l.Close()
				}
				delete(t.files, id) // inspected afresh if a process brings it back
				t.detached.Add(1)
			}
		}
	}()
	entries, err := os.ReadDir(t.procRoot)
	if err != nil {
		t.log.Warn("listing processes for TLS libraries", zap.Error(err))
		return
	}
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			t.scanProcess(pid, inUse)
		}
	}
}

// scanProcess inspects a process's executable and the TLS libraries it has
// mapped, through its root so that container files are found.
func (t *tlsProbes) scanProcess(pid int, inUse map[fileID]bool) {
	use := func(id fileID, ok bool) {
		if ok && inUse != nil {
			inUse[id] = true
		}
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
		if len(fields) < 6 || !strings.Contains(fields[1], "x") {
			continue
		}
		for _, lib := range tlsLibraries {
			if path := fields[5]; strings.HasPrefix(filepath.Base(path), lib.file) {
				use(t.inspect(filepath.Join(root, path)))
			}
		}
	}
}

// inspect attaches the probes to the file at path if it exports a TLS
// library's API and was not seen before. A file that cannot be probed is
// logged once. It returns the file's identity, if the file exists.
func (t *tlsProbes) inspect(path string) (id fileID, ok bool) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return fileID{}, false
	}
	id = fileID{uint64(st.Dev), st.Ino}
	if _, seen := t.files[id]; seen {
		return id, true
	}
	f := &probedFile{path: path}
	if len(t.files) < maxInspectedFiles {
		t.files[id] = f
	} else {
		t.notRemembered.Add(1)
	}
	for _, lib := range tlsLibraries {
		offsets, err := dynamicOffsets(path, slices.Collect(maps.Keys(lib.probes)))
		if err != nil || !hasAll(offsets, lib.required) {
			continue // not this library (or not an ELF file)
		}
		links, err := t.attach(path, lib, offsets)
		if err != nil {
			t.failed.Add(1)
			t.log.Warn("cannot probe a TLS library; its traffic is seen encrypted only", zap.String("path", path), zap.Error(err))
			return id, true
		}
		f.links = links
		t.files[id] = f // probed files are always remembered, to be detached
		t.attached.Add(1)
		t.log.Info("probing TLS library", zap.String("library", lib.name), zap.String("path", path))
		return id, true
	}
	return id, true
}

func hasAll(offsets map[string]uint64, names []string) bool {
	for _, n := range names {
		if _, ok := offsets[n]; !ok {
			return false
		}
	}
	return true
}

// attach sets the entry and return probes of each of the library's
// functions the file defines, at the offsets given; all or nothing.
func (t *tlsProbes) attach(path string, lib tlsLibrary, offsets map[string]uint64) (links []link.Link, err error) {
	ex, err := link.OpenExecutable(path)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			for _, l := range links {
				_ = l.Close()
			}
			links = nil
		}
	}()
	for sym, off := range offsets {
		opts := &link.UprobeOptions{Address: off, Cookie: uint64(lib.id)}
		for _, name := range []string{lib.probes[sym], lib.probes[sym] + "_ret"} {
			prog := t.coll.Programs[name]
			if prog == nil {
				return links, fmt.Errorf("no program %s in the TLS library object", name)
			}
			attach := ex.Uprobe
			if strings.HasSuffix(name, "_ret") {
				attach = ex.Uretprobe
			}
			l, err := attach(sym, prog, opts)
			if err != nil {
				return links, fmt.Errorf("attaching %s to %s in %s: %w", name, sym, path, err)
			}
			links = append(links, l)
		}
	}
	return links, nil
}

func (t *tlsProbes) stats(s *Stats) {
	s.TLSFilesProbed = t.attached.Load() - t.detached.Load()
	s.TLSFilesDetached = t.detached.Load()
	s.TLSFilesFailed = t.failed.Load()
	s.TLSExecsSkipped = t.pidsDropped.Load()
	s.TLSFilesNotRemembered = t.notRemembered.Load()
}
