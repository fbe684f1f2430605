// Command record captures real HTTP/1.x and HTTP/2 traffic for the httpparse
// tests.
//
// It starts the servers (python3 http.server, a Go net/http server that
// also speaks HTTP/2 with prior knowledge, and a Go server that accepts h2c
// upgrades), and for each session runs a real client (curl, python3 urllib,
// Go's net/http client over h2c) through a relay on 127.0.0.1 that forwards
// both directions and writes, per accepted connection, the bytes of each
// direction and the order in which pieces arrived:
//
//	<session>-<n>.toserver  client → server bytes
//	<session>-<n>.toclient  server → client bytes
//	<session>-<n>.chunks    one line per piece read, in arrival order:
//	                        "> <len>" (to server) or "< <len>" (to client)
//
// Run from the module root:
//
//	go run ./internal/httpparse/internal/record -out internal/httpparse/testdata/recorded
//
// With -h2client URL it is instead the Go HTTP/2 client of one session: it
// runs requests concurrently on one h2c connection to URL.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
)

func main() {
	out := flag.String("out", "", "directory to write recordings into (required)")
	h2client := flag.String("h2client", "", "act as the Go HTTP/2 client against this base URL")
	flag.Parse()
	if *h2client != "" {
		if err := goH2Client(*h2client); err != nil {
			log.Fatalf("record -h2client: %v", err)
		}
		return
	}
	if *out == "" {
		log.Fatal("record: -out is required")
	}
	if err := run(*out); err != nil {
		log.Fatalf("record: %v", err)
	}
}

// session is one client run against one server.
type session struct {
	name   string
	server string // "python", "go" (HTTP/1.1, and HTTP/2 with prior knowledge) or "h2c-upgrade"
	client func(base string) *exec.Cmd
}

func sessions() []session {
	curl := func(args ...string) func(string) *exec.Cmd {
		return func(base string) *exec.Cmd {
			a := append([]string{"-sS", "--noproxy", "*", "-o", "/dev/null"}, args...)
			for i, s := range a {
				a[i] = strings.ReplaceAll(s, "BASE", base)
			}
			return exec.Command("curl", a...)
		}
	}
	nghttp := func(args ...string) func(string) *exec.Cmd {
		return func(base string) *exec.Cmd {
			a := append([]string{"-n"}, args...) // -n: discard the bodies
			for i, s := range a {
				a[i] = strings.ReplaceAll(s, "BASE", base)
			}
			return exec.Command("nghttp", a...)
		}
	}
	h2 := func(args ...string) func(string) *exec.Cmd {
		return curl(append([]string{"--http2-prior-knowledge"}, args...)...)
	}
	return []session{
		// HTTP/2 with prior knowledge. curl 7.88 fails to reuse such a
		// connection ("Error in the HTTP2 framing layer"), so it makes one
		// request per connection; Go's client runs the concurrent streams.
		{"h2-curl-get", "h2c", h2("BASE/hello?from=curl")},
		{"h2-curl-post", "h2c", h2("-d", "name=ebpftap&kind=receiver", "BASE/echo")},
		{"h2-curl-404", "h2c", h2("BASE/missing")},
		{"h2-curl-trailer", "h2c", h2("BASE/trailer")},
		{"h2-curl-big", "h2c", h2("BASE/big")},
		{"h2-go-concurrent", "h2c", func(base string) *exec.Cmd { return exec.Command(os.Args[0], "-h2client", base) }},
		// nghttp2's client: all URLs as concurrent streams of one
		// connection, with padded frames (-b) and a POST body from stdin.
		{"h2-nghttp-concurrent", "h2c", nghttp("-b", "32", "BASE/hello?from=nghttp", "BASE/big", "BASE/trailer", "BASE/missing")},
		{"h2-nghttp-post", "h2c", func(base string) *exec.Cmd {
			cmd := nghttp("-d", "-", "BASE/echo")(base)
			cmd.Stdin = strings.NewReader(strings.Repeat("nghttp body line\n", 20))
			return cmd
		}},
		{"h2-nghttp-upgrade", "h2c-upgrade", nghttp("-u", "BASE/hello?via=nghttp-upgrade")},
		// An h2c upgrade: the first request goes as HTTP/1.1 and is
		// answered in HTTP/2, the second is stream 3.
		{"h2-curl-upgrade", "h2c-upgrade", curl("--http2", "BASE/hello?via=upgrade", "-o", "/dev/null", "BASE/chunked")},
		// Keep-alive: curl reuses one connection for all URLs of a command;
		// the 404 comes last because http.server closes after an error.
		{"curl-python-keepalive", "python", curl("BASE/hello.txt", "-o", "/dev/null", "BASE/dir/", "-o", "/dev/null", "BASE/missing")},
		{"curl-go-chunked", "go", curl("BASE/chunked")},
		{"curl-go-post", "go", curl("-d", "name=ebpftap&kind=receiver", "BASE/echo")},
		{"curl-go-head", "go", curl("-I", "BASE/hello")},
		{"curl-go-status", "go", curl("-H", `If-None-Match: "v1"`, "BASE/nocontent", "-o", "/dev/null", "BASE/etag", "-o", "/dev/null", "BASE/status/418")},
		{"curl-go-expect", "go", func(base string) *exec.Cmd {
			cmd := curl("-H", "Expect: 100-continue", "--data-binary", "@-", "BASE/echo")(base)
			cmd.Stdin = strings.NewReader(strings.Repeat("expect-continue body line\n", 40))
			return cmd
		}},
		{"curl-go-upload-chunked", "go", func(base string) *exec.Cmd {
			cmd := curl("-H", "Expect:", "-T", "-", "BASE/echo")(base)
			cmd.Stdin = strings.NewReader(strings.Repeat("streamed upload\n", 30))
			return cmd
		}},
		{"curl-go-trailer", "go", curl("BASE/trailer")},
		{"curl-go-http10", "go", curl("--http1.0", "BASE/chunked")},
		{"curl-go-big", "go", curl("BASE/big")},
		{"urllib-go", "go", func(base string) *exec.Cmd {
			const script = `
import sys, urllib.request
base = sys.argv[1]
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
opener.open(base + "/hello?from=urllib").read()
opener.open(urllib.request.Request(base + "/echo", data=b'{"k": "v"}', headers={"Content-Type": "application/json"})).read()
`
			return exec.Command("python3", "-c", script, base)
		}},
	}
}

func run(out string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", out, err)
	}
	stopPython, pyAddr, err := startPython()
	if err != nil {
		return err
	}
	defer stopPython()
	targets := map[string]string{"python": pyAddr}
	for _, name := range []string{"go", "h2c", "h2c-upgrade"} {
		addr, stop, err := startGo(name)
		if err != nil {
			return err
		}
		defer stop()
		targets[name] = addr
	}

	for _, s := range sessions() {
		target := targets[s.server]
		n, err := record(s, target, out)
		if err != nil {
			return fmt.Errorf("session %s: %w", s.name, err)
		}
		log.Printf("%s: %d connection(s)", s.name, n)
	}
	return nil
}

// startPython serves a small document tree with python3 -m http.server,
// speaking HTTP/1.1 so that connections are kept alive.
func startPython() (stop func(), addr string, err error) {
	dir, err := os.MkdirTemp("", "record-docroot")
	if err != nil {
		return nil, "", fmt.Errorf("creating docroot: %w", err)
	}
	files := map[string]string{
		"hello.txt": "hello from python http.server\n",
		"dir/a.txt": "a\n",
		"dir/b.txt": "b\n",
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, "", err
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			return nil, "", err
		}
	}
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	cmd := exec.Command("python3", "-m", "http.server", "-b", "127.0.0.1", "-p", "HTTP/1.1", "-d", dir, port)
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("starting python3 http.server: %w", err)
	}
	stop = func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		_ = os.RemoveAll(dir)
	}
	addr = net.JoinHostPort("127.0.0.1", port)
	if err := waitListening(addr); err != nil {
		stop()
		return nil, "", fmt.Errorf("python3 http.server: %w", err)
	}
	return stop, addr, nil
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	_, port, err := net.SplitHostPort(l.Addr().String())
	return port, err
}

func waitListening(addr string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			return c.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not listening on %s: %w", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startGo runs the Go server whose handlers cover chunked responses,
// trailers, bodies read with 100-continue, and status codes without a body.
// kind "go" speaks HTTP/1.x, "h2c" also HTTP/2 with prior knowledge, and
// "h2c-upgrade" also accepts HTTP/1.1 requests upgrading to h2c, which
// net/http does not.
func startGo(kind string) (addr string, stop func(), err error) {
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "hello from go, %s %s\n", r.Method, r.URL.RequestURI())
	})
	mux.HandleFunc("/chunked", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		for i := range 3 {
			fmt.Fprintf(w, "part %d of a streamed response\n", i)
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "%s %d bytes: %.40q\n", r.Method, len(body), body)
	})
	mux.HandleFunc("/nocontent", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("/etag", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"v1"`)
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		fmt.Fprintln(w, "versioned content")
	})
	mux.HandleFunc("/status/418", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
		fmt.Fprintln(w, "short and stout")
	})
	mux.HandleFunc("/trailer", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Checksum, X-Parts")
		w.Header().Set("Content-Type", "text/plain")
		for i := range 2 {
			fmt.Fprintf(w, "trailer part %d\n", i)
			w.(http.Flusher).Flush()
		}
		w.Header().Set("X-Checksum", "abc123")
		w.Header().Set("X-Parts", "2")
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		line := "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\n"
		w.Header().Set("Content-Length", fmt.Sprint(320*len(line)))
		for range 320 {
			io.WriteString(w, line)
		}
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("listening for the Go server: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	switch kind {
	case "h2c":
		srv.Protocols = new(http.Protocols)
		srv.Protocols.SetHTTP1(true)
		srv.Protocols.SetUnencryptedHTTP2(true)
	case "h2c-upgrade":
		// The deprecated h2c package is the one Go server that still
		// implements the upgrade (RFC 7540 §3.2).
		srv.Handler = h2c.NewHandler(mux, &http2.Server{}) //nolint:staticcheck // see above
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
			log.Printf("go server: %v", err)
		}
	}()
	return l.Addr().String(), func() {
		_ = srv.Shutdown(context.Background())
		<-done
	}, nil
}

// goH2Client is the Go client of session h2-go-concurrent: after a first
// request opens the connection, requests of every kind run concurrently on
// it, as streams of one HTTP/2 connection.
func goH2Client(base string) error {
	tr := &http.Transport{}
	tr.Protocols = new(http.Protocols)
	tr.Protocols.SetUnencryptedHTTP2(true)
	client := &http.Client{Transport: tr, Timeout: 20 * time.Second}
	defer tr.CloseIdleConnections()
	do := func(method, path, body string) error {
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, err := http.NewRequest(method, base+path, rd)
		if err != nil {
			return err
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return fmt.Errorf("%s %s: reading the body: %w", method, path, err)
		}
		if resp.ProtoMajor != 2 {
			return fmt.Errorf("%s %s: answered in %s, not HTTP/2", method, path, resp.Proto)
		}
		return nil
	}
	if err := do("GET", "/hello?first=1", ""); err != nil {
		return err
	}
	reqs := [][3]string{
		{"GET", "/hello?i=1", ""}, {"POST", "/echo", "k=v&concurrent=1"}, {"GET", "/trailer", ""},
		{"GET", "/status/418", ""}, {"GET", "/chunked", ""}, {"GET", "/big", ""},
		{"GET", "/etag", ""}, {"GET", "/missing", ""},
	}
	errs := make(chan error, len(reqs))
	for _, r := range reqs {
		go func() { errs <- do(r[0], r[1], r[2]) }()
	}
	var all []error
	for range reqs {
		all = append(all, <-errs)
	}
	return errors.Join(all...)
}

// recording holds one relayed connection.
type recording struct {
	mu                 sync.Mutex
	toServer, toClient bytes.Buffer
	chunks             strings.Builder
}

func (r *recording) add(toServer bool, b []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if toServer {
		r.toServer.Write(b)
		fmt.Fprintf(&r.chunks, "> %d\n", len(b))
	} else {
		r.toClient.Write(b)
		fmt.Fprintf(&r.chunks, "< %d\n", len(b))
	}
}

// record runs one session's client through a relay to target and writes the
// connections it saw.
func record(s session, target, out string) (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("listening for the relay: %w", err)
	}
	var (
		mu    sync.Mutex
		recs  []*recording
		wg    sync.WaitGroup
		errMu sync.Mutex
		first error
	)
	setErr := func(err error) {
		errMu.Lock()
		defer errMu.Unlock()
		if first == nil {
			first = err
		}
	}
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		for {
			client, err := l.Accept()
			if err != nil {
				return
			}
			rec := &recording{}
			mu.Lock()
			recs = append(recs, rec)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := relay(client, target, rec); err != nil {
					setErr(err)
				}
			}()
		}
	}()

	cmd := s.client("http://" + l.Addr().String())
	cmd.Stderr = os.Stderr
	cmd.Env = append(os.Environ(), "http_proxy=", "HTTP_PROXY=", "no_proxy=*")
	runErr := cmd.Run()
	l.Close()
	<-accepted
	wg.Wait()
	if runErr != nil {
		return 0, fmt.Errorf("running %s: %w", cmd.Path, runErr)
	}
	if first != nil {
		return 0, first
	}
	for i, rec := range recs {
		base := filepath.Join(out, fmt.Sprintf("%s-%d", s.name, i+1))
		for ext, data := range map[string][]byte{
			".toserver": rec.toServer.Bytes(),
			".toclient": rec.toClient.Bytes(),
			".chunks":   []byte(rec.chunks.String()),
		} {
			if err := os.WriteFile(base+ext, data, 0o644); err != nil {
				return 0, fmt.Errorf("writing %s: %w", base+ext, err)
			}
		}
	}
	return len(recs), nil
}

// relay forwards both directions between client and a new connection to
// target, recording each piece before forwarding it, so the log's order
// respects causality: a response piece is logged after the request bytes
// that caused it.
func relay(client net.Conn, target string, rec *recording) error {
	defer client.Close()
	server, err := net.Dial("tcp", target)
	if err != nil {
		return fmt.Errorf("dialing %s: %w", target, err)
	}
	defer server.Close()
	deadline := time.Now().Add(30 * time.Second)
	_ = client.SetDeadline(deadline)
	_ = server.SetDeadline(deadline)
	errs := make(chan error, 2)
	pipe := func(dst, src net.Conn, toServer bool) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				rec.add(toServer, buf[:n])
				if _, werr := dst.Write(buf[:n]); werr != nil {
					errs <- fmt.Errorf("forwarding: %w", werr)
					return
				}
			}
			if err != nil {
				_ = dst.(*net.TCPConn).CloseWrite()
				if errors.Is(err, io.EOF) {
					err = nil
				}
				errs <- err
				return
			}
		}
	}
	go pipe(server, client, true)
	go pipe(client, server, false)
	return errors.Join(<-errs, <-errs)
}
