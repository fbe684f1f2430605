package ebpftapreceiver

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/ebpftap/ebpftap/internal/e2e"
)

// shutdownBound is how long Shutdown under load may take: the engine
// detaches, drains and closes, the last batch is flushed.
const shutdownBound = 5 * time.Second

// loadLoop sends requests /load/i on one connection, one after the other,
// for ever, and prints "i" once the response to i is read.
const loadLoop = `import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
i = 0
while True:
    s.sendall(b"GET /load/%d HTTP/1.1\r\nHost: 127.0.0.1:%s\r\n\r\n" % (i, sys.argv[1].encode()))
    got = b""
    while not got.endswith(b"hello"):
        got += s.recv(4096)
    print(i)
    i += 1`

// TestE2EShutdownUnderLoad shuts the receiver down while a client keeps
// sending requests: Shutdown returns within shutdownBound, every exchange
// the client finished before it began is handed to the pipeline, a receiver
// started right after captures, and once it stops too no BPF program, map
// or link of this process is left in the kernel.
func TestE2EShutdownUnderLoad(t *testing.T) {
	e2e.RequireBPF(t)
	if _, err := exec.LookPath("bpftool"); err != nil {
		t.Fatal("bpftool is needed to list the kernel's BPF objects (apt-get install bpftool)")
	}
	r, sinks := startE2EReceiver(t, nil)
	port := faultServer(t)
	_, out := startPython(t, loadLoop, strconv.Itoa(port))
	var finished atomic.Int64
	finished.Store(-1)
	go func() {
		for {
			line, err := out.ReadString('\n')
			if err != nil {
				return
			}
			if i, err := strconv.ParseInt(strings.TrimSpace(line), 10, 64); err == nil {
				finished.Store(i)
			}
		}
	}()
	time.Sleep(time.Second)
	done := finished.Load() // finished before Shutdown began
	held := map[string][]uint32{}
	for _, kind := range []string{"prog", "map", "link"} {
		held[kind] = e2e.HeldBPF(t, kind, os.Getpid())
	}
	start := time.Now()
	if err := r.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)

	seen := map[string]int{}
	for _, s := range spansWhere(sinks.traces, func(s capturedSpan) bool {
		return s.kind == ptrace.SpanKindClient && s.int("server.port") == int64(port)
	}) {
		u := s.str("url.full")
		seen[u[strings.Index(u, "/load/"):]]++
	}
	t.Logf("Shutdown took %v with a client %d exchanges in; %d exchanges exported", took, done+1, len(seen))
	if took > shutdownBound {
		t.Errorf("Shutdown under load took %v, more than %v", took, shutdownBound)
	}
	if done < 10 {
		t.Fatalf("the client finished %d exchanges in a second: no load", done+1)
	}
	var wrong []string
	for i := range done + 1 {
		if n := seen["/load/"+strconv.FormatInt(i, 10)]; n != 1 {
			wrong = append(wrong, fmt.Sprintf("%d (%d times)", i, n))
		}
	}
	if len(wrong) > 0 {
		t.Errorf("%d of the %d exchanges finished before Shutdown were not exported once: %s ... %s",
			len(wrong), done+1, wrong[0], wrong[len(wrong)-1])
	}

	// A receiver started right after captures afresh.
	r2, sinks2 := startE2EReceiver(t, nil)
	run(t, "curl", "-sf", "http://127.0.0.1:"+strconv.Itoa(port)+"/fresh")
	waitSpans(t, sinks2.traces, 1, pathIs(ptrace.SpanKindClient, port, "/fresh"))
	for _, kind := range []string{"prog", "map", "link"} {
		held[kind] = append(held[kind], e2e.HeldBPF(t, kind, os.Getpid())...)
	}
	if err := r2.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The kernel frees an object after an RCU grace period: allow it a
	// moment.
	deadline := time.Now().Add(10 * time.Second)
	for {
		left := map[string]int{}
		for kind, ids := range held {
			if n := e2e.ListedBPF(t, kind, ids); n > 0 {
				left[kind] = n
			}
		}
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the receivers stopped the kernel still lists these of their BPF objects, by kind: %v", left)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(held["prog"]) == 0 || len(held["map"]) == 0 || len(held["link"]) == 0 {
		t.Errorf("the running receivers held %d programs, %d maps, %d links: the check checked nothing", len(held["prog"]), len(held["map"]), len(held["link"]))
	}
}
