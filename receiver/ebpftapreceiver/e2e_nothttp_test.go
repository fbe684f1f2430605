package ebpftapreceiver

import (
	"maps"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// TestE2ENotHTTP runs a binary protocol over TCP: it must give no span, and
// its bytes must still be counted per process even though the kernel is told
// to stop copying them.
func TestE2ENotHTTP(t *testing.T) {
	r, sinks := startE2EReceiver(t, nil)
	port := startServer(t, "python3", "-u", "-c", echoServer)
	const rounds, size = 20, 1000
	marker := "not-http-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	run(t, "python3", "-c", echoClient, strconv.Itoa(port), strconv.Itoa(rounds), strconv.Itoa(size), marker)

	want := int64(rounds * size)
	deadline := time.Now().Add(10 * time.Second)
	var sent, recv int64
	for time.Now().Before(deadline) {
		sent, recv = connectionIO(sinks.metrics.AllMetrics(), marker, port)
		if sent == want && recv == want {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if sent != want || recv != want {
		t.Errorf("the client's ebpftap.connection.io: %d transmitted, %d received; want %d each", sent, recv, want)
	}
	if spans := spansWhere(sinks.traces, func(s capturedSpan) bool {
		return s.int("server.port") == int64(port) || s.int("network.peer.port") == int64(port)
	}); len(spans) != 0 {
		t.Errorf("a binary protocol gave %d spans", len(spans))
	}
	if n := r.tap.ParserStats().NotHTTP.Load(); n < 2 {
		t.Errorf("the parser classified %d connections as not HTTP, want both ends", n)
	}

	// A Redis client's command (RESP) to the same server: the server, which
	// outlives its clients, counts each connection under the protocol its
	// first bytes named; the binary one above fits none.
	run(t, "python3", "-c", respClient, strconv.Itoa(port))
	wantClosed := map[string]int64{"other": 1, "redis": 1}
	var closed map[string]int64
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if closed = closedByProtocol(sinks.metrics.AllMetrics(), "create_server", port); maps.Equal(closed, wantClosed) {
			break
		}
	}
	if !maps.Equal(closed, wantClosed) {
		t.Errorf("the echo server's ebpftap.connection.closed by network.protocol.name: %v, want %v", closed, wantClosed)
	}
}

// closedByProtocol counts the connections to port that the process whose
// command line holds marker closed, by network.protocol.name: the highest
// cumulative count any export carried, since a process's series are
// forgotten once it has been idle for an interval.
func closedByProtocol(all []pmetric.Metrics, marker string, port int) map[string]int64 {
	got := map[string]int64{}
	for _, md := range all {
		eachSumPoint(md, "ebpftap.connection.closed", func(res pcommon.Resource, dp pmetric.NumberDataPoint) {
			cmd, _ := res.Attributes().Get("process.command_line")
			if p, _ := dp.Attributes().Get("server.port"); !strings.Contains(cmd.Str(), marker) || p.Int() != int64(port) {
				return
			}
			name := "(unknown)"
			if v, ok := dp.Attributes().Get("network.protocol.name"); ok {
				name = v.Str()
			}
			got[name] = max(got[name], dp.IntValue())
		})
	}
	return got
}

// connectionIO sums, in the newest metrics export, ebpftap.connection.io of
// the process whose command line holds marker, towards port.
func connectionIO(all []pmetric.Metrics, marker string, port int) (sent, recv int64) {
	if len(all) == 0 {
		return 0, 0
	}
	eachSumPoint(all[len(all)-1], "ebpftap.connection.io", func(res pcommon.Resource, dp pmetric.NumberDataPoint) {
		cmd, _ := res.Attributes().Get("process.command_line")
		if p, _ := dp.Attributes().Get("server.port"); !strings.Contains(cmd.Str(), marker) || p.Int() != int64(port) {
			return
		}
		switch dir, _ := dp.Attributes().Get("network.io.direction"); dir.Str() {
		case "transmit":
			sent += dp.IntValue()
		case "receive":
			recv += dp.IntValue()
		}
	})
	return sent, recv
}

// echoServer echoes what each client sends, on a free loopback port.
const echoServer = `import socket, threading
ls = socket.create_server(("127.0.0.1", 0))
print(ls.getsockname()[1], flush=True)
def echo(c):
    while data := c.recv(65536):
        c.sendall(data)
    c.close()
while True:
    threading.Thread(target=echo, args=(ls.accept()[0],), daemon=True).start()`

// respClient sends a Redis PING, as RESP, and reads its echo.
const respClient = `import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"*1\r\n$4\r\nPING\r\n")
s.recv(64)
s.close()`

// echoClient sends argv[2] binary messages of argv[3] bytes and reads each
// echo back; argv[4] only marks the command line.
const echoClient = `import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
msg = bytes(range(256)) * (int(sys.argv[3]) // 256) + bytes(int(sys.argv[3]) % 256)
for _ in range(int(sys.argv[2])):
    s.sendall(msg)
    got = b""
    while len(got) < len(msg):
        got += s.recv(65536)
s.close()`

// TestE2ERandomTraffic sends random bytes over 200 connections to a server
// on loopback, through the whole pipeline: no panic, no span, every
// connection counted as other on the server's end, and the collector's heap
// no larger after.
func TestE2ERandomTraffic(t *testing.T) {
	_, sinks := startE2EReceiver(t, nil)
	port := startServer(t, "python3", "-u", "-c", echoServer)
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapInuse
	}
	before := heap()
	const conns = 200
	run(t, "python3", "-c", randomClient, strconv.Itoa(port), strconv.Itoa(conns))

	// Each connection is named from its own first bytes, even where the
	// server's socket was reused at once (the capture policy written for
	// one connection names it by its ports: see capture's setPolicy).
	want := map[string]int64{"other": conns}
	var closed map[string]int64
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if closed = closedByProtocol(sinks.metrics.AllMetrics(), "create_server", port); maps.Equal(closed, want) {
			break
		}
	}
	if !maps.Equal(closed, want) {
		t.Errorf("the server's ebpftap.connection.closed by network.protocol.name: %v, want %v", closed, want)
	}
	if spans := spansWhere(sinks.traces, func(s capturedSpan) bool {
		return s.int("server.port") == int64(port) || s.int("network.peer.port") == int64(port)
	}); len(spans) != 0 {
		t.Errorf("random bytes gave %d spans", len(spans))
	}
	// What the sinks kept is the test's, not the receiver's: let it go
	// before measuring.
	sinks.traces.Reset()
	sinks.logs.Reset()
	sinks.metrics.Reset()
	after := heap()
	t.Logf("heap in use: %d KiB before, %d KiB after %d random connections", before>>10, after>>10, conns)
	if after > before+16<<20 {
		t.Errorf("heap in use grew from %d to %d KiB over %d connections of random bytes", before>>10, after>>10, conns)
	}
}

// randomClient opens argv[2] connections one after the other, sends each
// 1 to 4 KiB of random bytes, reads what comes back and closes it.
const randomClient = `import os, random, socket, sys
for _ in range(int(sys.argv[2])):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    msg = os.urandom(random.randint(1024, 4096))
    s.sendall(msg)
    got = 0
    while got < len(msg):
        got += len(s.recv(65536))
    s.close()`
