package ebpftapreceiver

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// TestE2EGRPC runs a real grpc-go client against a real grpc-go server
// (the bundled health service, plaintext HTTP/2) on loopback and checks that
// each RPC gives exactly one CLIENT span from the client's process and one
// SERVER span from the server's, described by the RPC conventions.
func TestE2EGRPC(t *testing.T) {
	_, sinks := startE2EReceiver(t, nil)
	port := startServer(t, e2eProgram(t, "grpcserver"))
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	run(t, e2eProgram(t, "grpcclient"), addr)

	type rpc struct {
		method, status string
		clientErr      bool // error.type is the status on the client span
	}
	// grpcclient's calls, in order; no server span is an error, as
	// NOT_FOUND and CANCELLED describe the client's request.
	want := []rpc{
		{method: "grpc.health.v1.Health/Check", status: "OK"},
		{method: "grpc.health.v1.Health/Check", status: "NOT_FOUND", clientErr: true},
		{method: "grpc.health.v1.Health/Watch", status: "CANCELLED", clientErr: true},
	}
	spans := waitSpans(t, sinks.traces, 2*len(want), func(s capturedSpan) bool {
		return s.str("rpc.system.name") == "grpc" && s.int("server.port") == int64(port)
	})
	clients, servers := byKind(spans)
	if len(clients) != len(want) || len(servers) != len(want) {
		t.Fatalf("got %d client and %d server spans, want %d of each", len(clients), len(servers), len(want))
	}
	byStart := func(a, b capturedSpan) int { return int(a.span.StartTimestamp()) - int(b.span.StartTimestamp()) }
	slices.SortFunc(clients, byStart)
	slices.SortFunc(servers, byStart)
	connIDs := map[ptrace.SpanKind]map[int64]bool{ptrace.SpanKindClient: {}, ptrace.SpanKindServer: {}}
	for i, w := range want {
		for _, s := range []capturedSpan{clients[i], servers[i]} {
			isClient := s.kind == ptrace.SpanKindClient
			wantExe := "grpcserver"
			if isClient {
				wantExe = "grpcclient"
			}
			if s.exe != wantExe {
				t.Errorf("%v span of %s from %q, want %q", s.kind, w.method, s.exe, wantExe)
			}
			checkProcess(t, s, isClient, addr)
			checkAttrs(t, s, map[string]any{
				"rpc.system.name":           "grpc",
				"rpc.method":                w.method,
				"rpc.response.status_code":  w.status,
				"network.protocol.version":  "2",
				"http.request.method":       "POST",
				"http.response.status_code": int64(200),
				"server.address":            "127.0.0.1",
				"server.port":               int64(port),
			})
			if s.span.Name() != w.method {
				t.Errorf("%v span name %q, want %q", s.kind, s.span.Name(), w.method)
			}
			wantErr := isClient && w.clientErr
			errType, code := "", ptrace.StatusCodeUnset
			if wantErr {
				errType, code = w.status, ptrace.StatusCodeError
			}
			if got := s.str("error.type"); got != errType {
				t.Errorf("%v span of %s (%s): error.type %q, want %q", s.kind, w.method, w.status, got, errType)
			}
			if got := s.span.Status().Code(); got != code {
				t.Errorf("%v span of %s (%s): status %v, want %v", s.kind, w.method, w.status, got, code)
			}
			if _, ok := s.span.Attributes().Get("rpc.method_original"); ok {
				t.Errorf("%v span of %s: rpc.method_original set", s.kind, w.method)
			}
			if !isClient && !strings.HasPrefix(s.str("user_agent.original"), "grpc-go/") {
				t.Errorf("server span user_agent.original %q, want grpc-go/...", s.str("user_agent.original"))
			}
			connIDs[s.kind][s.int("ebpftap.connection.id")] = true
		}
	}
	for kind, ids := range connIDs {
		if len(ids) != 1 {
			t.Errorf("%v spans came from %d connections, want the client's one", kind, len(ids))
		}
	}
	checkLogs(t, sinks, spans)
	checkCallDurations(t, sinks, port, len(want))
}

// checkCallDurations waits until each end's RPC call duration histogram
// holds the calls to port, and checks no HTTP request duration counted them.
func checkCallDurations(t *testing.T, sinks e2eSinks, port, calls int) {
	t.Helper()
	counts := func() map[string]uint64 {
		n := map[string]uint64{}
		for _, md := range sinks.metrics.AllMetrics() {
			// Cumulative: the last emit of each metric holds every call.
			seen := map[string]uint64{}
			for _, rm := range md.ResourceMetrics().All() {
				for _, sm := range rm.ScopeMetrics().All() {
					for _, m := range sm.Metrics().All() {
						if m.Type() != pmetric.MetricTypeHistogram {
							continue
						}
						for _, dp := range m.Histogram().DataPoints().All() {
							if p, ok := dp.Attributes().Get("server.port"); ok && p.Int() == int64(port) {
								seen[m.Name()] += dp.Count()
							}
						}
					}
				}
			}
			for name, c := range seen {
				n[name] = max(n[name], c)
			}
		}
		return n
	}
	deadline := time.Now().Add(10 * time.Second)
	got := counts()
	for time.Now().Before(deadline) && (got["rpc.client.call.duration"] < uint64(calls) || got["rpc.server.call.duration"] < uint64(calls)) {
		time.Sleep(100 * time.Millisecond)
		got = counts()
	}
	if got["rpc.client.call.duration"] != uint64(calls) || got["rpc.server.call.duration"] != uint64(calls) {
		t.Errorf("calls counted by metric %v, want %d in each RPC call duration", got, calls)
	}
	if got["http.client.request.duration"]+got["http.server.request.duration"] != 0 {
		t.Errorf("gRPC calls counted as HTTP requests: %v", got)
	}
}
