package ebpftapreceiver

import (
	"cmp"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/ebpftap/ebpftap/internal/e2e"
)

// TestE2ETLS runs HTTPS clients and servers built on OpenSSL (curl, python3's
// ssl, node, nginx) and a Go crypto/tls server: every OpenSSL end must give
// its span in plaintext with url.scheme https, and the ciphertext must never
// turn into a transaction. (Go's crypto/tls is not probed yet: the Go
// server's end gives nothing.)
func TestE2ETLS(t *testing.T) {
	_, sinks := startE2EReceiver(t, nil)
	cert, key := e2e.SelfSignedCert(t)
	goTLS := startServer(t, e2eProgram(t, "goserver"), "-cert", cert, "-key", key)
	pyTLS := startServer(t, "python3", "-u", "-c", e2e.PythonTLSServer, cert, key)
	nginx := startNginx(t, cert, key, false)
	nginxH2 := startNginx(t, cert, key, true)

	nodeGet := []string{"node", "-e", `const u = new URL(process.argv[1]);
require("https").get({host: u.hostname, port: u.port, path: u.pathname + u.search, rejectUnauthorized: false, agent: false},
  r => { r.resume(); r.on("end", () => process.exit(r.statusCode === 200 ? 0 : 1)); }).on("error", e => { console.error(e); process.exit(1); });`}
	pyGet := []string{"python3", "-c", `import ssl, sys, urllib.request
urllib.request.urlopen(sys.argv[1], context=ssl._create_unverified_context()).read()`}
	curl := []string{"curl", "-sfk", "--http1.1"}

	for _, tc := range []struct {
		name      string
		client    []string
		clientExe string
		serverExe string // "" when the server's end is not captured
		port      int
		path      string
		version   string // TLS version negotiated
		proto     string // HTTP version; default 1.1
	}{
		{"curl-python", curl, "curl", "python3", pyTLS, "/hello", "1.3", ""},
		// Debian's nginx 1.22 enables TLS 1.3 only when configured to.
		{"curl-nginx", curl, "curl", "nginx", nginx, "/hello", "1.2", ""},
		{"curl-go", curl, "curl", "", goTLS, "/ok", "1.3", ""},
		// HTTP/2 chosen by ALPN: the plaintext is HTTP/2 frames.
		{"curl-nginx-h2", []string{"curl", "-sfk", "--http2"}, "curl", "nginx", nginxH2, "/hello", "1.2", "2"},
		{"urllib-go", pyGet, "python3", "", goTLS, "/ok", "1.3", ""},
		{"node-go", nodeGet, "node", "", goTLS, "/ok", "1.3", ""},
		{"node-python", nodeGet, "node", "python3", pyTLS, "/hello", "1.3", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			query := "case=tls-" + tc.name
			url := fmt.Sprintf("https://127.0.0.1:%d%s?%s", tc.port, tc.path, query)
			run(t, tc.client[0], append(tc.client[1:], url)...)

			want := 1
			if tc.serverExe != "" {
				want = 2
			}
			spans := waitSpans(t, sinks.traces, want, func(s capturedSpan) bool {
				return strings.HasSuffix(s.str("url.full"), "?"+query) || s.str("url.query") == query
			})
			for _, s := range spans {
				checkAttrs(t, s, map[string]any{
					"http.request.method":       "GET",
					"http.response.status_code": int64(200),
					"network.protocol.version":  cmp.Or(tc.proto, "1.1"),
					"tls.protocol.version":      tc.version,
					"ebpftap.tls.library":       "openssl",
				})
				switch s.kind {
				case ptrace.SpanKindClient:
					if !strings.HasPrefix(s.exe, tc.clientExe) {
						t.Errorf("client span from %q, want %q", s.exe, tc.clientExe)
					}
					checkAttrs(t, s, map[string]any{"url.full": url, "server.port": int64(tc.port)})
				case ptrace.SpanKindServer:
					if !strings.HasPrefix(s.exe, tc.serverExe) {
						t.Errorf("server span from %q, want %q", s.exe, tc.serverExe)
					}
					checkAttrs(t, s, map[string]any{"url.scheme": "https", "url.path": tc.path, "url.query": query})
				}
			}
			// Nothing may come from the ciphertext: no other span on this port.
			if n := len(spansWhere(sinks.traces, func(s capturedSpan) bool {
				return s.int("server.port") == int64(tc.port) && !strings.Contains(s.str("url.full")+s.str("url.query"), query) &&
					!strings.Contains(s.str("url.full")+s.str("url.query"), "case=tls-")
			})); n != 0 {
				t.Errorf("%d spans on port %d that no client sent", n, tc.port)
			}
		})
	}
}

// startNginx runs nginx with TLS (and HTTP/2 by ALPN if http2) on a free
// loopback port, answering 200 "hello" to everything, and returns the port.
func startNginx(t testing.TB, cert, key string, http2 bool) int {
	t.Helper()
	if _, err := exec.LookPath("nginx"); err != nil {
		t.Fatal("nginx is needed (apt-get install nginx)")
	}
	port := freePort(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "nginx.conf")
	err := os.WriteFile(conf, []byte(fmt.Sprintf(`user root;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events {}
http {
	access_log off;
	client_body_temp_path %[1]s;
	server {
		listen 127.0.0.1:%[2]d ssl%[5]s;
		ssl_certificate %[3]s;
		ssl_certificate_key %[4]s;
		location / { return 200 "hello"; }
	}
}
`, dir, port, cert, key, map[bool]string{true: " http2"}[http2])), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("nginx", "-c", conf, "-e", filepath.Join(dir, "error.log"), "-g", "daemon off;")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	waitListening(t, port)
	return port
}
