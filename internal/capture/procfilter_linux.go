//go:build linux && (amd64 || arm64)

package capture

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"go.uber.org/zap"
)

// processFilter keeps the kernel's ignored_processes map: the processes
// whose executable Options.ExcludeExecutable rejects, by tgid, so that the
// kernel ignores their connections from the open (bpf/syscalls.c, ignored).
// It runs on the reader's goroutine, at Start and on exec and exit events.
type processFilter struct {
	exclude  func(string) bool
	procRoot string
	ignored  *ebpf.Map // objs.IgnoredProcesses
	log      *zap.Logger
	full     bool   // the map had no room once: warned
	lost     uint64 // the ring buffer's lost events at the last revalidate
}

// scan judges every process running now, from /proc.
func (f *processFilter) scan() {
	entries, err := os.ReadDir(f.procRoot)
	if err != nil {
		f.log.Warn("listing processes for the process filter; they are judged at their first connection", zap.Error(err))
		return
	}
	for _, d := range entries {
		if pid, err := strconv.Atoi(d.Name()); err == nil && pid > 0 {
			f.judge(pid, "")
		}
	}
}

// judge enters pid in the map when its executable is excluded and removes
// it otherwise: an exec may change a process's program either way. The
// path is read from /proc as processCache.read reads it, so both filters
// see the same path; filename, what exec was given, stands in when the
// process is already gone.
func (f *processFilter) judge(pid int, filename string) {
	exe, err := os.Readlink(filepath.Join(f.procRoot, strconv.Itoa(pid), "exe"))
	if err == nil {
		exe = strings.TrimSuffix(exe, " (deleted)")
	} else if exe = filename; exe == "" {
		f.forget(pid) // gone, or a kernel thread: nothing to connect
		return
	}
	key := uint32(pid)
	if !f.exclude(exe) {
		f.forget(pid)
		return
	}
	if err := f.ignored.Put(key, uint8(1)); err != nil && !f.full {
		// The map holds Options.MaxProcesses. Nothing is lost: the
		// handler filters what the kernel could not.
		f.log.Warn("the kernel's process filter is full; more processes are filtered after their connections open",
			zap.Int("pid", pid), zap.Error(err))
		f.full = true
	}
}

// forget removes pid, which exited or now runs a program that is followed.
func (f *processFilter) forget(pid int) {
	_ = f.ignored.Delete(uint32(pid)) // most were never entered
}

// revalidate judges every process in the map again when the ring buffer
// lost events since the last call, lost being their count: an exit event
// may have been among them, and its pid, reused by a process that is
// followed, must not stay ignored.
func (f *processFilter) revalidate(lost uint64) {
	if lost == f.lost {
		return
	}
	f.lost = lost
	var pids []uint32
	var pid uint32
	var v uint8
	for it := f.ignored.Iterate(); it.Next(&pid, &v); {
		pids = append(pids, pid)
	}
	for _, pid := range pids {
		f.judge(int(pid), "")
	}
}
