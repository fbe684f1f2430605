package ebpftapreceiver

import (
	"cmp"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

// TestE2EHTTP1 runs real HTTP/1.1 clients against real servers on loopback and
// checks that each exchange gives exactly one CLIENT span from the client's
// process and one SERVER span from the server's, with the right attributes.
func TestE2EHTTP1(t *testing.T) {
	_, sinks := startE2EReceiver(t, nil)

	goServer := startServer(t, e2eProgram(t, "goserver"))
	goServer6 := startServer(t, e2eProgram(t, "goserver"), "-addr", "[::1]:0")
	docs := t.TempDir()
	if err := os.WriteFile(filepath.Join(docs, "hello.txt"), []byte("hello from python\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pyServer := startServer(t, "python3", "-u", "-c", pythonServer, docs)
	goClient := e2eProgram(t, "goclient")

	type exchange struct {
		name       string
		client     []string // command; the URL is appended
		clientExe  string
		serverExe  string
		port       int
		host       string // default 127.0.0.1
		method     string
		path       string
		status     int
		count      int // transactions the client makes
		reqBody    int64
		respBody   int64 // -1: don't check
		clientErr  bool
		serverErr  bool
		sameClient bool // all transactions on one connection
	}
	pyURLLib := []string{"python3", "-c", `import sys, urllib.request
try:
    urllib.request.urlopen(sys.argv[1]).read()
except urllib.error.HTTPError as e:
    if e.code != 404: raise`}
	cases := []exchange{
		{name: "curl-go", client: []string{"curl", "-sf"}, clientExe: "curl", serverExe: "goserver", port: goServer, method: "GET", path: "/ok", status: 200, count: 1, respBody: 2},
		{name: "curl-python", client: []string{"curl", "-sf"}, clientExe: "curl", serverExe: "python3", port: pyServer, method: "GET", path: "/hello.txt", status: 200, count: 1, respBody: 18},
		{name: "urllib-go", client: pyURLLib, clientExe: "python3", serverExe: "goserver", port: goServer, method: "GET", path: "/ok", status: 200, count: 1, respBody: 2},
		{name: "urllib-python-404", client: pyURLLib, clientExe: "python3", serverExe: "python3", port: pyServer, method: "GET", path: "/missing", status: 404, count: 1, respBody: -1, clientErr: true},
		{name: "goclient-python", client: []string{goClient}, clientExe: "goclient", serverExe: "python3", port: pyServer, method: "GET", path: "/hello.txt", status: 200, count: 1, respBody: 18},
		{name: "keepalive", client: []string{goClient, "-n", "10"}, clientExe: "goclient", serverExe: "goserver", port: goServer, method: "GET", path: "/ok", status: 200, count: 10, respBody: 2, sameClient: true},
		{name: "post-1mib", client: []string{goClient, "-post", "1048576"}, clientExe: "goclient", serverExe: "goserver", port: goServer, method: "POST", path: "/upload", status: 200, count: 1, reqBody: 1 << 20, respBody: 7},
		{name: "chunked", client: []string{"curl", "-sf"}, clientExe: "curl", serverExe: "goserver", port: goServer, method: "GET", path: "/chunked", status: 200, count: 1, respBody: 24},
		{name: "not-found", client: []string{"curl", "-s"}, clientExe: "curl", serverExe: "goserver", port: goServer, method: "GET", path: "/status/404", status: 404, count: 1, respBody: 9, clientErr: true},
		{name: "server-error", client: []string{"curl", "-s"}, clientExe: "curl", serverExe: "goserver", port: goServer, method: "GET", path: "/status/500", status: 500, count: 1, respBody: 21, clientErr: true, serverErr: true},
		{name: "ipv6", client: []string{"curl", "-sfg"}, clientExe: "curl", serverExe: "goserver", host: "[::1]", port: goServer6, method: "GET", path: "/ok", status: 200, count: 1, respBody: 2},
		{name: "concurrent-50", client: []string{goClient, "-c", "50"}, clientExe: "goclient", serverExe: "goserver", port: goServer, method: "GET", path: "/ok", status: 200, count: 50, respBody: 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			query := "case=" + tc.name
			host := cmp.Or(tc.host, "127.0.0.1")
			addr := strings.Trim(host, "[]")
			url := fmt.Sprintf("http://%s:%d%s?%s", host, tc.port, tc.path, query)
			run(t, tc.client[0], append(tc.client[1:], url)...)

			spans := waitSpans(t, sinks.traces, 2*tc.count, func(s capturedSpan) bool {
				return strings.HasSuffix(s.str("url.full"), "?"+query) || s.str("url.query") == query
			})
			clients, servers := byKind(spans)
			if len(clients) != tc.count || len(servers) != tc.count {
				t.Fatalf("got %d client and %d server spans, want %d of each", len(clients), len(servers), tc.count)
			}
			clientPorts := map[int64]bool{}
			for _, s := range append(clients, servers...) {
				wantExe, isClient := tc.serverExe, s.kind == ptrace.SpanKindClient
				if isClient {
					wantExe = tc.clientExe
				}
				if !strings.HasPrefix(s.exe, wantExe) {
					t.Errorf("%v span from %q, want %q", s.kind, s.exe, wantExe)
				}
				checkProcess(t, s, isClient, url)
				checkAttrs(t, s, map[string]any{
					"http.request.method":       tc.method,
					"http.response.status_code": int64(tc.status),
					"network.protocol.version":  "1.1",
					"network.peer.address":      addr,
				})
				if s.span.Name() != tc.method {
					t.Errorf("span name %q, want %q", s.span.Name(), tc.method)
				}
				if tc.reqBody > 0 {
					checkAttrs(t, s, map[string]any{"http.request.body.size": tc.reqBody})
				}
				if tc.respBody >= 0 {
					checkAttrs(t, s, map[string]any{"http.response.body.size": tc.respBody})
				}
				wantErr := tc.serverErr || (isClient && tc.clientErr)
				errType := ""
				if wantErr {
					errType = strconv.Itoa(tc.status)
				}
				if got := s.str("error.type"); got != errType {
					t.Errorf("%v span error.type %q, want %q", s.kind, got, errType)
				}
				if got := s.span.Status().Code() == ptrace.StatusCodeError; got != wantErr {
					t.Errorf("%v span status %v, want error=%v", s.kind, s.span.Status().Code(), wantErr)
				}
				if !s.span.EndTimestamp().AsTime().After(s.span.StartTimestamp().AsTime()) {
					t.Errorf("%v span ends at %v, not after its start %v", s.kind, s.span.EndTimestamp(), s.span.StartTimestamp())
				}
				if isClient {
					checkAttrs(t, s, map[string]any{
						"url.full":          url,
						"server.address":    addr,
						"server.port":       int64(tc.port),
						"network.peer.port": int64(tc.port),
					})
				} else {
					checkAttrs(t, s, map[string]any{
						"url.path":       tc.path,
						"url.query":      query,
						"url.scheme":     "http",
						"client.address": addr,
					})
					port := s.int("network.peer.port")
					if port <= 0 || port == int64(tc.port) {
						t.Errorf("server span's peer port %d is not the client's ephemeral port", port)
					}
					clientPorts[port] = true
				}
			}
			checkLogs(t, sinks, spans)
			if tc.name == "keepalive" {
				checkClientMetrics(t, sinks, query, tc.count, tc.port)
			}
			if tc.sameClient && len(clientPorts) != 1 {
				t.Errorf("keep-alive transactions came from %d client ports, want one connection", len(clientPorts))
			}
			if !tc.sameClient && len(clientPorts) != tc.count {
				t.Errorf("%d transactions came from %d client ports, want one connection each", tc.count, len(clientPorts))
			}
		})
	}
}

func checkAttrs(t *testing.T, s capturedSpan, want map[string]any) {
	t.Helper()
	for k, w := range want {
		v, ok := s.span.Attributes().Get(k)
		if !ok {
			t.Errorf("%v span of %s: no %s, want %v", s.kind, s.exe, k, w)
			continue
		}
		if got := v.AsRaw(); got != w {
			t.Errorf("%v span of %s: %s = %v (%T), want %v (%T)", s.kind, s.exe, k, got, got, w, w)
		}
	}
}

// pythonServer is python3's http.server on a free loopback port, printing the
// port first so the test can connect; argv[1] is the directory served.
const pythonServer = `import functools, http.server, sys
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
handler.func.protocol_version = "HTTP/1.1"
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
print(srv.server_address[1], flush=True)
srv.serve_forever()`

// checkLogs checks that each span has exactly one log record (capture level
// summary), with the same trace and span ids.
func checkLogs(t *testing.T, sinks e2eSinks, spans []capturedSpan) {
	t.Helper()
	want := map[string]int{}
	for _, s := range spans {
		want[s.span.TraceID().String()+"/"+s.span.SpanID().String()]++
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := map[string]int{}
		for _, ld := range sinks.logs.AllLogs() {
			for i := 0; i < ld.ResourceLogs().Len(); i++ {
				sl := ld.ResourceLogs().At(i).ScopeLogs()
				for j := 0; j < sl.Len(); j++ {
					lrs := sl.At(j).LogRecords()
					for k := 0; k < lrs.Len(); k++ {
						id := lrs.At(k).TraceID().String() + "/" + lrs.At(k).SpanID().String()
						if want[id] > 0 {
							got[id]++
						}
					}
				}
			}
		}
		if maps.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("log records per span id: got %v, want one per span %v", got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkClientMetrics checks the client duration histogram and connection
// counter of the one client process whose command line holds marker.
func checkClientMetrics(t *testing.T, sinks e2eSinks, marker string, requests, port int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var count uint64
		var opened int64
		ms := sinks.metrics.AllMetrics()
		if len(ms) > 0 {
			last := ms[len(ms)-1] // cumulative: the newest export has it all
			for i := 0; i < last.ResourceMetrics().Len(); i++ {
				rm := last.ResourceMetrics().At(i)
				cmd, _ := rm.Resource().Attributes().Get("process.command_line")
				if !strings.Contains(cmd.Str(), marker) {
					continue
				}
				sm := rm.ScopeMetrics()
				for j := 0; j < sm.Len(); j++ {
					for k := 0; k < sm.At(j).Metrics().Len(); k++ {
						m := sm.At(j).Metrics().At(k)
						switch m.Name() {
						case "http.client.request.duration":
							dps := m.Histogram().DataPoints()
							for d := 0; d < dps.Len(); d++ {
								p, _ := dps.At(d).Attributes().Get("server.port")
								if p.Int() == int64(port) {
									count += dps.At(d).Count()
								}
							}
						case "ebpftap.connection.opened":
							dps := m.Sum().DataPoints()
							for d := 0; d < dps.Len(); d++ {
								opened += dps.At(d).IntValue()
							}
						}
					}
				}
			}
		}
		if count == uint64(requests) && opened == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("client metrics of %q: %d requests in http.client.request.duration, %d connections opened; want %d and 1", marker, count, opened, requests)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkProcess checks the resource of a span: the process that sent it.
func checkProcess(t *testing.T, s capturedSpan, isClient bool, url string) {
	t.Helper()
	attrs := s.res.Attributes().AsRaw()
	host, _ := os.Hostname()
	if pid, _ := attrs["process.pid"].(int64); pid <= 1 {
		t.Errorf("%v span: process.pid %v", s.kind, attrs["process.pid"])
	}
	if ppid, _ := attrs["process.parent_pid"].(int64); ppid < 1 {
		t.Errorf("%v span: process.parent_pid %v", s.kind, attrs["process.parent_pid"])
	}
	if attrs["process.owner"] != "root" || attrs["host.name"] != host || attrs["service.name"] != s.exe {
		t.Errorf("%v span: owner %v, host %v, service %v; want root, %s, %s", s.kind,
			attrs["process.owner"], attrs["host.name"], attrs["service.name"], host, s.exe)
	}
	if path, _ := attrs["process.executable.path"].(string); !strings.HasPrefix(path, "/") || filepath.Base(path) != s.exe {
		t.Errorf("%v span: process.executable.path %q for executable %q", s.kind, path, s.exe)
	}
	if cmd, _ := attrs["process.command_line"].(string); isClient && !strings.Contains(cmd, url) {
		t.Errorf("client span: process.command_line %q does not hold the URL %s", cmd, url)
	}
}
