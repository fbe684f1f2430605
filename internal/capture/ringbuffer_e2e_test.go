//go:build linux && (amd64 || arm64)

package capture

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"
)

// The overload of TestE2EEngineRingBufferBooksBalance: loadClients clients
// each send loadBytes in 8 KiB writes, then read loadBytes back.
const (
	loadClients = 4
	loadBytes   = 4 << 20
	smallRing   = 64 << 10
)

// bulkClient sends argv[2] bytes to 127.0.0.1:argv[1] in 8 KiB sends, reads
// as many back, and closes; it prints how many bytes it sent and received.
// It does not half-close: a socket that shut its writes down first reaches
// TCP_CLOSE as soon as the peer's FIN comes, with the response maybe still
// unread, and the engine drops reads after the close as late.
const bulkClient = `import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
n, block, sent = int(sys.argv[2]), b"q" * 8192, 0
while sent < n:
    sent += s.send(block[:min(8192, n - sent)])
got = 0
while got < n and (chunk := s.recv(65536)):
    got += len(chunk)
s.close()
print(sent, got)`

// TestE2EEngineRingBufferBooksBalance overloads a 64 KiB ring buffer with
// the loopback traffic of clients whose byte counts it knows, and checks the
// books of every connection each way: the bytes the client wrote (read) are
// the bytes the handler was given plus the bytes it was told were lost.
// The servers run in this process, which the engine never captures, so
// only the clients' ends are seen.
func TestE2EEngineRingBufferBooksBalance(t *testing.T) {
	rec := &recorder{}
	e := startEngineWith(t, Options{RingBufferSize: smallRing}, rec)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var served sync.WaitGroup
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			served.Add(1)
			go func() {
				defer served.Done()
				defer c.Close()
				if _, err := io.CopyN(io.Discard, c, loadBytes); err != nil {
					return
				}
				block := make([]byte, 16384)
				for left := loadBytes; left > 0; left -= len(block) {
					if _, err := c.Write(block[:min(left, len(block))]); err != nil {
						return
					}
				}
			}()
		}
	}()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	var clients sync.WaitGroup
	errs := make(chan error, loadClients)
	for range loadClients {
		clients.Add(1)
		go func() {
			defer clients.Done()
			out, err := exec.Command("python3", "-c", bulkClient, port, strconv.Itoa(loadBytes)).CombinedOutput()
			if want := fmt.Sprintln(loadBytes, loadBytes); err != nil || string(out) != want {
				errs <- fmt.Errorf("client: %q %v, want %q", out, err, want)
			}
		}()
	}
	clients.Wait()
	served.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	e.Close()
	stats := e.Stats()

	rec.mu.Lock()
	defer rec.mu.Unlock()
	var conns []*Conn
	for _, c := range rec.opened {
		if c.Remote.String() == ln.Addr().String() {
			conns = append(conns, c)
		}
	}
	if len(conns) != loadClients {
		t.Fatalf("%d connections to the server, want the %d clients'", len(conns), loadClients)
	}
	var lost, copied uint64
	for _, c := range conns {
		n := rec.wire(c)
		got := uint64(len(rec.data[c][Send]) + len(rec.data[c][Recv]))
		t.Logf("connection %d: sent %d (copied %d), received %d (copied %d), %d of them lost or uncopied",
			c.ID, n.sent, len(rec.data[c][Send]), n.recv, len(rec.data[c][Recv]), n.lost)
		if n.sent != loadBytes || n.recv != loadBytes {
			t.Errorf("connection %d: the handler was given %d bytes sent and %d received, copied or lost; the client sent and received %d",
				c.ID, n.sent, n.recv, loadBytes)
		}
		// Never wrong: what was copied is what the client sent ("q"s)
		// and received (zeros), whatever was lost around it.
		if sent := rec.data[c][Send]; bytes.Count(sent, []byte("q")) != len(sent) {
			t.Errorf("connection %d: copied bytes sent are not all the client's", c.ID)
		}
		if recv := rec.data[c][Recv]; bytes.Count(recv, []byte{0}) != len(recv) {
			t.Errorf("connection %d: copied bytes received are not all the server's", c.ID)
		}
		if n.lost+got != n.sent+n.recv {
			t.Errorf("connection %d: %d bytes copied and %d lost, for %d", c.ID, got, n.lost, n.sent+n.recv)
		}
		lost += n.lost
		copied += got
	}
	t.Logf("ring buffer %d bytes: %d copied, %d lost or uncopied; kernel: %d events dropped for a full ring buffer, standing for %d bytes",
		smallRing, copied, lost, stats.RingBufferFull, stats.RingBufferFullBytes)
	if lost == 0 || stats.RingBufferFull == 0 {
		t.Errorf("the load lost nothing (%d bytes, %d events dropped): it did not overload the ring buffer", lost, stats.RingBufferFull)
	}
	if stats.RingBufferFullBytes < lost {
		t.Errorf("the kernel counted %d bytes dropped for a full ring buffer, fewer than the %d the connections lost", stats.RingBufferFullBytes, lost)
	}
}
