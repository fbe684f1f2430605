//go:build linux && (amd64 || arm64)

package capture

import (
	"io"
	"net"
	"os/exec"
	"strconv"
	"testing"

	"github.com/ebpftap/ebpftap/internal/e2e"
)

// TestE2EEngineHalfClose: a client sends its request, shuts its sending side
// and reads the answer only after the server's answer and FIN arrived. TCP
// closes the client's connection at that FIN, before the client reads: the
// answer is still the connection's, not late.
func TestE2EEngineHalfClose(t *testing.T) {
	e2e.RequireBPF(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			io.Copy(io.Discard, c) // until the client's FIN
			io.WriteString(c, halfCloseAnswer)
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port

	rec := &recorder{}
	startEngineWith(t, Options{}, rec)
	out, err := exec.Command("python3", "-c", halfCloseClient, strconv.Itoa(port)).CombinedOutput()
	if err != nil || string(out) != strconv.Itoa(len(halfCloseAnswer))+"\n" {
		t.Fatalf("client: %q %v", out, err)
	}
	waitFor(t, "the client's connection closed", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		for _, c := range rec.closed {
			if c.Role == RoleClient && int(c.Remote.Port()) == port {
				return true
			}
		}
		return false
	})
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, c := range rec.closed {
		if c.Role != RoleClient || int(c.Remote.Port()) != port {
			continue
		}
		if got := string(rec.data[c][Recv]); got != halfCloseAnswer {
			t.Errorf("the client's connection received %q, want %q", got, halfCloseAnswer)
		}
	}
}

const halfCloseAnswer = "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello"

// halfCloseClient sends a request, shuts its sending side, waits for the
// answer and the server's FIN to arrive, then reads.
const halfCloseClient = `import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET / HTTP/1.0\r\n\r\n")
s.shutdown(socket.SHUT_WR)
time.sleep(0.5)
got = b""
while True:
    b = s.recv(4096)
    if not b:
        break
    got += b
print(len(got))`
