package capture

import (
	"reflect"
	"testing"
)

// testdata/proc/4242 is a process directory as procfs shows it: a command
// name with spaces and parentheses, a docker cgroup, OTEL_SERVICE_NAME set.
func TestProcessFromProc(t *testing.T) {
	c := newProcessCache("testdata/proc", 10)
	got := c.get(4242)
	want := &Process{
		PID:         4242,
		ParentPID:   1,
		StartTime:   987654,
		ExePath:     "/usr/bin/myserver",
		ExeName:     "myserver",
		CommandLine: "/usr/bin/myserver --port 8080",
		Args:        []string{"/usr/bin/myserver", "--port", "8080"},
		UID:         0,
		Owner:       "root",
		ContainerID: "3f4a2b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a",
		ServiceName: "checkout",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if c.get(4242) != got {
		t.Error("a second get read /proc again instead of using the cache")
	}
}

// A process that exited before /proc was read is described by its exec event.
func TestProcessFromExecEvent(t *testing.T) {
	c := newProcessCache("testdata/proc", 10)
	c.exec(execInfo{pid: 77, ppid: 4242, uid: 65534, startTime: 5, filename: "/usr/bin/curl", args: []string{"curl", "-s", "http://x/"}})
	got := c.get(77)
	want := &Process{
		PID: 77, ParentPID: 4242, StartTime: 5, ExePath: "/usr/bin/curl", ExeName: "curl",
		CommandLine: "curl -s http://x/", Args: []string{"curl", "-s", "http://x/"},
		UID: 65534, Owner: ownerName(t, 65534), ServiceName: "curl",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	c.exit(77)
	if p := c.get(77); p.ExePath != "" || p.PID != 77 {
		t.Errorf("after exit, a gone process is known only by its pid; got %+v", p)
	}
}

func ownerName(t *testing.T, uid uint32) string {
	return newProcessCache("testdata/proc", 1).owner(uid)
}

func TestProcessCacheBound(t *testing.T) {
	c := newProcessCache("testdata/proc", 3)
	for pid := 1000; pid < 1010; pid++ {
		c.get(pid)
	}
	if len(c.byPID) != 3 || c.evicted != 7 {
		t.Errorf("cache holds %d and evicted %d; want 3 and 7", len(c.byPID), c.evicted)
	}
}

func TestParseStat(t *testing.T) {
	for _, tc := range []struct {
		in    string
		ppid  int
		start uint64
		ok    bool
	}{
		{"1 (init) S 0 1 1 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 3 1000 10", 0, 3, true},
		{"9 (a) b) (c) R 7 9 9 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 42 1 1", 7, 42, true},
		{"9 (short) R 7", 0, 0, false},
		{"no parenthesis", 0, 0, false},
		{"9 (x) R notanumber 9 9 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 42 1 1", 0, 0, false},
	} {
		ppid, start, ok := parseStat([]byte(tc.in))
		if ppid != tc.ppid || start != tc.start || ok != tc.ok {
			t.Errorf("parseStat(%q) = %d, %d, %v; want %d, %d, %v", tc.in, ppid, start, ok, tc.ppid, tc.start, tc.ok)
		}
	}
}

func TestContainerID(t *testing.T) {
	id := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, tc := range []struct{ cgroup, want string }{
		{"0::/system.slice/docker-" + id + ".scope\n", id},
		{"0::/kubepods.slice/kubepods-burstable.slice/cri-containerd-" + id + ".scope\n", id},
		{"12:memory:/docker/" + id + "\n", id},
		{"0::/user.slice/user-0.slice/session-1.scope\n", ""},
	} {
		if got := containerID([]byte(tc.cgroup)); got != tc.want {
			t.Errorf("containerID(%q) = %q, want %q", tc.cgroup, got, tc.want)
		}
	}
}
