package ebpftapreceiver

import (
	"maps"
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

// closedByProtocol counts, in the newest metrics export, the connections to
// port that the process whose command line holds marker closed, by
// network.protocol.name.
func closedByProtocol(all []pmetric.Metrics, marker string, port int) map[string]int64 {
	got := map[string]int64{}
	if len(all) == 0 {
		return got
	}
	eachSumPoint(all[len(all)-1], "ebpftap.connection.closed", func(res pcommon.Resource, dp pmetric.NumberDataPoint) {
		cmd, _ := res.Attributes().Get("process.command_line")
		if p, _ := dp.Attributes().Get("server.port"); !strings.Contains(cmd.Str(), marker) || p.Int() != int64(port) {
			return
		}
		name, _ := dp.Attributes().Get("network.protocol.name")
		got[name.AsString()] += dp.IntValue()
	})
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
