//go:build linux && (amd64 || arm64)

package capture

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ebpftap/ebpftap/internal/e2e"
)

// recorder is a Handler that keeps everything it is given.
type recorder struct {
	mu      sync.Mutex
	opened  []*Conn
	data    map[*Conn]map[Direction][]byte // wire bytes
	counts  map[*Conn]*byteCount           // wire bytes, copied or not
	tls     map[*Conn]map[Direction][]byte // TLS plaintext
	tlsLost int                            // TLS plaintext bytes reported lost
	closed  []*Conn
}

// byteCount is what the wire segments of a connection stood for: len(Data)
// + Lost each, and the Lost of them.
type byteCount struct{ sent, recv, lost uint64 }

// wire returns the wire bytes counted for c. Callers hold mu.
func (r *recorder) wire(c *Conn) byteCount {
	if n := r.counts[c]; n != nil {
		return *n
	}
	return byteCount{}
}

func (r *recorder) ConnOpened(c *Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.opened = append(r.opened, c)
	return true
}

func (r *recorder) Data(c *Conn, s Segment) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	streams := &r.data
	if s.TLS {
		streams = &r.tls
		r.tlsLost += s.Lost
	} else {
		if r.counts == nil {
			r.counts = map[*Conn]*byteCount{}
		}
		if r.counts[c] == nil {
			r.counts[c] = &byteCount{}
		}
		n := r.counts[c]
		if s.Dir == Send {
			n.sent += uint64(len(s.Data) + s.Lost)
		} else {
			n.recv += uint64(len(s.Data) + s.Lost)
		}
		n.lost += uint64(s.Lost)
	}
	if *streams == nil {
		*streams = map[*Conn]map[Direction][]byte{}
	}
	if (*streams)[c] == nil {
		(*streams)[c] = map[Direction][]byte{}
	}
	(*streams)[c][s.Dir] = append((*streams)[c][s.Dir], s.Data...)
	return true
}

func (r *recorder) ConnClosed(c *Conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = append(r.closed, c)
}

func startEngine(t *testing.T, h Handler) *Engine {
	t.Helper()
	return startEngineWith(t, Options{}, h)
}

func startEngineWith(t *testing.T, opts Options, h Handler) *Engine {
	t.Helper()
	e2e.RequireBPF(t)
	e, err := NewEngine(opts, h)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// TestE2EEngineStreams checks that a curl exchange with a server of this
// process arrives as a client connection of curl with both byte streams
// intact, and that this process's own side is not captured.
func TestE2EEngineStreams(t *testing.T) {
	rec := &recorder{}
	e := startEngine(t, rec)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") })}
	go srv.Serve(ln)
	defer srv.Close()
	url := "http://" + ln.Addr().String() + "/x?y=1"
	if out, err := exec.Command("curl", "-sf", url).CombinedOutput(); err != nil || string(out) != "hello" {
		t.Fatalf("curl: %q %v", out, err)
	}
	// This process's own client traffic must not show up.
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	time.Sleep(300 * time.Millisecond)
	e.Close()

	rec.mu.Lock()
	defer rec.mu.Unlock()
	var curl []*Conn
	for _, c := range rec.opened {
		if c.Process.PID == os.Getpid() {
			t.Errorf("captured the engine's own process: %+v", c)
		}
		if c.Remote.String() == ln.Addr().String() {
			curl = append(curl, c)
		}
	}
	if len(curl) != 1 {
		t.Fatalf("got %d connections to the server, want curl's one", len(curl))
	}
	c := curl[0]
	if c.Role != RoleClient || c.Process.ExeName != "curl" || !c.Local.Addr().IsLoopback() {
		t.Errorf("connection %+v, want a client connection of curl from loopback", c)
	}
	if want := []string{"curl", "-sf", url}; fmt.Sprint(c.Process.Args) != fmt.Sprint(want) {
		t.Errorf("curl's args %q, want %q", c.Process.Args, want)
	}
	sent, recv := rec.data[c][Send], rec.data[c][Recv]
	if !bytes.HasPrefix(sent, []byte("GET /x?y=1 HTTP/1.1\r\n")) || !bytes.HasSuffix(sent, []byte("\r\n\r\n")) {
		t.Errorf("sent %q, want curl's request", sent)
	}
	if !bytes.HasPrefix(recv, []byte("HTTP/1.1 200 OK\r\n")) || !bytes.HasSuffix(recv, []byte("\r\n\r\nhello")) {
		t.Errorf("received %q, want the server's response", recv)
	}
	if n := rec.wire(c); n.sent != uint64(len(sent)) || n.recv != uint64(len(recv)) || n.lost != 0 {
		t.Errorf("counted %d sent, %d received, %d lost; streams hold %d and %d", n.sent, n.recv, n.lost, len(sent), len(recv))
	}
	closed := false
	for _, cc := range rec.closed {
		closed = closed || cc == c
	}
	if !closed {
		t.Error("curl's connection was not reported closed")
	}
}

// TestE2EEngineDetaches checks with the kernel's own listing (bpftool) that
// the programs and links the engine created are gone after Close.
func TestE2EEngineDetaches(t *testing.T) {
	e2e.RequireBPF(t)
	if _, err := exec.LookPath("bpftool"); err != nil {
		t.Fatal("bpftool is needed to list the kernel's programs (apt-get install bpftool)")
	}
	e, err := NewEngine(Options{}, &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	var progs, links []uint32
	for _, p := range programsIn(&e.objs.syscallsPrograms) {
		info, err := p.Info()
		if err != nil {
			t.Fatal(err)
		}
		id, _ := info.ID()
		progs = append(progs, uint32(id))
	}
	for _, l := range e.links {
		info, err := l.Info()
		if err != nil {
			t.Fatal(err)
		}
		links = append(links, uint32(info.ID))
	}
	if len(progs) == 0 || len(links) != len(progs) {
		t.Fatalf("engine has %d programs and %d links, want every program attached", len(progs), len(links))
	}
	if n := e2e.ListedBPF(t, "prog", progs) + e2e.ListedBPF(t, "link", links); n != 2*len(progs) {
		t.Fatalf("the kernel lists %d of the engine's %d programs and links while it runs", n, 2*len(progs))
	}
	e.Close()
	if n := e2e.ListedBPF(t, "prog", progs) + e2e.ListedBPF(t, "link", links); n != 0 {
		t.Errorf("after Close the kernel still lists %d of the engine's programs and links", n)
	}
}

// policyHandler ignores connections to one port and, on another, wants no
// payload after the first response it is given; it records what it is given.
type policyHandler struct {
	recorder
	ignorePort, countPort uint16
}

func (h *policyHandler) ConnOpened(c *Conn) bool {
	if c.Remote.Port() == h.ignorePort {
		return false
	}
	return h.recorder.ConnOpened(c)
}

func (h *policyHandler) Data(c *Conn, s Segment) bool {
	h.recorder.Data(c, s)
	return c.Remote.Port() != h.countPort || s.Dir != Recv
}

// TestE2EEnginePolicies checks that the kernel stops copying the payload of a
// connection the handler counts only, and reports nothing of one it ignores.
func TestE2EEnginePolicies(t *testing.T) {
	e2e.RequireBPF(t)
	ports := helloServers(t, 2)
	h := &policyHandler{ignorePort: ports[0], countPort: ports[1]}
	e, err := NewEngine(Options{}, h)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	// A policy takes effect once the engine has read the event that
	// prompted it, so the client pauses before each step.
	for _, port := range ports {
		out, err := exec.Command("python3", "-c", slowClient, strconv.Itoa(int(port))).CombinedOutput()
		if err != nil || !bytes.HasSuffix(out, []byte("hello")) {
			t.Fatalf("client of port %d: %q %v", port, out, err)
		}
	}
	time.Sleep(300 * time.Millisecond)
	e.Close()

	h.mu.Lock()
	defer h.mu.Unlock()
	var counted *Conn
	for _, c := range h.opened {
		switch c.Remote.Port() {
		case h.ignorePort:
			t.Errorf("the handler was given an ignored connection: %+v", c)
		case h.countPort:
			counted = c
		}
	}
	if counted == nil {
		t.Fatal("the counted connection was not reported")
	}
	// The handler said no at the first response: what followed, the
	// second exchange, was only counted.
	const requestLen = 27 // slowClient's request
	sent, recv := len(h.data[counted][Send]), len(h.data[counted][Recv])
	if sent != requestLen || recv < 100 {
		t.Errorf("copied %d bytes sent and %d received; want the first request (%d) and response (100 bytes or more)", sent, recv, requestLen)
	}
	if n := h.wire(counted); n.sent != 2*requestLen || n.recv != 2*uint64(recv) || n.lost != requestLen+uint64(recv) {
		t.Errorf("count-only connection: %d sent, %d received, %d not copied; want two requests and two responses, the second of each uncopied",
			n.sent, n.recv, n.lost)
	}
}

// TestE2EEngineCountsOpenConnections checks that the wire bytes the kernel
// counts for a count-only connection reach the handler while it is open,
// not only at its close: a client that speaks no HTTP is refused, sends
// 50000 bytes, and holds the connection open for seconds.
func TestE2EEngineCountsOpenConnections(t *testing.T) {
	rec := &refuser{}
	e := startEngine(t, rec)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.WriteString(c, "SSH-2.0-server\r\n") // the server's first bytes: no TLS hello
		io.Copy(io.Discard, c)
	}()
	const payload = 50000
	client := exec.Command("python3", "-c", `import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"SSH-2.0-client\r\n")
s.recv(100)
time.sleep(0.5)
s.sendall(b"x" * 50000)
time.sleep(4)`, strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
	if err := client.Start(); err != nil {
		t.Fatal(err)
	}
	defer client.Wait()
	defer client.Process.Kill()

	const hello = uint64(len("SSH-2.0-client\r\n"))
	var got byteCount
	var sock uint64
	deadline := time.Now().Add(3500 * time.Millisecond) // the client holds on for 4.5 s
	for time.Now().Before(deadline) {
		rec.mu.Lock()
		for _, c := range rec.opened {
			if c.Remote.String() == ln.Addr().String() {
				got, sock = rec.wire(c), c.sock
			}
		}
		// Only this connection's close matters: the engine sees every
		// connection of the host, and others close meanwhile.
		closed := false
		for _, c := range rec.closed {
			closed = closed || c.Remote.String() == ln.Addr().String()
		}
		rec.mu.Unlock()
		if closed {
			t.Fatal("the connection closed before its count was checked")
		}
		if got.sent == hello+payload {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got.sent != hello+payload || got.lost != payload {
		t.Errorf("while open: %d bytes sent, %d of them not copied; want %d and %d", got.sent, got.lost, hello+payload, payload)
	}
	// Counted by the kernel, not sent as events.
	var inKernel syscallsWireCount
	if err := e.objs.WireBytes.Lookup(sock, &inKernel); err != nil || inKernel.Sent != payload {
		t.Errorf("the kernel's count of the connection: %+v (%v); want %d bytes sent", inKernel, err, payload)
	}
}

// slowClient sends two HTTP requests on one connection to
// 127.0.0.1:argv[1], pausing half a second before each send and each read,
// and prints the responses. The pauses leave the engine time to apply a
// policy before the next step.
const slowClient = `import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
out = b""
for _ in range(2):
    time.sleep(0.5)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.5)
    out += s.recv(4096)
sys.stdout.write(out.decode())`

// TestE2EEngineVectoredAndLarge sends a request with sendmsg (three iovecs),
// reads it with recvmsg into two, answers with writev, then writes 300000
// bytes in one write: the streams must come out whole where copied, and the
// large write's uncopied tail must be counted, not lost.
func TestE2EEngineVectoredAndLarge(t *testing.T) {
	rec := &recorder{}
	startEngine(t, rec)

	srv := exec.Command("python3", "-c", vectoredServer)
	out, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Wait()
	var port int
	if _, err := fmt.Fscan(out, &port); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command("python3", "-c", vectoredClient, strconv.Itoa(port)).CombinedOutput(); err != nil {
		t.Fatalf("client: %v\n%s", err, b)
	}
	rest, _ := io.ReadAll(out) // the server prints how much it read, then exits
	time.Sleep(300 * time.Millisecond)

	rec.mu.Lock()
	defer rec.mu.Unlock()
	const request = "GET /v HTTP/1.1\r\nHost: x\r\n\r\n"
	const response = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
	const large = 300000
	var client, server *Conn
	for _, c := range rec.opened {
		switch {
		case c.Role == RoleClient && int(c.Remote.Port()) == port:
			client = c
		case c.Role == RoleServer && int(c.Local.Port()) == port:
			server = c
		}
	}
	if client == nil || server == nil {
		t.Fatalf("client %v, server %v: want both ends (server printed %q)", client, server, rest)
	}
	for _, end := range []struct {
		name    string
		c       *Conn
		out, in Direction
	}{{"client", client, Send, Recv}, {"server", server, Recv, Send}} {
		sent, got := rec.data[end.c][end.out], rec.data[end.c][end.in]
		if !bytes.HasPrefix(sent, []byte(request)) {
			t.Errorf("%s: request stream starts %q, want %q", end.name, sent[:min(len(sent), 40)], request)
		}
		if string(got) != response {
			t.Errorf("%s: response stream %q, want %q", end.name, got, response)
		}
		if tail := sent[len(request):]; len(tail) < 16384 || len(tail) > large || bytes.Count(tail, []byte("x")) != len(tail) {
			t.Errorf("%s: %d copied bytes after the request, want a prefix of the large write (16 KiB to %d x's)", end.name, len(tail), large)
		}
		w := rec.wire(end.c)
		n := w.sent + w.recv
		if n != uint64(len(request)+len(response)+large) {
			t.Errorf("%s: counted %d bytes, want %d", end.name, n, len(request)+len(response)+large)
		}
		if copied := uint64(len(sent) + len(got)); w.lost != n-copied {
			t.Errorf("%s: %d bytes counted as not copied, want %d", end.name, w.lost, n-copied)
		}
	}
}

// vectoredServer reads a request with recvmsg_into (two buffers), answers
// with writev, then reads until the peer closes.
const vectoredServer = `import os, socket, sys
ls = socket.create_server(("127.0.0.1", 0))
print(ls.getsockname()[1], flush=True)
c, _ = ls.accept()
a, b = bytearray(10), bytearray(100)
n = c.recvmsg_into([a, b])[0]
os.writev(c.fileno(), [b"HTTP/1.1 200 OK\r\n", b"Content-Length: 5\r\n\r\n", b"hello"])
total = 0
while chunk := c.recv(1 << 20):
    total += len(chunk)
print(n, total, flush=True)`

// vectoredClient sends a request with sendmsg (three buffers), reads the
// response, then writes 300000 bytes with one write.
const vectoredClient = `import os, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendmsg([b"GET /v HTTP/1.1\r\n", b"Host: x\r\n", b"\r\n"])
want, got = 43, b""
while len(got) < want:
    got += s.recv(100)
assert os.write(s.fileno(), b"x" * 300000) == 300000
s.close()`

// TestE2EEnginePortFilter filters server ports in the kernel: with one port
// excluded, and then with only another included, a connection to a filtered
// port never reaches the handler, neither its open nor a byte of it, while
// the other port's do.
func TestE2EEnginePortFilter(t *testing.T) {
	e2e.RequireBPF(t)
	ports := helloServers(t, 2)
	filtered, kept := ports[0], ports[1]
	for _, f := range []*PortFilter{
		{Ports: []uint16{filtered}},
		{Include: true, Ports: []uint16{kept}},
	} {
		r := &recorder{}
		e, err := NewEngine(Options{Ports: f}, r)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Start(); err != nil {
			t.Fatal(err)
		}
		for _, port := range ports {
			if out, err := exec.Command("curl", "-sf", fmt.Sprintf("http://127.0.0.1:%d/", port)).CombinedOutput(); err != nil {
				t.Fatalf("curl to port %d: %v %s", port, err, out)
			}
		}
		time.Sleep(300 * time.Millisecond)
		e.Close()

		r.mu.Lock()
		seen := map[uint16]int{}
		for _, c := range r.opened {
			if p := serverPortOf(c); p == filtered || p == kept {
				seen[p]++
			}
		}
		r.mu.Unlock()
		// curl's end only: the servers run in this process, which the
		// engine never captures.
		if seen[filtered] != 0 || seen[kept] != 1 {
			t.Errorf("include=%v: connections opened by server port %v; want none to %d and curl's to %d", f.Include, seen, filtered, kept)
		}
	}
}

// serverPortOf is the server end's port of c.
func serverPortOf(c *Conn) uint16 {
	if c.Role == RoleServer {
		return c.Local.Port()
	}
	return c.Remote.Port()
}

// helloServers starts n HTTP servers on loopback ports, in this process,
// that answer "hello", and returns their ports; they stop with t.
func helloServers(t *testing.T, n int) []uint16 {
	t.Helper()
	ports := make([]uint16, n)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") })}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
		ports[i] = uint16(ln.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// TestE2EEngineProgramStats checks that with Options.ProgramStats the
// engine reports the kernel's counts of its programs, syscall and TLS ones
// under their functions' names, that they grow with traffic, that Close
// keeps the last ones, and that without the option it reports none.
func TestE2EEngineProgramStats(t *testing.T) {
	e := startEngineWith(t, Options{ProgramStats: true}, &recorder{})
	url := fmt.Sprintf("http://127.0.0.1:%d/", helloServers(t, 1)[0])
	curl := func() {
		if out, err := exec.Command("curl", "-sf", url).CombinedOutput(); err != nil {
			t.Fatalf("curl: %q %v", out, err)
		}
	}
	byName := func(stats []ProgramStat) map[string]ProgramStat {
		m := make(map[string]ProgramStat, len(stats))
		for _, s := range stats {
			if _, dup := m[s.Name]; dup {
				t.Errorf("program %s is reported twice", s.Name)
			}
			m[s.Name] = s
		}
		return m
	}

	curl()
	before := byName(e.ProgramStats())
	for _, name := range []string{"enter_read", "exit_read", "tls_enter", "go_tls_enter"} {
		if _, ok := before[name]; !ok {
			t.Errorf("no counts for program %s; have %v", name, slices.Sorted(maps.Keys(before)))
		}
	}
	curl()
	after := byName(e.ProgramStats())
	// curl's connect and the server's accept run once a request, on this
	// host whatever else runs on it.
	for _, name := range []string{"exit_connect", "exit_accept4"} {
		b, a := before[name], after[name]
		if a.Runs <= b.Runs || a.Runtime <= b.Runtime {
			t.Errorf("%s: %d runs in %v before a request, %d in %v after; want both to grow", name, b.Runs, b.Runtime, a.Runs, a.Runtime)
		}
	}
	e.Close()
	closed := byName(e.ProgramStats())
	if c, a := closed["exit_connect"], after["exit_connect"]; c.Runs < a.Runs {
		t.Errorf("after Close exit_connect reports %d runs, fewer than the %d before", c.Runs, a.Runs)
	}

	plain := startEngine(t, &recorder{})
	if s := plain.ProgramStats(); s != nil {
		t.Errorf("without Options.ProgramStats the engine reports %v", s)
	}
}
