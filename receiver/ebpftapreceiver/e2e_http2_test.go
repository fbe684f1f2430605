package ebpftapreceiver

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

// TestE2EHTTP2 runs real HTTP/2 clients (curl with prior knowledge, Go's
// client over h2c) against a real Go h2c server on loopback and checks that
// each stream gives exactly one CLIENT span from the client's process and
// one SERVER span from the server's, with the right attributes.
func TestE2EHTTP2(t *testing.T) {
	r, sinks := startE2EReceiver(t, nil)
	port := startServer(t, e2eProgram(t, "h2cserver"))
	goClient := e2eProgram(t, "goclient")
	curl := []string{"curl", "-s", "--http2-prior-knowledge"}

	type exchange struct {
		name       string
		client     []string // command; the URL is appended
		clientExe  string
		method     string
		path       string
		status     int
		count      int // streams the client makes that the test matches
		reqBody    int64
		respBody   int64
		clientErr  bool
		sameClient bool // all on one connection
		warmUp     bool // the client made one more request first, on the same connection
	}
	cases := []exchange{
		{name: "curl-get", client: curl, clientExe: "curl", method: "GET", path: "/ok", status: 200, count: 1, respBody: 2},
		{name: "curl-post", client: append(curl, "-d", "name=ebpftap&kind=receiver"), clientExe: "curl", method: "POST", path: "/upload", status: 200, count: 1, reqBody: 26, respBody: 2},
		{name: "curl-404", client: curl, clientExe: "curl", method: "GET", path: "/status/404", status: 404, count: 1, respBody: 9, clientErr: true},
		{name: "curl-trailer", client: curl, clientExe: "curl", method: "GET", path: "/trailer", status: 200, count: 1, respBody: 4},
		{name: "goclient-get", client: []string{goClient, "-h2c"}, clientExe: "goclient", method: "GET", path: "/ok", status: 200, count: 1, respBody: 2},
		{name: "goclient-post-1mib", client: []string{goClient, "-h2c", "-post", "1048576"}, clientExe: "goclient", method: "POST", path: "/upload", status: 200, count: 1, reqBody: 1 << 20, respBody: 7},
		{name: "goclient-sequential", client: []string{goClient, "-h2c", "-n", "5"}, clientExe: "goclient", method: "GET", path: "/ok", status: 200, count: 5, respBody: 2, sameClient: true},
		{name: "goclient-10-streams", client: []string{goClient, "-h2c", "-streams", "10"}, clientExe: "goclient", method: "GET", path: "/ok", status: 200, count: 10, respBody: 2, sameClient: true, warmUp: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			query := "case=h2-" + tc.name
			url := fmt.Sprintf("http://127.0.0.1:%d%s?%s", port, tc.path, query)
			run(t, tc.client[0], append(tc.client[1:], url)...)

			spans := waitSpans(t, sinks.traces, 2*tc.count, func(s capturedSpan) bool {
				return strings.HasSuffix(s.str("url.full"), "?"+query) || s.str("url.query") == query
			})
			clients, servers := byKind(spans)
			if len(clients) != tc.count || len(servers) != tc.count {
				t.Fatalf("got %d client and %d server spans, want %d of each", len(clients), len(servers), tc.count)
			}
			clientPorts := map[int64]bool{}
			for _, s := range spans {
				wantExe, isClient := "h2cserver", s.kind == ptrace.SpanKindClient
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
					"network.protocol.version":  "2",
					"network.peer.address":      "127.0.0.1",
					"http.response.body.size":   tc.respBody,
				})
				if s.span.Name() != tc.method {
					t.Errorf("span name %q, want %q", s.span.Name(), tc.method)
				}
				if tc.reqBody > 0 {
					checkAttrs(t, s, map[string]any{"http.request.body.size": tc.reqBody})
				}
				for _, k := range []string{"ebpftap.http.request.incomplete", "ebpftap.http.response.incomplete"} {
					if _, ok := s.span.Attributes().Get(k); ok {
						t.Errorf("%v span of %s: %s set", s.kind, s.exe, k)
					}
				}
				wantErr := isClient && tc.clientErr
				errType := ""
				if wantErr {
					errType = strconv.Itoa(tc.status)
				}
				if got := s.str("error.type"); got != errType {
					t.Errorf("%v span error.type %q, want %q", s.kind, got, errType)
				}
				if isClient {
					// :authority names the server, as Host would.
					checkAttrs(t, s, map[string]any{
						"url.full":          url,
						"server.address":    "127.0.0.1",
						"server.port":       int64(port),
						"network.peer.port": int64(port),
					})
				} else {
					checkAttrs(t, s, map[string]any{
						"url.path":       tc.path,
						"url.query":      query,
						"url.scheme":     "http",
						"client.address": "127.0.0.1",
					})
					peer := s.int("network.peer.port")
					if peer <= 0 || peer == int64(port) {
						t.Errorf("server span's peer port %d is not the client's ephemeral port", peer)
					}
					clientPorts[peer] = true
				}
			}
			checkLogs(t, sinks, spans)
			if tc.warmUp {
				checkClientMetrics(t, sinks, query, tc.count+1, port)
			}
			if tc.sameClient && len(clientPorts) != 1 {
				t.Errorf("%d streams came from %d client ports, want one connection", tc.count, len(clientPorts))
			}
		})
	}
	if n := r.tap.ParserStats().H2BadFrame.Load() + r.tap.ParserStats().H2HpackError.Load() + r.tap.ParserStats().H2FrameTooLarge.Load(); n != 0 {
		t.Errorf("the parser counted %d bad frames, HPACK errors or frames too large in real HTTP/2 traffic", n)
	}
}
