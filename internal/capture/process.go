package capture

import (
	"bytes"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// processCache describes processes by pid, from /proc and from what exec
// events said (so that a process that exits at once is still described).
// /proc is read only when a process is first asked for: most processes never
// open a connection. Entries leave on exit; a pid is reused only after its
// process exited, so pid is the key.
type processCache struct {
	procRoot string
	max      int
	byPID    map[int]*Process
	execs    map[int]execInfo // exec events of processes not asked for yet
	owners   map[uint32]string
	evicted  uint64 // entries thrown away because the cache was full
}

func newProcessCache(procRoot string, maxProcesses int) *processCache {
	return &processCache{
		procRoot: procRoot,
		max:      maxProcesses,
		byPID:    make(map[int]*Process),
		execs:    make(map[int]execInfo),
		owners:   make(map[uint32]string),
	}
}

// get returns the process with pid, reading /proc the first time. A process
// already gone is returned with just its pid.
func (c *processCache) get(pid int) *Process {
	if p, ok := c.byPID[pid]; ok {
		return p
	}
	var p *Process
	if e, ok := c.execs[pid]; ok {
		p = c.read(pid, &e)
		delete(c.execs, pid)
	} else {
		p = c.read(pid, nil)
	}
	c.put(p)
	return p
}

// exec notes that a process executed a new program: what was known of it
// is stale.
func (c *processCache) exec(e execInfo) {
	delete(c.byPID, e.pid)
	if _, ok := c.execs[e.pid]; !ok && len(c.execs) >= c.max {
		for pid := range c.execs { // any victim: see put
			delete(c.execs, pid)
			c.evicted++
			break
		}
	}
	c.execs[e.pid] = e
}

func (c *processCache) exit(pid int) {
	delete(c.byPID, pid)
	delete(c.execs, pid)
}

func (c *processCache) put(p *Process) {
	if _, ok := c.byPID[p.PID]; !ok && len(c.byPID) >= c.max {
		// Map order is random enough to pick a victim without an LRU list:
		// processes without connections are the common case.
		for pid := range c.byPID {
			delete(c.byPID, pid)
			c.evicted++
			break
		}
	}
	c.byPID[p.PID] = p
}

// execInfo is what the kernel reported at exec time.
type execInfo struct {
	pid, ppid int
	uid       uint32
	startTime uint64 // clock ticks after boot
	filename  string
	args      []string
}

// read describes pid from /proc, preferring what the exec event says for the
// fields the kernel gave: those are right even when /proc is already gone.
func (c *processCache) read(pid int, e *execInfo) *Process {
	dir := filepath.Join(c.procRoot, strconv.Itoa(pid))
	p := &Process{PID: pid}
	var statOK bool
	if b, err := os.ReadFile(filepath.Join(dir, "stat")); err == nil {
		p.ParentPID, p.StartTime, statOK = parseStat(b)
	}
	if exe, err := os.Readlink(filepath.Join(dir, "exe")); err == nil {
		p.ExePath = strings.TrimSuffix(exe, " (deleted)")
	}
	if b, err := os.ReadFile(filepath.Join(dir, "cmdline")); err == nil {
		p.Args = splitNUL(b)
	}
	uidOK := false
	if b, err := os.ReadFile(filepath.Join(dir, "status")); err == nil {
		p.UID, uidOK = parseStatusUID(b)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "cgroup")); err == nil {
		p.ContainerID = containerID(b)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "environ")); err == nil {
		p.ServiceName = envValue(b, "OTEL_SERVICE_NAME")
	}

	if e != nil {
		p.ParentPID, p.UID, uidOK = e.ppid, e.uid, true
		if !statOK {
			p.StartTime = e.startTime
		}
		if p.ExePath == "" {
			p.ExePath = e.filename
		}
		if len(e.args) > 0 {
			p.Args = e.args
		}
	}
	if p.ExePath != "" {
		p.ExeName = filepath.Base(p.ExePath)
	} else if len(p.Args) > 0 {
		p.ExeName = filepath.Base(p.Args[0])
	}
	p.CommandLine = strings.Join(p.Args, " ")
	if uidOK {
		p.Owner = c.owner(p.UID)
	}
	if p.ServiceName == "" {
		p.ServiceName = p.ExeName
	}
	return p
}

func (c *processCache) owner(uid uint32) string {
	if name, ok := c.owners[uid]; ok {
		return name
	}
	name := strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(name); err == nil {
		name = u.Username
	}
	c.owners[uid] = name
	return name
}

// parseStat reads the parent pid and start time from /proc/<pid>/stat. The
// command name may hold spaces and parentheses, so fields are counted from the
// last ')': state is field 3, ppid 4, starttime 22 (proc(5)).
func parseStat(b []byte) (ppid int, start uint64, ok bool) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0, 0, false
	}
	pp, err1 := strconv.Atoi(f[1])
	st, err2 := strconv.ParseUint(f[19], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return pp, st, true
}

// parseStatusUID reads the real uid from the "Uid:" line of /proc/<pid>/status.
func parseStatusUID(b []byte) (uint32, bool) {
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "Uid:"); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				return 0, false
			}
			uid, err := strconv.ParseUint(f[0], 10, 32)
			return uint32(uid), err == nil
		}
	}
	return 0, false
}

// containerIDPattern matches the 64-hex-digit ids that docker, containerd,
// CRI-O and podman put in cgroup paths (e.g. docker-<id>.scope,
// cri-containerd-<id>.scope, /docker/<id>, /kubepods/.../<id>).
var containerIDPattern = regexp.MustCompile(`[0-9a-f]{64}`)

func containerID(cgroup []byte) string {
	ids := containerIDPattern.FindAll(cgroup, -1)
	if len(ids) == 0 {
		return ""
	}
	return string(ids[len(ids)-1])
}

func envValue(environ []byte, name string) string {
	prefix := name + "="
	for _, kv := range splitNUL(environ) {
		if v, ok := strings.CutPrefix(kv, prefix); ok {
			return v
		}
	}
	return ""
}

func splitNUL(b []byte) []string {
	b = bytes.TrimRight(b, "\x00")
	if len(b) == 0 {
		return nil
	}
	return strings.Split(string(b), "\x00")
}
