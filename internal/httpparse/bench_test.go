package httpparse

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// A typical API exchange: a ~400-byte request and a response with a 1 KiB
// body.
var (
	benchRequest = []byte("GET /api/v1/orders/8d2f3c1e-7a4b-4f7e-9a63-0c2b5e9d1f44/items?page=2&limit=50 HTTP/1.1\r\n" +
		"Host: orders.internal.example.com\r\n" +
		"User-Agent: Go-http-client/1.1\r\n" +
		"Accept: application/json\r\n" +
		"Accept-Encoding: gzip\r\n" +
		"Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzdmMifQ.c2lnbmF0dXJl\r\n" +
		"traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n" +
		"X-Request-Id: 5f0c9a2e-3b1d-4c8e-8f6a-2d7e1b9c4a30\r\n" +
		"\r\n")
	benchBody     = strings.Repeat(`{"id":12345,"sku":"AB-1234","qty":2},`, 28)[:1024]
	benchResponse = []byte(fmt.Sprintf("HTTP/1.1 200 OK\r\n"+
		"Content-Type: application/json\r\n"+
		"Date: Tue, 24 Nov 2026 00:00:00 GMT\r\n"+
		"Content-Length: %d\r\n"+
		"\r\n%s", len(benchBody), benchBody))
)

// BenchmarkH1Transaction parses one exchange per op on a keep-alive
// connection, each message in one piece.
func BenchmarkH1Transaction(b *testing.B) {
	benchmarkExchange(b, [][]byte{benchRequest}, [][]byte{benchResponse})
}

// BenchmarkH1TransactionSplit cuts both header blocks, so they take the
// accumulating path, and the body in three.
func BenchmarkH1TransactionSplit(b *testing.B) {
	cut := len(benchResponse) - len(benchBody) - 20
	benchmarkExchange(b,
		[][]byte{benchRequest[:100], benchRequest[100:]},
		[][]byte{benchResponse[:cut], benchResponse[cut : cut+400], benchResponse[cut+400 : cut+800], benchResponse[cut+800:]})
}

// BenchmarkH1TransactionEarly feeds each response before its request, so
// that it takes the holding path (early.go).
func BenchmarkH1TransactionEarly(b *testing.B) {
	benchmarkOrdered(b, [][]byte{benchRequest}, [][]byte{benchResponse}, true)
}

func benchmarkExchange(b *testing.B, request, response [][]byte) {
	benchmarkOrdered(b, request, response, false)
}

func benchmarkOrdered(b *testing.B, request, response [][]byte, responseFirst bool) {
	var n int
	c := NewConn(Config{}, func(tx *Transaction) { n++; tx.Release() }) // as the receiver does
	ts := time.Unix(1, 0)
	b.SetBytes(int64(len(benchRequest) + len(benchResponse)))
	b.ReportAllocs()
	ops := 0
	for b.Loop() {
		if responseFirst {
			for _, p := range response {
				c.Write(ToClient, ts, p, 0)
			}
		}
		for _, p := range request {
			c.Write(ToServer, ts, p, 0)
		}
		if !responseFirst {
			for _, p := range response {
				c.Write(ToClient, ts, p, 0)
			}
		}
		ops++
	}
	if n != ops || c.Err() != nil {
		b.Fatalf("%d transactions for %d ops, err %v", n, ops, c.Err())
	}
}

// BenchmarkH2Streams parses an HTTP/2 connection carrying 100 concurrent
// streams per op: each request is a HEADERS frame of typical API fields
// (some varying per stream, so HPACK literals too), each response HEADERS
// and a 1 KiB DATA frame, each written in its own piece, all requests
// before the responses. It reports the cost per stream.
func BenchmarkH2Streams(b *testing.B) {
	const streams = 100
	cli, srv := newH2Builder(b), newH2Builder(b)
	cli.preface().settings()
	srv.settings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 250})
	pieces := []piece{toServer(cli), toClient(srv)}
	for i := range streams {
		id := uint32(2*i + 1)
		cli.headers(id, true, reqFields("GET", fmt.Sprintf("/api/v1/orders/%d/items?page=2&limit=50", 1000+i),
			"user-agent", "Go-http-client/2.0", "accept", "application/json", "accept-encoding", "gzip",
			"authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzdmMifQ.c2lnbmF0dXJl",
			"traceparent", fmt.Sprintf("00-4bf92f3577b34da6a3ce929d0e0e%04x-00f067aa0ba902b7-01", i),
			"x-request-id", fmt.Sprintf("5f0c9a2e-3b1d-4c8e-8f6a-2d7e1b9c%04x", i))...)
		pieces = append(pieces, toServer(cli))
	}
	for i := range streams {
		id := uint32(2*i + 1)
		srv.headers(id, false, ":status", "200", "content-type", "application/json",
			"date", "Tue, 24 Nov 2026 00:00:00 GMT", "content-length", "1024").data(id, true, benchBody)
		pieces = append(pieces, toClient(srv))
	}
	data := make([][]byte, len(pieces))
	for i, p := range pieces {
		data[i] = []byte(p.data)
	}
	ts := time.Unix(1, 0)
	b.ReportAllocs()
	var n int
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for b.Loop() {
		c := NewConn(Config{MaxBodyBytes: 256}, func(tx *Transaction) { n++; tx.Release() })
		for i, p := range pieces {
			c.Write(p.s, ts, data[i], 0)
		}
		c.Close(ts)
	}
	runtime.ReadMemStats(&after)
	if n != b.N*streams {
		b.Fatalf("%d transactions for %d ops of %d streams", n, b.N, streams)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/stream")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(n), "allocs/stream")
}
