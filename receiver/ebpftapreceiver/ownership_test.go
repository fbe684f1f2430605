package ebpftapreceiver

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/ebpftap/ebpftap/internal/capture"
	"github.com/ebpftap/ebpftap/receiver/ebpftapreceiver/internal/metadata"
)

// TestExchangesOwnTheirConnFacts plays the engine's goroutine, which keeps
// writing a connection's TLS facts between its calls to the tap, while the
// flusher translates the exchanges already finished on that connection. The
// race detector fails it if an exchange shares memory with the engine's
// connection, and each span must carry the facts of its own moment. The
// flusher emits metrics too, which read the tap's open connections.
func TestExchangesOwnTheirConnFacts(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Direction = DirectionAll
	r := newReceiver(cfg, receivertest.NewNopSettings(metadata.Type))
	traces := new(consumertest.TracesSink)
	r.traces, r.metrics = traces, new(consumertest.MetricsSink)
	if err := r.prepare(); err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	stop, flusherDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(flusherDone)
		for {
			select {
			case <-stop:
				return
			default:
				r.flushTransactions(ctx)
				r.flushMetricsWith(ctx, capture.Stats{}, nil)
			}
		}
	}()

	const exchanges = 300
	versions := []string{"1.2", "1.3"}
	c := &capture.Conn{
		ID: 1, Process: &capture.Process{PID: 7, ExePath: "/usr/bin/client"}, Role: capture.RoleClient,
		Local:  netip.MustParseAddrPort("10.0.0.5:51000"),
		Remote: netip.MustParseAddrPort("10.0.0.9:443"),
	}
	r.tap.ConnOpened(c)
	now := time.Now()
	for i := range exchanges {
		// What the engine does on its goroutine when it reads a hello or a
		// TLS library's event: here, a new version before every exchange.
		c.TLS, c.TLSLibrary, c.TLSVersion = true, "openssl", versions[i%2]
		req := fmt.Sprintf("GET /%d HTTP/1.1\r\nHost: example.test\r\n\r\n", i)
		r.tap.Data(c, capture.Segment{Dir: capture.Send, Time: now, Data: []byte(req), TLS: true})
		r.tap.Data(c, capture.Segment{Dir: capture.Recv, Time: now, Data: []byte("HTTP/1.1 204 No Content\r\n\r\n"), TLS: true})
	}
	close(stop)
	<-flusherDone
	r.flushTransactions(ctx)

	var spans []ptrace.Span
	for _, td := range traces.AllTraces() {
		for i := 0; i < td.ResourceSpans().Len(); i++ {
			ss := td.ResourceSpans().At(i).ScopeSpans().At(0).Spans()
			for j := 0; j < ss.Len(); j++ {
				spans = append(spans, ss.At(j))
			}
		}
	}
	if len(spans) != exchanges {
		t.Fatalf("%d spans, want %d", len(spans), exchanges)
	}
	for i, s := range spans {
		url, _ := s.Attributes().Get("url.full")
		version, _ := s.Attributes().Get("tls.protocol.version")
		if want := fmt.Sprintf("https://example.test/%d", i); url.Str() != want || version.Str() != versions[i%2] {
			t.Fatalf("span %d: %s over TLS %s; want %s over TLS %s", i, url.Str(), version.Str(), want, versions[i%2])
		}
	}
}
