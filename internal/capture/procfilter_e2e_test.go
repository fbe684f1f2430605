//go:build linux && (amd64 || arm64)

package capture

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"go.uber.org/zap"

	"github.com/ebpftap/ebpftap/internal/e2e"
)

// TestE2EEngineProcessFilter filters python3 in the kernel: a python3
// running before Start (judged from /proc) and one that execs after it
// (judged at its exec) connect, and neither connection reaches the handler,
// which here filters nothing itself; curl's does. Once they exited, the
// kernel's map holds neither.
func TestE2EEngineProcessFilter(t *testing.T) {
	e2e.RequireBPF(t)
	server := helloServers(t, 1)[0]
	port := strconv.Itoa(int(server))
	python := pythonExecutable(t)

	// It connects when told to on stdin, to have connected after Start.
	early, goEarly := startFilteredClient(t, "python3", "-c", filteredClient, port)

	r := &recorder{}
	e, err := NewEngine(Options{ExcludeExecutable: func(path string) bool { return path == python }}, r)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	defer e.Close()

	goEarly()
	// sh becomes python3 at its exec: the same pid, judged then. It is
	// told to connect once the kernel's map has it: a connection before
	// that is the handler's to filter (Options.ExcludeExecutable).
	late, goLate := startFilteredClient(t, "sh", "-c", `exec python3 -c "$0" "$1"`, filteredClient, port)
	waitFor(t, "python3 started after Start in the kernel's process filter", func() bool {
		var v uint8
		return e.objs.IgnoredProcesses.Lookup(uint32(late.Process.Pid), &v) == nil
	})
	goLate()
	for _, p := range []*exec.Cmd{early, late} {
		if err := p.Wait(); err != nil {
			t.Fatalf("python3 %v: %v", p.Args, err)
		}
	}
	if out, err := exec.Command("curl", "-sf", "http://127.0.0.1:"+port+"/").CombinedOutput(); err != nil {
		t.Fatalf("curl: %v %s", err, out)
	}
	// Everything before curl's close was read by then.
	waitFor(t, "curl's connection closed", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, c := range r.closed {
			if c.Process.ExeName == "curl" && serverPortOf(c) == server {
				return true
			}
		}
		return false
	})

	filtered := map[int]string{early.Process.Pid: "before Start", late.Process.Pid: "after Start"}
	r.mu.Lock()
	curls := 0
	for _, c := range r.opened {
		if serverPortOf(c) != server {
			continue
		}
		if when, ok := filtered[c.Process.PID]; ok {
			t.Errorf("the connection of python3 started %s reached the handler: %+v", when, c)
		}
		if c.Process.ExeName == "curl" {
			curls++
		}
	}
	for c := range r.data {
		if when, ok := filtered[c.Process.PID]; ok {
			t.Errorf("bytes of python3 started %s were copied: %+v", when, c)
		}
	}
	r.mu.Unlock()
	if curls != 1 {
		t.Errorf("curl's connections reported: %d, want 1", curls)
	}

	var pid uint32
	var v uint8
	for it := e.objs.IgnoredProcesses.Iterate(); it.Next(&pid, &v); {
		if when, ok := filtered[int(pid)]; ok {
			t.Errorf("python3 started %s exited and is still in the kernel's process filter", when)
		}
	}
}

// startFilteredClient starts a filteredClient and returns it, with the
// function that tells it to connect.
func startFilteredClient(t *testing.T, name string, args ...string) (*exec.Cmd, func()) {
	t.Helper()
	cmd := exec.Command(name, args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd, func() { fmt.Fprintln(stdin, "go") }
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// filteredClient connects to the port in argv[1] once told to on stdin,
// sends a request and reads the answer.
const filteredClient = `import socket, sys
sys.stdin.readline()
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET / HTTP/1.0\r\n\r\n")
assert s.recv(100)
s.close()`

// pythonExecutable is the path /proc/<pid>/exe shows for python3, which
// may be a wrapper (pyenv) that execs another file.
func pythonExecutable(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("python3", "-c", "import os; print(os.readlink('/proc/self/exe'))").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// TestE2EProcessFilterRevalidates: once the ring buffer lost events, an exit
// event among them, the filter drops the processes that are gone and keeps
// those still excluded.
func TestE2EProcessFilterRevalidates(t *testing.T) {
	e2e.RequireBPF(t)
	m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Hash, KeySize: 4, ValueSize: 1, MaxEntries: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	running := exec.Command("sleep", "30")
	if err := running.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { running.Process.Kill(); running.Wait() })
	f := &processFilter{exclude: func(string) bool { return true }, procRoot: "/proc", ignored: m, log: zap.NewNop()}
	for _, pid := range []int{gone.Process.Pid, running.Process.Pid} {
		if err := m.Put(uint32(pid), uint8(1)); err != nil {
			t.Fatal(err)
		}
	}

	f.revalidate(0) // nothing lost: nothing to do
	if n := mapLen(t, m); n != 2 {
		t.Fatalf("entries after a revalidate with nothing lost: %d, want 2", n)
	}
	f.revalidate(1)
	var v uint8
	if err := m.Lookup(uint32(gone.Process.Pid), &v); err == nil {
		t.Error("a process that exited is still filtered")
	}
	if err := m.Lookup(uint32(running.Process.Pid), &v); err != nil {
		t.Errorf("a running excluded process is no longer filtered: %v", err)
	}
}

func mapLen(t *testing.T, m *ebpf.Map) int {
	t.Helper()
	var k uint32
	var v uint8
	n := 0
	for it := m.Iterate(); it.Next(&k, &v); {
		n++
	}
	return n
}
