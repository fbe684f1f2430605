package ebpftapreceiver

import (
	"cmp"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/ebpftap/ebpftap/internal/e2e"
)

// TestE2ETLS runs HTTPS clients and servers on OpenSSL (curl, python3's
// ssl, node, nginx), GnuTLS (wget) and Go's crypto/tls (also stripped with
// -s -w): every end must give its span from the plaintext, with the library
// that served it, url.scheme https and the negotiated TLS version, and the
// ciphertext must never turn into a transaction.
func TestE2ETLS(t *testing.T) {
	_, sinks := startE2EReceiver(t, nil)
	cert, key := e2e.SelfSignedCert(t)
	goTLS := startServer(t, e2eProgram(t, "goserver"), "-cert", cert, "-key", key)
	goStripped := startServer(t, e2eProgram(t, "goserver-stripped"), "-cert", cert, "-key", key)
	if f, err := elf.Open(e2eProgram(t, "goserver-stripped")); err != nil || f.Section(".symtab") != nil {
		t.Fatalf("goserver-stripped has a symbol table (%v): the test would not cover stripped binaries", err)
	}
	pyTLS := startServer(t, "python3", "-u", "-c", e2e.PythonTLSServer, cert, key)
	nginx := startNginx(t, cert, key, false)
	nginxH2 := startNginx(t, cert, key, true)

	nodeGet := []string{"node", "-e", `const u = new URL(process.argv[1]);
require("https").get({host: u.hostname, port: u.port, path: u.pathname + u.search, rejectUnauthorized: false, agent: false,
  headers: {"user-agent": "node-e2e"}},
  r => { r.resume(); r.on("end", () => process.exit(r.statusCode === 200 ? 0 : 1)); }).on("error", e => { console.error(e); process.exit(1); });`}
	pyGet := []string{"python3", "-c", `import ssl, sys, urllib.request
urllib.request.urlopen(sys.argv[1], context=ssl._create_unverified_context()).read()`}
	curl := []string{"curl", "-sfk", "--http1.1"}
	curlH2 := []string{"curl", "-sfk", "--http2"}
	wget := []string{"wget", "-q", "-O", "/dev/null", "--no-check-certificate"}
	// A Go program is probed once it was inspected after its exec: a few
	// milliseconds, in which this client would be done (see the README).
	goClient := []string{e2eProgram(t, "goclient"), "-delay=200ms"}
	goClientH2 := slices.Concat(goClient, []string{"-h2"})
	stripped := []string{e2eProgram(t, "goclient-stripped"), "-delay=200ms"}
	strippedH2 := slices.Concat(stripped, []string{"-h2"})

	type end struct {
		exe       string // executable name prefix
		library   string // ebpftap.tls.library
		userAgent string // prefix of the User-Agent the client sent
	}
	var (
		curlEnd     = end{"curl", "openssl", "curl/"}
		pythonEnd   = end{"python3", "openssl", "Python-urllib/"}
		nodeEnd     = end{"node", "openssl", "node-e2e"}
		wgetEnd     = end{"wget", "gnutls", "Wget/"}
		goEnd       = end{"goclient", "go", "Go-http-client/"}
		strippedEnd = end{"goclient-stripped", "go", "Go-http-client/"}
		pyServer    = end{exe: "python3", library: "openssl"}
		nginxServer = end{exe: "nginx", library: "openssl"}
		goServer    = end{exe: "goserver", library: "go"}
		strippedSrv = end{exe: "goserver-stripped", library: "go"}
	)
	for _, tc := range []struct {
		name      string
		client    []string
		clientEnd end
		serverEnd end
		port      int
		path      string
		version   string // TLS version negotiated
		proto     string // HTTP version; default 1.1
	}{
		{"curl-python", curl, curlEnd, pyServer, pyTLS, "/hello", "1.3", ""},
		// Debian's nginx 1.22 enables TLS 1.3 only when configured to.
		{"curl-nginx", curl, curlEnd, nginxServer, nginx, "/hello", "1.2", ""},
		// HTTP/2 chosen by ALPN: the plaintext is HTTP/2 frames.
		{"curl-nginx-h2", curlH2, curlEnd, nginxServer, nginxH2, "/hello", "1.2", "2"},
		{"curl-go", curl, curlEnd, goServer, goTLS, "/ok", "1.3", ""},
		{"curl-go-h2", curlH2, curlEnd, goServer, goTLS, "/ok", "1.3", "2"},
		{"urllib-go", pyGet, pythonEnd, goServer, goTLS, "/ok", "1.3", ""},
		{"node-go", nodeGet, nodeEnd, goServer, goTLS, "/ok", "1.3", ""},
		{"node-python", nodeGet, nodeEnd, pyServer, pyTLS, "/hello", "1.3", ""},
		{"wget-python", wget, wgetEnd, pyServer, pyTLS, "/hello", "1.3", ""},
		{"go-go", goClient, goEnd, goServer, goTLS, "/ok", "1.3", ""},
		{"go-go-h2", goClientH2, goEnd, goServer, goTLS, "/ok", "1.3", "2"},
		{"stripped-go-go", stripped, strippedEnd, strippedSrv, goStripped, "/ok", "1.3", ""},
		{"stripped-go-go-h2", strippedH2, strippedEnd, strippedSrv, goStripped, "/ok", "1.3", "2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			query := "case=tls-" + tc.name
			url := fmt.Sprintf("https://127.0.0.1:%d%s?%s", tc.port, tc.path, query)
			run(t, tc.client[0], append(tc.client[1:], url)...)

			spans := waitSpans(t, sinks.traces, 2, func(s capturedSpan) bool {
				return strings.HasSuffix(s.str("url.full"), "?"+query) || s.str("url.query") == query
			})
			clients, servers := byKind(spans)
			if len(clients) != 1 || len(servers) != 1 {
				t.Fatalf("got %d client and %d server spans, want one of each", len(clients), len(servers))
			}
			for _, s := range spans {
				e, isClient := tc.serverEnd, s.kind == ptrace.SpanKindClient
				if isClient {
					e = tc.clientEnd
				}
				if !strings.HasPrefix(s.exe, e.exe) {
					t.Errorf("%v span from %q, want %q", s.kind, s.exe, e.exe)
				}
				checkProcess(t, s, isClient, url)
				checkAttrs(t, s, map[string]any{
					"http.request.method":       "GET",
					"http.response.status_code": int64(200),
					"network.protocol.version":  cmp.Or(tc.proto, "1.1"),
					"tls.protocol.version":      tc.version,
					"ebpftap.tls.library":       e.library,
				})
				if ua := s.str("user_agent.original"); !strings.HasPrefix(ua, tc.clientEnd.userAgent) {
					t.Errorf("%v span: user_agent.original %q, want %q...", s.kind, ua, tc.clientEnd.userAgent)
				}
				if isClient {
					checkAttrs(t, s, map[string]any{"url.full": url, "server.port": int64(tc.port)})
				} else {
					checkAttrs(t, s, map[string]any{"url.scheme": "https", "url.path": tc.path, "url.query": query})
				}
			}
			// Nothing may come from the ciphertext: no other span on this port.
			if n := len(spansWhere(sinks.traces, func(s capturedSpan) bool {
				return s.int("server.port") == int64(tc.port) && !strings.Contains(s.str("url.full")+s.str("url.query"), "case=tls-")
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
	err := os.WriteFile(conf, []byte(e2e.NginxTLSConfig(dir, port, cert, key, http2)), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("nginx", "-c", conf, "-e", filepath.Join(dir, "error.log"), "-g", "daemon off;")
	cmd.Stderr = os.Stderr
	// Its own process group, killed whole: a worker outlives a killed
	// master, and would hold the test's files and pipes open.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	waitListening(t, port)
	return port
}
