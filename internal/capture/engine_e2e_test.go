//go:build linux && (amd64 || arm64)

package capture

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"
)

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

func TestE2EEngineSmoke(t *testing.T) {
	requireBPF(t)
	rec := &recorder{}
	e, err := NewEngine(Options{}, rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	srv := exec.Command("python3", "-m", "http.server", "--bind", "127.0.0.1", "0")
	_ = srv
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "hello") }))
	out, err := exec.Command("curl", "-s", "http://"+ln.Addr().String()+"/x?y=1").CombinedOutput()
	t.Logf("curl: %s %v", out, err)
	time.Sleep(500 * time.Millisecond)
	e.Close()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, c := range rec.opened {
		t.Logf("conn %d %s pid=%d exe=%s %s -> %s", c.ID, c.Role, c.Process.PID, c.Process.ExePath, c.Local, c.Remote)
		for d, b := range rec.data[c] {
			t.Logf("   %s: %q", d, b)
		}
	}
	t.Log(e.Stats())
}

func requireBPF(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("BPF tests need root")
		}
		t.Skip("BPF tests need root")
	}
}
