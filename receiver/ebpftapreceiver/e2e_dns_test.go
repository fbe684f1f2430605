package ebpftapreceiver

import (
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/ebpftap/ebpftap/internal/e2e"
)

// TestE2EDNSNames: a python3 client resolves made-up names through a DNS
// server on loopback, then connects to the addresses answered. Its Redis
// connection's metrics carry the name as server.address, with the
// protocol; its HTTP/1.0 request with no Host header has the name as the
// span's server.address, and one with a Host header keeps the header's.
func TestE2EDNSNames(t *testing.T) {
	_, sinks := startE2EReceiver(t, nil)
	redis := e2e.PongServer(t, "127.0.0.9")
	web := httpServerOn(t, "127.0.0.11")
	dns := e2e.StartDNSServer(t, map[string]netip.Addr{
		"cache.ebpftap.test": redis.Addr(),
		"web.ebpftap.test":   web.Addr(),
	}, 60)
	resolveAndSend := func(name, mode string, port uint16, payload string) {
		run(t, "python3", "-c", e2e.PythonResolveAndSend, dns.String(), name, mode,
			strconv.Itoa(int(port)), hex.EncodeToString([]byte(payload)))
	}
	resolveAndSend("cache.ebpftap.test", "connect", redis.Port(), "*1\r\n$4\r\nPING\r\n")
	resolveAndSend("web.ebpftap.test", "sendto", web.Port(), "GET /by-ip HTTP/1.0\r\n\r\n")
	resolveAndSend("web.ebpftap.test", "connect", web.Port(), "GET /with-host HTTP/1.0\r\nHost: explicit.example\r\n\r\n")

	// The Redis connection, from the closed count's attributes.
	want := map[string]string{"server.address": "cache.ebpftap.test", "network.protocol.name": "redis", "ebpftap.connection.role": "client"}
	var got map[string]any
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline) && got == nil; time.Sleep(100 * time.Millisecond) {
		got = closedPointTo(sinks.metrics.AllMetrics(), "python3", redis)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("the client's ebpftap.connection.closed to %v: %s = %v, want %q (attributes %v)", redis, k, got[k], v, got)
		}
	}

	spans := waitSpans(t, sinks.traces, 2, func(s capturedSpan) bool {
		return strings.HasPrefix(s.exe, "python3") && s.kind == ptrace.SpanKindClient && s.int("network.peer.port") == int64(web.Port())
	})
	byTarget := map[string]capturedSpan{}
	for _, s := range spans {
		u := s.str("url.full")
		byTarget[u[strings.LastIndexByte(u, '/'):]] = s
	}
	if s := byTarget["/by-ip"]; s.str("server.address") != "web.ebpftap.test" ||
		s.str("url.full") != "http://web.ebpftap.test:"+strconv.Itoa(int(web.Port()))+"/by-ip" {
		t.Errorf("the request with no Host: server.address %q, url.full %q; want the DNS name", s.str("server.address"), s.str("url.full"))
	}
	if s := byTarget["/with-host"]; s.str("server.address") != "explicit.example" || s.int("server.port") != 80 {
		t.Errorf("the request with a Host header: server.address %q, port %d; want the header's explicit.example, 80", s.str("server.address"), s.int("server.port"))
	}
}

// closedPointTo returns the attributes of the newest ebpftap.connection.closed
// point towards server of a process whose executable's name starts with exe
// (python3 runs as python3.11 through some launchers), or nil.
func closedPointTo(all []pmetric.Metrics, exe string, server netip.AddrPort) map[string]any {
	var found map[string]any
	for _, md := range all {
		eachSumPoint(md, "ebpftap.connection.closed", func(res pcommon.Resource, dp pmetric.NumberDataPoint) {
			name, _ := res.Attributes().Get("process.executable.name")
			peer, _ := dp.Attributes().Get("network.peer.address")
			port, _ := dp.Attributes().Get("server.port")
			if strings.HasPrefix(name.Str(), exe) && peer.Str() == server.Addr().String() && port.Int() == int64(server.Port()) {
				found = dp.Attributes().AsRaw()
			}
		})
	}
	return found
}

// httpServerOn serves "hello" over HTTP on addr, a loopback address, port
// chosen, until t ends.
func httpServerOn(t *testing.T, addr string) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp4", net.JoinHostPort(addr, "0"))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") })}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return netip.MustParseAddrPort(ln.Addr().String())
}
