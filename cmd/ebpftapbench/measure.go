package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cilium/ebpf"
)

// userHZ is the unit of /proc/<pid>/stat's times: clock ticks, which Linux
// reports to user space at 100 a second whatever the kernel's own HZ.
const userHZ = 100

// procStat is what the bench reads of /proc/<pid>/stat.
type procStat struct {
	pgrp int
	cpu  time.Duration // utime + stime, all threads, exited ones included
}

// parseProcStat reads a /proc/<pid>/stat line. The command name may hold
// spaces and parentheses, so fields are counted from its last ')'.
func parseProcStat(line []byte) (procStat, error) {
	i := bytes.LastIndexByte(line, ')')
	if i < 0 {
		return procStat{}, errors.New("no ')' after the command name")
	}
	// Fields from the state on: state is field 3 of proc(5), so field k
	// is f[k-3].
	f := strings.Fields(string(line[i+1:]))
	if len(f) < 13 {
		return procStat{}, fmt.Errorf("%d fields after the command name, want at least 13", len(f))
	}
	pgrp, err1 := strconv.Atoi(f[5-3])
	utime, err2 := strconv.ParseInt(f[14-3], 10, 64)
	stime, err3 := strconv.ParseInt(f[15-3], 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return procStat{}, err
	}
	return procStat{pgrp: pgrp, cpu: time.Duration(utime+stime) * time.Second / userHZ}, nil
}

func readProcStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	s, err := parseProcStat(b)
	if err != nil {
		return procStat{}, fmt.Errorf("reading /proc/%d/stat: %w", pid, err)
	}
	return s, nil
}

// groupCPU sums the CPU time of the live processes of a process group and
// lists them: a server and the workers it forked.
func groupCPU(pgid int) (time.Duration, []int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, nil, err
	}
	var total time.Duration
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		s, err := readProcStat(pid)
		if err != nil || s.pgrp != pgid {
			continue // gone since the listing, or not in the group
		}
		total += s.cpu
		pids = append(pids, pid)
	}
	if len(pids) == 0 {
		return 0, nil, fmt.Errorf("no process is left in process group %d", pgid)
	}
	return total, pids, nil
}

// hostCPU is what /proc/stat's first line says of all CPUs together.
type hostCPU struct {
	busy  time.Duration // user, nice, system, irq and softirq
	total time.Duration // busy, idle, iowait and steal: the CPUs' time
}

// parseHostCPU reads the "cpu" line of /proc/stat, in clock ticks. Guest
// time is already inside user and nice; steal is time the hypervisor gave
// elsewhere, not this host's work.
func parseHostCPU(stat []byte) (hostCPU, error) {
	line, _, _ := bytes.Cut(stat, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 9 || f[0] != "cpu" {
		return hostCPU{}, fmt.Errorf("/proc/stat begins %q, want the cpu line with at least 8 times", line)
	}
	var t [8]int64 // user nice system idle iowait irq softirq steal
	for i := range t {
		n, err := strconv.ParseInt(f[1+i], 10, 64)
		if err != nil {
			return hostCPU{}, fmt.Errorf("/proc/stat's cpu line: %w", err)
		}
		t[i] = n
	}
	tick := time.Second / userHZ
	busy := t[0] + t[1] + t[2] + t[5] + t[6]
	return hostCPU{busy: time.Duration(busy) * tick, total: time.Duration(busy+t[3]+t[4]+t[7]) * tick}, nil
}

func readHostCPU() (hostCPU, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return hostCPU{}, err
	}
	return parseHostCPU(b)
}

// peakRSS is the process's resident set high-water mark (VmHWM), in bytes.
func peakRSS(pid int) (uint64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("reading VmHWM of %d: %w", pid, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("/proc/%d/status has no VmHWM", pid)
}

// progStat is one BPF program's counters from bpf_stats.
type progStat struct {
	name    string
	uprobe  bool // a uprobe or uretprobe program (kprobe type), else a tracepoint
	runs    uint64
	runtime time.Duration
}

// programsOf reads the bpf_stats counters of every BPF program the process
// holds a descriptor of, directly or through a link: the collector's
// programs, whichever names the engine gives them.
func programsOf(pid int) (map[ebpf.ProgramID]progStat, error) {
	fdDir := fmt.Sprintf("/proc/%d/fdinfo", pid)
	entries, err := os.ReadDir(fdDir)
	if err != nil {
		return nil, fmt.Errorf("listing the descriptors of %d: %w", pid, err)
	}
	ids := map[ebpf.ProgramID]bool{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(fdDir, e.Name()))
		if err != nil {
			continue // closed since the listing
		}
		if id, ok := fdinfoProgID(b); ok {
			ids[id] = true
		}
	}
	out := make(map[ebpf.ProgramID]progStat, len(ids))
	for id := range ids {
		s, err := programStat(id)
		if err != nil {
			return nil, err
		}
		out[id] = s
	}
	return out, nil
}

// fdinfoProgID finds the program id in a BPF program's or link's fdinfo.
func fdinfoProgID(fdinfo []byte) (ebpf.ProgramID, bool) {
	for line := range strings.Lines(string(fdinfo)) {
		if rest, ok := strings.CutPrefix(line, "prog_id:"); ok {
			id, err := strconv.ParseUint(strings.TrimSpace(rest), 10, 32)
			return ebpf.ProgramID(id), err == nil && id != 0
		}
	}
	return 0, false
}

func programStat(id ebpf.ProgramID) (progStat, error) {
	p, err := ebpf.NewProgramFromID(id)
	if err != nil {
		return progStat{}, fmt.Errorf("opening BPF program %d: %w", id, err)
	}
	defer p.Close()
	info, err := p.Info()
	if err != nil {
		return progStat{}, fmt.Errorf("reading BPF program %d: %w", id, err)
	}
	st, err := p.Stats()
	if err != nil {
		return progStat{}, fmt.Errorf("reading the stats of BPF program %d (%s): %w", id, info.Name, err)
	}
	return progStat{name: info.Name, uprobe: info.Type == ebpf.Kprobe, runs: st.RunCount, runtime: st.Runtime}, nil
}

// programDelta is what each program ran between two snapshots, summed by
// program name (the engine loads a program once, but names are what a
// reader knows them by).
func programDelta(before, after map[ebpf.ProgramID]progStat) map[string]progStat {
	out := map[string]progStat{}
	for id, a := range after {
		b := before[id] // a program loaded since counts from zero
		d := out[a.name]
		d.name, d.uprobe = a.name, a.uprobe
		d.runs += a.runs - b.runs
		d.runtime += a.runtime - b.runtime
		out[a.name] = d
	}
	return out
}
