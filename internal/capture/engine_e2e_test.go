//go:build linux && (amd64 || arm64)

package capture

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// recorder is a Handler that keeps everything it is given.
type recorder struct {
	mu     sync.Mutex
	opened []*Conn
	data   map[*Conn]map[Direction][]byte
	closed []*Conn
}

func (r *recorder) ConnOpened(c *Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.opened = append(r.opened, c)
	return true
}

func (r *recorder) Data(c *Conn, s Segment) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.data == nil {
		r.data = map[*Conn]map[Direction][]byte{}
	}
	if r.data[c] == nil {
		r.data[c] = map[Direction][]byte{}
	}
	r.data[c][s.Dir] = append(r.data[c][s.Dir], s.Data...)
}

func (r *recorder) ConnClosed(c *Conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = append(r.closed, c)
}

func startEngine(t *testing.T, h Handler) *Engine {
	t.Helper()
	requireBPF(t)
	e, err := NewEngine(Options{}, h)
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
	if c.BytesSent != uint64(len(sent)) || c.BytesRecv != uint64(len(recv)) || c.LostBytes != 0 {
		t.Errorf("counted %d sent, %d received, %d lost; streams hold %d and %d", c.BytesSent, c.BytesRecv, c.LostBytes, len(sent), len(recv))
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
	requireBPF(t)
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
	for _, p := range e.coll.Programs {
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
	if n := listed(t, "prog", progs) + listed(t, "link", links); n != 2*len(progs) {
		t.Fatalf("the kernel lists %d of the engine's %d programs and links while it runs", n, 2*len(progs))
	}
	e.Close()
	if n := listed(t, "prog", progs) + listed(t, "link", links); n != 0 {
		t.Errorf("after Close the kernel still lists %d of the engine's programs and links", n)
	}
}

// listed counts how many of ids bpftool lists among the kernel's objects of a
// kind ("prog", "link").
func listed(t *testing.T, kind string, ids []uint32) int {
	t.Helper()
	out, err := exec.Command("bpftool", "--json", kind, "show").Output()
	if err != nil {
		t.Fatalf("bpftool %s show: %v", kind, err)
	}
	var objs []struct {
		ID uint32 `json:"id"`
	}
	if err := json.Unmarshal(out, &objs); err != nil {
		t.Fatalf("parsing bpftool's %s listing: %v", kind, err)
	}
	n := 0
	for _, o := range objs {
		if slices.Contains(ids, o.ID) {
			n++
		}
	}
	return n
}

func requireBPF(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("CI=true: BPF tests must run, and they need root")
	}
	t.Skip("skipping: loading BPF programs needs root")
}

// policyHandler ignores connections to one port and counts only those to
// another, recording what it is given.
type policyHandler struct {
	recorder
	engine                *Engine
	ignorePort, countPort uint16
}

func (h *policyHandler) ConnOpened(c *Conn) bool {
	switch c.Remote.Port() {
	case h.ignorePort:
		return false
	case h.countPort:
		h.engine.CountOnly(c)
	}
	return h.recorder.ConnOpened(c)
}

// TestE2EEnginePolicies checks that the kernel stops copying the payload of a
// connection the handler counts only, and reports nothing of one it ignores.
func TestE2EEnginePolicies(t *testing.T) {
	requireBPF(t)
	var ports [2]uint16
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") })}
		go srv.Serve(ln)
		defer srv.Close()
		ports[i] = uint16(ln.Addr().(*net.TCPAddr).Port)
	}
	h := &policyHandler{ignorePort: ports[0], countPort: ports[1]}
	e, err := NewEngine(Options{}, h)
	if err != nil {
		t.Fatal(err)
	}
	h.engine = e
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	// The policy takes effect once the engine has read the open event, so
	// the client waits a moment after connecting before it sends.
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
	if n := len(h.data[counted][Send]) + len(h.data[counted][Recv]); n != 0 {
		t.Errorf("the kernel copied %d bytes of a count-only connection", n)
	}
	const requestLen = 46 // slowClient's request
	if counted.BytesSent != requestLen || counted.BytesRecv < 100 || counted.LostBytes != counted.BytesSent+counted.BytesRecv {
		t.Errorf("count-only connection: %d sent, %d received, %d not copied; want the 46-byte request and the response, all uncopied",
			counted.BytesSent, counted.BytesRecv, counted.LostBytes)
	}
}

// slowClient sends one HTTP request to 127.0.0.1:argv[1], half a second after
// connecting, and prints the response.
const slowClient = `import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
time.sleep(0.5)
s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
data = b""
while chunk := s.recv(4096):
    data += chunk
sys.stdout.write(data.decode())`
