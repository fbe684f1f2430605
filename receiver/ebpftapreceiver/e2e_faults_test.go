package ebpftapreceiver

import (
	"bufio"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// faultServer is a discardingServer that answers "hello".
func faultServer(t *testing.T) int { return discardingServer(t, "hello") }

// startPython runs a python3 program with args (see startProcess).
func startPython(t *testing.T, program string, args ...string) (*exec.Cmd, *bufio.Reader) {
	t.Helper()
	return startProcess(t, "python3", append([]string{"-u", "-c", program}, args...)...)
}

// waitLine waits for the program to print want.
func waitLine(t *testing.T, out *bufio.Reader, want string) {
	t.Helper()
	line, err := out.ReadString('\n')
	if err != nil || strings.TrimSpace(line) != want {
		t.Fatalf("the program printed %q (%v), want %q", line, err, want)
	}
}

// pathIs matches the client or server spans (kind) of requests to path on
// port: a client span has the URL in url.full, a server span its path in
// url.path.
func pathIs(kind ptrace.SpanKind, port int, path string) func(capturedSpan) bool {
	return func(s capturedSpan) bool {
		return s.kind == kind && s.int("server.port") == int64(port) &&
			(strings.HasSuffix(s.str("url.full"), path) || s.str("url.path") == path)
	}
}

// connectionsOf returns the last ebpftap.connection.active and
// ebpftap.connection.closed totals emitted for process pid.
func connectionsOf(sink *consumertest.MetricsSink, pid int) (active, closed int64) {
	for _, md := range sink.AllMetrics() {
		seen := false
		var a, c int64
		forPID := func(name string, n *int64) {
			eachSumPoint(md, name, func(res pcommon.Resource, dp pmetric.NumberDataPoint) {
				if v, ok := res.Attributes().Get("process.pid"); ok && v.Int() == int64(pid) {
					*n += dp.IntValue()
					seen = true
				}
			})
		}
		forPID("ebpftap.connection.active", &a)
		forPID("ebpftap.connection.closed", &c)
		if seen {
			active, closed = a, c
		}
	}
	return active, closed
}

// waitConnectionsClosed waits until the metrics say process pid has no
// connection open and closed at least closed, and fails the test if not.
func waitConnectionsClosed(t *testing.T, sink *consumertest.MetricsSink, pid int, closed int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var a, c int64
	for time.Now().Before(deadline) {
		if a, c = connectionsOf(sink, pid); a == 0 && c >= closed {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("process %d: %d connections active and %d closed; want none active and %d closed", pid, a, c, closed)
}

// uploadKilled finishes one exchange, then starts a POST of a 1 MB body on
// the same connection, sends 20000 bytes of it and waits to be killed.
const uploadKilled = `import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
host = b"Host: 127.0.0.1:" + sys.argv[1].encode()
s.sendall(b"GET /done HTTP/1.1\r\n" + host + b"\r\n\r\n")
got = b""
while not got.endswith(b"hello"):
    got += s.recv(4096)
s.sendall(b"POST /upload HTTP/1.1\r\n" + host + b"\r\nContent-Length: 1000000\r\n\r\n" + b"u" * 20000)
print("uploading")
time.sleep(60)`

// TestE2EFaultClientKilledMidUpload kills a client with SIGKILL in the
// middle of a request body: the exchange it finished before is exported
// whole, the cut request marked incomplete, without a response, and its
// connection is closed (the process's exit closes it) and counted.
func TestE2EFaultClientKilledMidUpload(t *testing.T) {
	_, sinks := startE2EReceiver(t, nil)
	port := faultServer(t)
	cmd, out := startPython(t, uploadKilled, strconv.Itoa(port))
	waitLine(t, out, "uploading")
	time.Sleep(300 * time.Millisecond) // the engine reads the upload's start
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	done := waitSpans(t, sinks.traces, 1, pathIs(ptrace.SpanKindClient, port, "/done"))[0]
	if done.int("http.response.status_code") != 200 || done.flag("ebpftap.http.request.incomplete") || done.flag("ebpftap.http.response.incomplete") {
		t.Errorf("the finished exchange: %v", done.span.Attributes().AsRaw())
	}
	cut := waitSpans(t, sinks.traces, 1, pathIs(ptrace.SpanKindClient, port, "/upload"))[0]
	if !cut.flag("ebpftap.http.request.incomplete") || cut.str("error.type") != "ebpftap.no_response" || cut.str("http.request.method") != "POST" {
		t.Errorf("the cut upload: %v; want its request marked incomplete, without a response", cut.span.Attributes().AsRaw())
	}
	waitConnectionsClosed(t, sinks.metrics, cmd.Process.Pid, 1)
}

// resettingServer answers its first request, then starts the response of
// the second (a 100000-byte body, 5000 bytes of it sent) and resets the
// connection: SO_LINGER 0 makes close send an RST. It stays up after.
const resettingServer = `import socket, struct, sys, time
ls = socket.create_server(("127.0.0.1", 0))
print(ls.getsockname()[1])
c, _ = ls.accept()
def request():
    got = b""
    while not got.endswith(b"\r\n\r\n"):
        got += c.recv(4096)
request()
c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
request()
c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"r" * 5000)
time.sleep(0.3)
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
c.close()
print("reset")
time.sleep(60)`

// resetClient sends two requests on one connection and reads until the
// connection ends; it prints how the second ended.
const resetClient = `import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
host = b"Host: 127.0.0.1:" + sys.argv[1].encode()
s.sendall(b"GET /ok HTTP/1.1\r\n" + host + b"\r\n\r\n")
got = b""
while not got.endswith(b"hello"):
    got += s.recv(4096)
s.sendall(b"GET /reset HTTP/1.1\r\n" + host + b"\r\n\r\n")
try:
    while s.recv(65536):
        pass
    print("closed")
except ConnectionResetError:
    print("reset")
time.sleep(60)`

// TestE2EFaultServerResets has a server reset the connection in the middle
// of a response: both ends' first exchange is exported whole, the second
// with its response marked incomplete, and both ends' connection closed
// while both processes live on.
func TestE2EFaultServerResets(t *testing.T) {
	_, sinks := startE2EReceiver(t, nil)
	server, sout := startPython(t, resettingServer)
	line, err := sout.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("the server printed %q", line)
	}
	client, cout := startPython(t, resetClient, strconv.Itoa(port))
	waitLine(t, sout, "reset")
	waitLine(t, cout, "reset")

	for _, kind := range []ptrace.SpanKind{ptrace.SpanKindClient, ptrace.SpanKindServer} {
		ok := waitSpans(t, sinks.traces, 1, pathIs(kind, port, "/ok"))[0]
		if ok.int("http.response.status_code") != 200 || ok.flag("ebpftap.http.response.incomplete") {
			t.Errorf("%v: the finished exchange: %v", kind, ok.span.Attributes().AsRaw())
		}
		cut := waitSpans(t, sinks.traces, 1, pathIs(kind, port, "/reset"))[0]
		if cut.int("http.response.status_code") != 200 || !cut.flag("ebpftap.http.response.incomplete") || cut.flag("ebpftap.http.request.incomplete") {
			t.Errorf("%v: the reset exchange: %v; want its response marked incomplete", kind, cut.span.Attributes().AsRaw())
		}
	}
	waitConnectionsClosed(t, sinks.metrics, client.Process.Pid, 1)
	waitConnectionsClosed(t, sinks.metrics, server.Process.Pid, 1)
}

// exitsWithConnections opens three connections, finishes an exchange on
// each, forks a child that keeps them (and prints its pid), and exits
// without closing them: the child's descriptors keep the connections open
// in TCP. (Without it, the exit's close would end them in TCP at once.)
const exitsWithConnections = `import os, socket, sys, time
conns = []
for i in range(3):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    s.sendall(b"GET /open/%d HTTP/1.1\r\nHost: 127.0.0.1:%s\r\n\r\n" % (i, sys.argv[1].encode()))
    got = b""
    while not got.endswith(b"hello"):
        got += s.recv(4096)
    conns.append(s)
child = os.fork()
if child == 0:
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 1)  # lets the test's read of the output end
    os.dup2(null, 2)
    time.sleep(60)
    os._exit(0)
print(child, flush=True)
os._exit(0)`

// TestE2EFaultProcessExitsWithConnectionsOpen: a process exits with three
// keep-alive connections open, which a child it forked keeps open in TCP:
// the process's exit closes them in the engine's table, and counts them.
func TestE2EFaultProcessExitsWithConnectionsOpen(t *testing.T) {
	_, sinks := startE2EReceiver(t, nil)
	port := faultServer(t)
	cmd := exec.Command("python3", "-c", exitsWithConnections, strconv.Itoa(port))
	out, err := cmd.Output()
	child, perr := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil || perr != nil {
		t.Fatalf("client: %v %q", err, out)
	}
	t.Cleanup(func() { _ = syscall.Kill(child, syscall.SIGKILL) })
	for i := range 3 {
		s := waitSpans(t, sinks.traces, 1, pathIs(ptrace.SpanKindClient, port, "/open/"+strconv.Itoa(i)))[0]
		if s.int("http.response.status_code") != 200 {
			t.Errorf("exchange %d: %v", i, s.span.Attributes().AsRaw())
		}
	}
	waitConnectionsClosed(t, sinks.metrics, cmd.Process.Pid, 3)
}

// reusesFd exchanges with the server on argv[1], closes the socket and at
// once connects to the server on argv[2], which gets the same fd; then it
// moves a third connection, to argv[1], onto that fd with dup2 (which
// closes the second) and exchanges on it. It prints the fds.
const reusesFd = `import os, socket, sys
def exchange(fd, path, port):
    os.write(fd, b"GET " + path + b" HTTP/1.1\r\nHost: 127.0.0.1:" + port.encode() + b"\r\n\r\n")
    got = b""
    while not got.endswith(b"hello"):
        got += os.read(fd, 4096)
a = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
exchange(a.fileno(), b"/first", sys.argv[1])
fd = a.fileno()
a.close()
b = socket.create_connection(("127.0.0.1", int(sys.argv[2])))
exchange(b.fileno(), b"/second", sys.argv[2])
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
os.dup2(c.fileno(), b.fileno())
exchange(b.fileno(), b"/third", sys.argv[1])
print(fd, b.fileno())`

// TestE2EFaultFdReused: a connection's fd is reused at once, by a new
// connection to another server and then by dup2 of a third; each exchange
// is exported once, with its own server's address and port, on its own
// connection.
func TestE2EFaultFdReused(t *testing.T) {
	_, sinks := startE2EReceiver(t, nil)
	first, second := faultServer(t), faultServer(t)
	out, err := exec.Command("python3", "-c", reusesFd, strconv.Itoa(first), strconv.Itoa(second)).CombinedOutput()
	fds := strings.Fields(string(out))
	if err != nil || len(fds) != 2 || fds[0] != fds[1] {
		t.Fatalf("client: %v %q; want the same fd twice", err, out)
	}
	conns := map[int64]string{}
	for _, want := range []struct {
		path string
		port int
	}{{"/first", first}, {"/second", second}, {"/third", first}} {
		s := waitSpans(t, sinks.traces, 1, func(s capturedSpan) bool {
			return s.kind == ptrace.SpanKindClient && strings.HasSuffix(s.str("url.full"), want.path)
		})[0]
		// network.peer.* come from the socket, server.* from Host.
		if s.int("network.peer.port") != int64(want.port) || s.str("network.peer.address") != "127.0.0.1" ||
			s.int("server.port") != int64(want.port) || s.int("http.response.status_code") != 200 {
			t.Errorf("%s: %v; want server 127.0.0.1:%d", want.path, s.span.Attributes().AsRaw(), want.port)
		}
		id := s.int("ebpftap.connection.id")
		if other, ok := conns[id]; ok {
			t.Errorf("%s and %s on one connection (%d)", other, want.path, id)
		}
		conns[id] = want.path
	}
}
