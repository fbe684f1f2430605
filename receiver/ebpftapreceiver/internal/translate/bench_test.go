package translate

import (
	"net/netip"
	"testing"

	"github.com/ebpftap/ebpftap/internal/capture"
	"github.com/ebpftap/ebpftap/internal/httpparse"
	"github.com/ebpftap/ebpftap/internal/tap"
)

// benchExchanges are one request seen on both ends, client first, as a
// typical service call without a trace context: a request with the fields
// of an HTTP client library and a proxy, a JSON response.
func benchExchanges() [2]tap.Exchange {
	req := txReq("GET", "/api/v1/orders/42/items?page=2&limit=50", 0, 1, txHeaders(
		"Host", "orders.internal.example.com",
		"User-Agent", "Go-http-client/1.1",
		"Accept", "application/json",
		"Accept-Encoding", "gzip",
		"Authorization", "Bearer eyJhbGciOiJIUzI1NiJ9",
		"X-Request-Id", "5f0c9a2e-3b1d-4c8e-8f6a-2d7e1b9c4a30",
		"X-Forwarded-For", "192.0.2.10",
	))
	resp := txResp(200, 2, 3, txHeaders(
		"Content-Type", "application/json",
		"Date", "Tue, 24 Nov 2026 00:00:00 GMT",
		"Content-Length", "1024",
	), 1024)
	tx := &httpparse.Transaction{Request: req, Response: resp}
	// The connections' facts as a Tap makes them, which format some facts
	// once per connection (tap.Conn.RemoteAddr).
	var opened openedConns
	tp := tap.New(tap.Config{Filter: tap.Filter{Direction: tap.All}}, &opened)
	for _, c := range []*capture.Conn{
		{ID: 1, Process: procCurl, Role: capture.RoleClient,
			Local: netip.MustParseAddrPort("10.0.0.5:51000"), Remote: netip.MustParseAddrPort("10.0.0.9:8080")},
		{ID: 2, Process: procNginx, Role: capture.RoleServer,
			Local: netip.MustParseAddrPort("10.0.0.9:8080"), Remote: netip.MustParseAddrPort("10.0.0.5:51000")},
	} {
		tp.ConnOpened(c)
	}
	return [2]tap.Exchange{
		{Conn: opened[0], Tx: tx, Seq: 1},
		{Conn: opened[1], Tx: tx, Seq: 1, Peer: opened[0].ID},
	}
}

// openedConns is a tap.Sink that keeps the connections opened.
type openedConns []*tap.Conn

func (o *openedConns) ConnOpened(c *tap.Conn)       { *o = append(*o, c) }
func (o *openedConns) Exchange(tap.Exchange)        {}
func (o *openedConns) ConnClosed(*tap.Conn, tap.IO) {}

// BenchmarkDescribe measures the view of both ends of a request, which the
// receiver makes on the engine's goroutine as each exchange finishes.
func BenchmarkDescribe(b *testing.B) {
	tr := mustTranslator(b, translateSettings(LevelSummary), newRandomIDs())
	xs := benchExchanges()
	var v View
	b.ReportAllocs()
	for b.Loop() {
		for _, x := range xs {
			tr.Describe(x, &v)
		}
	}
}

// BenchmarkAppend measures the span and log record of both ends of a
// request, in batches of 512 requests as the flusher makes them.
func BenchmarkAppend(b *testing.B) {
	for _, level := range []struct {
		name  string
		level Level
	}{{"none", LevelNone}, {"summary", LevelSummary}, {"headers", LevelHeaders}} {
		b.Run(level.name, func(b *testing.B) {
			tr := mustTranslator(b, translateSettings(level.level), newRandomIDs())
			xs := benchExchanges()
			var vs [2]View
			for i, x := range xs {
				tr.Describe(x, &vs[i])
			}
			batch := NewBatch()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if i++; i%512 == 0 {
					batch = NewBatch()
				}
				for j, x := range xs {
					tr.Append(batch, x, &vs[j])
				}
			}
		})
	}
}
