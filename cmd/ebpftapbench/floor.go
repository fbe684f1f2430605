package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"

	"github.com/ebpftap/ebpftap/internal/binsym"
)

// The floor is ebpftap's probe sites with nothing behind them, what any
// probe design pays here before its programs do work:
//
//   - at the TLS sites the engine probes, tracefs uprobes and uretprobes with
//     no program, enabled in a tracefs instance of their own whose recording
//     is off: a hit costs the trap and a dispatch that finds the instance's
//     ring buffer off. The instance leaves the global trace buffer and its
//     tracing_on untouched.
//   - at the syscall, sock and sched tracepoints the engine attaches to, by
//     default one BPF program that returns at once: a hit costs the slow
//     syscall path and the same perf-event dispatch to a BPF program that
//     ebpftap's programs get, and bpf_stats counts the hits. With
//     -floor-tracepoints=tracefs they are enabled in the instance instead,
//     with no program: the dispatch then ends in the ftrace handler, which
//     finds recording off; cheaper by the BPF dispatch, and uncounted.
const (
	tracefsRoot   = "/sys/kernel/tracing"
	floorGroup    = "ebpftapbench" // uprobe event group, and the instance's name
	floorEventTag = "etb_"         // prefix of every uprobe event the bench defines
)

// uprobeSite is one uprobe or uretprobe of the floor.
type uprobeSite struct {
	event   string // tracefs event name, unique
	library string // "go" or "openssl", for hits by library
	path    string
	offset  uint64 // file offset
	ret     bool   // a uretprobe
}

// opensslFuncs are the functions ebpftap's engine probes in a libssl
// (internal/capture's tlsLibraries), at entry and, for those listed with
// a return, at return too.
var opensslFuncs = []string{"SSL_read", "SSL_write", "SSL_read_ex", "SSL_write_ex"}

// opensslReturns lists the OpenSSL functions the floor sets a uretprobe on,
// by the -floor-ssl-returns value.
func opensslReturns(which string) ([]string, error) {
	switch which {
	case "all":
		// internal/capture's attachLibrary, as of this bench: tls_return on
		// every function, reads and writes.
		return opensslFuncs, nil
	case "reads":
		return []string{"SSL_read", "SSL_read_ex"}, nil
	}
	return nil, fmt.Errorf("-floor-ssl-returns: must be all or reads; got %q", which)
}

// goFloorSites are the Go crypto/tls sites ebpftap probes in one binary:
// the entries of (*Conn).Write and Read and every RET of Read. A Go program
// without crypto/tls (grpcserver links none) has none, as for the engine.
func goFloorSites(path string, fileIndex int) ([]uprobeSite, error) {
	s, err := binsym.GoTLSProbeSites(path)
	if errors.Is(err, binsym.ErrNotGoTLS) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("finding the Go TLS probe sites of %s: %w", path, err)
	}
	sites := []uprobeSite{
		{event: fmt.Sprintf("%sgo_write_%d", floorEventTag, fileIndex), library: "go", path: path, offset: s.Write.Entry},
		{event: fmt.Sprintf("%sgo_read_%d", floorEventTag, fileIndex), library: "go", path: path, offset: s.Read.Entry},
	}
	for i, off := range s.Read.Returns {
		sites = append(sites, uprobeSite{event: fmt.Sprintf("%sgo_readret_%d_%d", floorEventTag, fileIndex, i), library: "go", path: path, offset: off})
	}
	return sites, nil
}

// opensslFloorSites are the OpenSSL sites ebpftap probes in one libssl.
func opensslFloorSites(path string, fileIndex int, returns []string) ([]uprobeSite, error) {
	offsets, err := binsym.DynamicFuncOffsets(path, opensslFuncs)
	if err != nil {
		return nil, fmt.Errorf("finding the OpenSSL functions of %s: %w", path, err)
	}
	if _, ok := offsets["SSL_read"]; !ok {
		return nil, fmt.Errorf("%s does not export SSL_read: not a libssl ebpftap would probe", path)
	}
	var sites []uprobeSite
	for _, fn := range opensslFuncs {
		off, ok := offsets[fn]
		if !ok {
			continue
		}
		sites = append(sites, uprobeSite{event: fmt.Sprintf("%s%s_%d", floorEventTag, fn, fileIndex), library: "openssl", path: path, offset: off})
		if slices.Contains(returns, fn) {
			sites = append(sites, uprobeSite{event: fmt.Sprintf("%s%s_ret_%d", floorEventTag, fn, fileIndex), library: "openssl", path: path, offset: off, ret: true})
		}
	}
	return sites, nil
}

// libsslMappedBy lists the libssl files the processes have mapped.
func libsslMappedBy(pids []int) ([]string, error) {
	var libs []string
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
		if err != nil {
			return nil, fmt.Errorf("reading the mappings of %d: %w", pid, err)
		}
		for line := range strings.Lines(string(b)) {
			f := strings.Fields(line)
			if len(f) >= 6 && isLibssl(f[5]) && !slices.Contains(libs, f[5]) {
				libs = append(libs, f[5])
			}
		}
	}
	return libs, nil
}

var lddLibssl = regexp.MustCompile(`(?m)^\s*libssl\S*\s+=>\s+(\S+)`)

// libsslLinkedBy lists the libssl a program loads, as ldd resolves it: the
// load tools are started after the probes are set, so no process of theirs
// can be read yet.
func libsslLinkedBy(exe string) ([]string, error) {
	out, err := exec.Command("ldd", exe).Output()
	if err != nil {
		return nil, fmt.Errorf("ldd %s: %w", exe, err)
	}
	var libs []string
	for _, m := range lddLibssl.FindAllSubmatch(out, -1) {
		libs = append(libs, string(m[1]))
	}
	return libs, nil
}

func isLibssl(path string) bool { return strings.HasPrefix(filepath.Base(path), "libssl.so") }

// sameFiles drops paths that name a file already listed (/lib and /usr/lib
// are one directory on a merged-/usr system): a file is probed once, as the
// engine probes it, or each call would hit twice.
func sameFiles(paths []string) ([]string, error) {
	seen := map[[2]uint64]bool{}
	var out []string
	for _, p := range paths {
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err != nil {
			return nil, fmt.Errorf("stat %s: %w", p, err)
		}
		id := [2]uint64{st.Dev, st.Ino}
		if !seen[id] {
			seen[id] = true
			out = append(out, p)
		}
	}
	return out, nil
}

// engineTracepoints lists the tracepoints ebpftap attaches, "group/event",
// from the engine's compiled BPF object: the engine attaches every program
// of it to the tracepoint its section names.
func engineTracepoints(repo string) ([]string, error) {
	arch := map[string]string{"amd64": "x86", "arm64": "arm64"}[runtime.GOARCH]
	obj := filepath.Join(repo, "internal", "capture", "syscalls_"+arch+"_bpfel.o")
	spec, err := ebpf.LoadCollectionSpec(obj)
	if err != nil {
		return nil, fmt.Errorf("reading the engine's BPF object %s: %w", obj, err)
	}
	var tps []string
	for _, p := range spec.Programs {
		if tp, ok := strings.CutPrefix(p.SectionName, "tracepoint/"); ok {
			tps = append(tps, tp)
		}
	}
	if len(tps) == 0 {
		return nil, fmt.Errorf("%s has no tracepoint program", obj)
	}
	slices.Sort(tps)
	return tps, nil
}

// floorProbes is a floor set in tracefs and, for the tracepoints, with an
// empty BPF program.
type floorProbes struct {
	sites   []uprobeSite
	empty   *ebpf.Program // attached to every tracepoint; nil with tracefs
	tpLinks []link.Link
}

// Ways of setting the floor's tracepoints (-floor-tracepoints).
const (
	floorTracepointsBPF     = "bpf"
	floorTracepointsTracefs = "tracefs"
)

func instanceDir() string { return filepath.Join(tracefsRoot, "instances", floorGroup) }

// setFloor defines the uprobes and enables them in the bench's tracefs
// instance, and sets the tracepoints as method says. On error, what was set
// is removed.
func setFloor(sites []uprobeSite, tracepoints []string, method string) (_ *floorProbes, err error) {
	f := &floorProbes{}
	defer func() {
		if err != nil {
			err = errors.Join(err, f.remove())
		}
	}()
	if err := os.Mkdir(instanceDir(), 0o755); err != nil {
		return f, fmt.Errorf("creating the tracefs instance: %w", err)
	}
	if err := writeTracefs(filepath.Join(instanceDir(), "tracing_on"), "0"); err != nil {
		return f, err
	}
	for _, s := range sites {
		kind := "p"
		if s.ret {
			kind = "r"
		}
		def := fmt.Sprintf("%s:%s/%s %s:%#x", kind, floorGroup, s.event, s.path, s.offset)
		if err := appendTracefs(filepath.Join(tracefsRoot, "uprobe_events"), def); err != nil {
			return f, err
		}
		f.sites = append(f.sites, s)
	}
	if len(sites) > 0 {
		if err := writeTracefs(filepath.Join(instanceDir(), "events", floorGroup, "enable"), "1"); err != nil {
			return f, err
		}
	}
	if method == floorTracepointsTracefs {
		for _, tp := range tracepoints {
			if err := writeTracefs(filepath.Join(instanceDir(), "events", tp, "enable"), "1"); err != nil {
				return f, err
			}
		}
		return f, nil
	}
	f.empty, err = ebpf.NewProgram(&ebpf.ProgramSpec{
		Name:         "floor_empty",
		Type:         ebpf.TracePoint,
		License:      "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()},
	})
	if err != nil {
		return f, fmt.Errorf("loading the floor's empty tracepoint program: %w", err)
	}
	for _, tp := range tracepoints {
		group, event, _ := strings.Cut(tp, "/")
		l, err := link.Tracepoint(group, event, f.empty, nil)
		if err != nil {
			return f, fmt.Errorf("attaching the floor's empty program to %s: %w", tp, err)
		}
		f.tpLinks = append(f.tpLinks, l)
	}
	return f, nil
}

// tracepointStats is the empty program's bpf_stats: its runs are the
// tracepoints' hits. Zero with the tracefs method.
func (f *floorProbes) tracepointStats() (runs uint64, runtime time.Duration, err error) {
	if f.empty == nil {
		return 0, 0, nil
	}
	st, err := f.empty.Stats()
	if err != nil {
		return 0, 0, fmt.Errorf("reading the floor program's stats: %w", err)
	}
	return st.RunCount, st.Runtime, nil
}

// remove detaches the empty program and removes the tracefs probes.
func (f *floorProbes) remove() error {
	var errs []error
	for _, l := range f.tpLinks {
		errs = append(errs, l.Close())
	}
	if f.empty != nil {
		errs = append(errs, f.empty.Close())
	}
	return errors.Join(append(errs, removeFloor())...)
}

// hits reads uprobe_profile: the hits of the floor's uprobes so far, by
// library. The count is kept whatever the instance records.
func (f *floorProbes) hits() (map[string]uint64, error) {
	b, err := os.ReadFile(filepath.Join(tracefsRoot, "uprobe_profile"))
	if err != nil {
		return nil, fmt.Errorf("reading uprobe_profile: %w", err)
	}
	byEvent, err := parseUprobeProfile(b)
	if err != nil {
		return nil, err
	}
	out := map[string]uint64{}
	for _, s := range f.sites {
		out[s.library] += byEvent[s.event]
	}
	return out, nil
}

// parseUprobeProfile reads uprobe_profile's lines, "file event hits", into
// hits by event name.
func parseUprobeProfile(b []byte) (map[string]uint64, error) {
	out := map[string]uint64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 {
			return nil, fmt.Errorf("uprobe_profile line %q: want file, event and hits", sc.Text())
		}
		n, err := strconv.ParseUint(f[2], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("uprobe_profile line %q: %w", sc.Text(), err)
		}
		out[f[1]] += n
	}
	return out, sc.Err()
}

// removeFloor removes the bench's tracefs instance and uprobe events,
// whichever run left them: a bench killed outright cannot clean up, so each
// run starts by clearing what a previous one left.
func removeFloor() error {
	var errs []error
	if _, err := os.Stat(instanceDir()); err == nil {
		// Disable every event of the instance before removing it.
		if err := writeTracefs(filepath.Join(instanceDir(), "events", "enable"), "0"); err != nil {
			errs = append(errs, err)
		}
		if err := os.Remove(instanceDir()); err != nil {
			errs = append(errs, fmt.Errorf("removing the tracefs instance: %w", err))
		}
	}
	defs, err := os.ReadFile(filepath.Join(tracefsRoot, "uprobe_events"))
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("reading uprobe_events: %w", err))...)
	}
	for _, event := range floorEvents(defs) {
		if err := appendTracefs(filepath.Join(tracefsRoot, "uprobe_events"), "-:"+floorGroup+"/"+event); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// floorEvents lists the bench's events among uprobe_events' definitions,
// "p:group/event path:offset".
func floorEvents(defs []byte) []string {
	var events []string
	for line := range strings.Lines(string(defs)) {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		_, name, ok := strings.Cut(f[0], ":")
		if event, mine := strings.CutPrefix(name, floorGroup+"/"); ok && mine {
			events = append(events, event)
		}
	}
	return events
}

// writeTracefs writes one value to a tracefs file, truncating it.
func writeTracefs(path, value string) error {
	if err := os.WriteFile(path, []byte(value), 0); err != nil {
		return fmt.Errorf("writing %q to %s: %w", value, path, err)
	}
	return nil
}

// appendTracefs adds one definition to a tracefs list (uprobe_events): a
// truncating write would delete every other definition.
func appendTracefs(path, line string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("opening %s: %w", path, err)
	}
	_, err = f.WriteString(line + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("adding %q to %s: %w", line, path, err)
	}
	return nil
}
