package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ebpftap/ebpftap/internal/e2e"
)

// scenario is a server and a load tool, both traced by ebpftap.
type scenario struct {
	name        string
	description string
	// startServer starts the server in dir and returns it with its port.
	startServer func(ctx context.Context, b *bench, dir string) (*process, int, error)
	target      func(port int) string
	tool        loadTool
	// loadExe is the load tool's executable, whose TLS sites the floor
	// probes.
	loadExe func(b *bench) (string, error)
	// goServer and goLoad say which ends are Go programs, probed at their
	// crypto/tls sites; the others are probed in the libssl they load.
	goServer, goLoad bool
	tools            []tool // the programs it runs that the bench does not build
}

var scenarios = []scenario{
	{
		name:        "go-https",
		description: "goload (Go crypto/tls, HTTP/1.1 keep-alive) → goserver (Go crypto/tls)",
		startServer: func(ctx context.Context, b *bench, _ string) (*process, int, error) {
			return startPortPrinter(ctx, []string{b.program("goserver"), "-cert", b.cert, "-key", b.key})
		},
		target:   func(port int) string { return fmt.Sprintf("https://127.0.0.1:%d/ok", port) },
		tool:     goloadHTTPTool,
		loadExe:  func(b *bench) (string, error) { return b.program("goload"), nil },
		goServer: true, goLoad: true,
	},
	{
		name:        "nginx-https",
		description: "wrk (OpenSSL) → nginx (OpenSSL), HTTP/1.1 keep-alive",
		startServer: func(ctx context.Context, b *bench, dir string) (*process, int, error) {
			return startNginx(ctx, b, dir, false)
		},
		target:  func(port int) string { return fmt.Sprintf("https://127.0.0.1:%d/", port) },
		tool:    wrkTool,
		loadExe: func(*bench) (string, error) { return exec.LookPath("wrk") },
		tools:   []tool{toolWrk, toolNginx},
	},
	{
		name:        "h2-tls",
		description: "h2load (OpenSSL) → nginx (OpenSSL), HTTP/2 over TLS, one stream per connection",
		startServer: func(ctx context.Context, b *bench, dir string) (*process, int, error) {
			return startNginx(ctx, b, dir, true)
		},
		target:  func(port int) string { return fmt.Sprintf("https://127.0.0.1:%d/", port) },
		tool:    h2loadTool,
		loadExe: func(*bench) (string, error) { return exec.LookPath("h2load") },
		tools:   []tool{toolH2load, toolNginx},
	},
	{
		name:        "http1-plain",
		description: "wrk → goserver, plain HTTP/1.1 keep-alive: the syscall tracepoints only",
		startServer: func(ctx context.Context, b *bench, _ string) (*process, int, error) {
			return startPortPrinter(ctx, []string{b.program("goserver")})
		},
		target:   func(port int) string { return fmt.Sprintf("http://127.0.0.1:%d/ok", port) },
		tool:     wrkTool,
		loadExe:  func(*bench) (string, error) { return exec.LookPath("wrk") },
		goServer: true,
		tools:    []tool{toolWrk},
	},
	{
		name:        "grpc",
		description: "goload -grpc → grpcserver, unary health checks over h2c, 16 concurrent calls on one connection",
		startServer: func(ctx context.Context, b *bench, _ string) (*process, int, error) {
			return startPortPrinter(ctx, []string{b.program("grpcserver")})
		},
		target:   func(port int) string { return fmt.Sprintf("127.0.0.1:%d", port) },
		tool:     goloadGRPCTool,
		loadExe:  func(b *bench) (string, error) { return b.program("goload"), nil },
		goServer: true, goLoad: true,
	},
}

// startPortPrinter runs a test server that prints its port on its first
// line of output (goserver, grpcserver).
func startPortPrinter(ctx context.Context, args []string) (*process, int, error) {
	r, w := io.Pipe()
	p, err := startProcess(args, w, os.Stderr)
	if err != nil {
		return nil, 0, err
	}
	line := make(chan string, 1)
	go func() {
		br := bufio.NewReader(r)
		l, _ := br.ReadString('\n')
		line <- l
		_, _ = io.Copy(io.Discard, br) // never block the server on a full pipe
	}()
	go func() {
		<-p.done
		w.Close()
	}()
	select {
	case l := <-line:
		port, err := strconv.Atoi(strings.TrimSpace(l))
		if err != nil {
			p.kill()
			return nil, 0, fmt.Errorf("%s printed %q, not its port", args[0], l)
		}
		return p, port, nil
	case <-time.After(30 * time.Second):
		p.kill()
		return nil, 0, fmt.Errorf("%s did not print its port in 30 s", args[0])
	case <-ctx.Done():
		p.kill()
		return nil, 0, ctx.Err()
	}
}

func startNginx(ctx context.Context, b *bench, dir string, http2 bool) (*process, int, error) {
	port, err := freePort()
	if err != nil {
		return nil, 0, err
	}
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(e2e.NginxTLSConfig(dir, port, b.cert, b.key, http2)), 0o644); err != nil {
		return nil, 0, err
	}
	p, err := startProcess([]string{"nginx", "-c", conf, "-e", filepath.Join(dir, "error.log"), "-g", "daemon off;"}, nil, os.Stderr)
	if err != nil {
		return nil, 0, err
	}
	if err := waitListening(ctx, p, port); err != nil {
		p.kill()
		return nil, 0, fmt.Errorf("nginx: %w; error.log:\n%s", err, tail(filepath.Join(dir, "error.log"), 20))
	}
	return p, port, nil
}

// freePort is a loopback port nothing listens on now.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitListening waits until something accepts connections on the port.
func waitListening(ctx context.Context, p *process, port int) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if p.exited() {
			return fmt.Errorf("exited before listening on %d (%v)", port, p.err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("nothing listens on %d after 30 s", port)
}
