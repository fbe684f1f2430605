package translate

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"flag"
	"fmt"
	"hash/fnv"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/andybalholm/brotli"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/plogtest"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/ptracetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/ebpftap/ebpftap/internal/capture"
	"github.com/ebpftap/ebpftap/internal/httpparse"
	"github.com/ebpftap/ebpftap/internal/tap"
	"github.com/ebpftap/ebpftap/receiver/ebpftapreceiver/internal/metadata"
	"github.com/ebpftap/ebpftap/receiver/ebpftapreceiver/internal/redact"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ instead of comparing with them")

// seqIDs numbers spans 1, 2, 3, ... so golden files do not change.
type seqIDs struct{ n uint64 }

func (s *seqIDs) NewIDs() (pcommon.TraceID, pcommon.SpanID) {
	s.n++
	var tid pcommon.TraceID
	var sid pcommon.SpanID
	tid[0] = 0xaa
	binary.BigEndian.PutUint64(tid[8:], s.n)
	binary.BigEndian.PutUint64(sid[:], s.n)
	return tid, sid
}

// Derived makes the client connection and the number readable in the trace
// id, and hashes the whole key into the span id.
func (s *seqIDs) Derived(k stitchKey) (pcommon.TraceID, pcommon.SpanID) {
	var tid pcommon.TraceID
	var sid pcommon.SpanID
	tid[0] = 0xbb
	binary.BigEndian.PutUint32(tid[4:8], uint32(k.client))
	binary.BigEndian.PutUint64(tid[8:], k.seq)
	h := fnv.New64a()
	fmt.Fprintf(h, "%d %d %s %s", k.client, k.seq, k.method, k.target)
	binary.BigEndian.PutUint64(sid[:], h.Sum64())
	return tid, sid
}

var txBase = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func txAt(ms int) time.Time { return txBase.Add(time.Duration(ms) * time.Millisecond) }

var (
	procCurl = &capture.Process{
		PID: 4242, ParentPID: 4000, StartTime: 123456,
		ExePath: "/usr/bin/curl", ExeName: "curl",
		CommandLine: "curl -s http://api.example.com/v1/items?id=7",
		Args:        []string{"curl", "-s", "http://api.example.com/v1/items?id=7"},
		UID:         1000, Owner: "alice", ServiceName: "curl",
	}
	procNginx = &capture.Process{
		PID: 80, ParentPID: 1, StartTime: 99,
		ExePath: "/usr/sbin/nginx", ExeName: "nginx",
		CommandLine: "nginx: worker process", Args: []string{"nginx: worker process"},
		UID: 33, Owner: "www-data",
		ContainerID: "3f4e5d6c7b8a9f0e1d2c3b4a5f6e7d8c9b0a1f2e3d4c5b6a7f8e9d0c1b2a3f4e",
		ServiceName: "frontend",
	}

	// A client whose command line carries secrets: a bearer header, a
	// password option, credentials and a signed URL.
	procCurlSecrets = &capture.Process{
		PID: 4343, ParentPID: 4000, StartTime: 123457,
		ExePath: "/usr/bin/curl", ExeName: "curl",
		CommandLine: "curl -H Authorization: Bearer tok-cmdline -u admin:pw-cmdline --password pw2-cmdline https://api.example.com/v1/login?sig=sig-cmdline",
		Args: []string{"curl", "-H", "Authorization: Bearer tok-cmdline", "-u", "admin:pw-cmdline",
			"--password", "pw2-cmdline", "https://api.example.com/v1/login?sig=sig-cmdline"},
		UID: 1000, Owner: "alice", ServiceName: "curl",
	}
	connClientSecrets = &tap.Conn{
		ID: 7, Process: procCurlSecrets, Role: capture.RoleClient,
		Local:  netip.MustParseAddrPort("10.0.0.5:51007"),
		Remote: netip.MustParseAddrPort("93.184.216.34:443"),
	}

	connClient = &tap.Conn{
		ID: 1, Process: procCurl, Role: capture.RoleClient,
		Local:  netip.MustParseAddrPort("10.0.0.5:51000"),
		Remote: netip.MustParseAddrPort("93.184.216.34:80"),
	}
	connServer = &tap.Conn{
		ID: 2, Process: procNginx, Role: capture.RoleServer,
		Local:  netip.MustParseAddrPort("10.0.0.5:8080"),
		Remote: netip.MustParseAddrPort("10.0.0.9:40312"),
	}
	// TLS through OpenSSL, seen on both ends; the requests name no host, so
	// the ClientHello's server name stands in.
	connTLSClient = &tap.Conn{
		ID: 7, Process: procCurl, Role: capture.RoleClient,
		Local:  netip.MustParseAddrPort("10.0.0.5:51002"),
		Remote: netip.MustParseAddrPort("93.184.216.34:443"),
		TLS:    true, TLSServerName: "secure.example.com", TLSVersion: "1.3", TLSLibrary: "openssl",
	}
	connTLSServer = &tap.Conn{
		ID: 8, Process: procNginx, Role: capture.RoleServer,
		Local:  netip.MustParseAddrPort("10.0.0.5:8443"),
		Remote: netip.MustParseAddrPort("10.0.0.9:40313"),
		TLS:    true, TLSServerName: "frontend.example.com", TLSVersion: "1.2", TLSLibrary: "openssl",
	}
	// A client connection to an address a DNS answer named.
	connDNSClient = &tap.Conn{
		ID: 11, Process: procCurl, Role: capture.RoleClient,
		Local:      netip.MustParseAddrPort("10.0.0.5:51011"),
		Remote:     netip.MustParseAddrPort("10.0.0.20:8080"),
		ServerName: "orders.internal.example",
	}
	connIPv6 = &tap.Conn{
		ID: 3, Process: procCurl, Role: capture.RoleClient,
		Local:  netip.MustParseAddrPort("[2001:db8::5]:51001"),
		Remote: netip.MustParseAddrPort("[2001:db8::1]:8443"),
	}
	// A dual-stack server socket sees IPv4 peers as IPv4-mapped addresses.
	connMapped = &tap.Conn{
		ID: 4, Process: procNginx, Role: capture.RoleServer,
		Local:  netip.MustParseAddrPort("[::ffff:10.0.0.5]:8080"),
		Remote: netip.MustParseAddrPort("[::ffff:192.0.2.7]:33000"),
	}
)

// txHeaders builds a header list from name, value pairs.
func txHeaders(kv ...string) []httpparse.HeaderField {
	hs := make([]httpparse.HeaderField, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		hs = append(hs, httpparse.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	return hs
}

func txReq(method, target string, startMs, endMs int, headers []httpparse.HeaderField) *httpparse.Request {
	return &httpparse.Request{
		Method: method, Target: target,
		Message: httpparse.Message{Proto: "1.1", Header: headers, Start: txAt(startMs), End: txAt(endMs)},
	}
}

func txResp(status int, startMs, endMs int, headers []httpparse.HeaderField, bodySize int64) *httpparse.Response {
	return &httpparse.Response{
		StatusCode: status,
		Message: httpparse.Message{
			Proto: "1.1", Header: headers, BodySize: bodySize, Start: txAt(startMs), End: txAt(endMs),
		},
	}
}

func withBody[M interface{ msg() *httpparse.Message }](m M, body []byte, size int64, truncated bool) M {
	msg := m.msg()
	msg.Body, msg.BodySize, msg.BodyTruncated = body, size, truncated
	return m
}

type reqMsg struct{ *httpparse.Request }

func (r reqMsg) msg() *httpparse.Message { return &r.Message }

type respMsg struct{ *httpparse.Response }

func (r respMsg) msg() *httpparse.Message { return &r.Message }

type connTx struct {
	conn      *tap.Conn
	tx        *httpparse.Transaction
	seq, peer uint64 // tap.Exchange's Seq and Peer
}

func txOn(c *tap.Conn, rq *httpparse.Request, rs *httpparse.Response) connTx {
	return connTx{conn: c, tx: &httpparse.Transaction{Request: rq, Response: rs}}
}

// Bodies in content codings, made by the real encoders.
var (
	gzipped = func() []byte {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		for i := range 300 {
			fmt.Fprintf(w, "line %d: %d\n", i, i*i*7919%104729)
		}
		w.Close()
		return b.Bytes()
	}()
	brotlied = func() []byte {
		var b bytes.Buffer
		w := brotli.NewWriter(&b)
		w.Write([]byte(`{"total": 42, "items": ["a", "b"]}`))
		w.Close()
		return b.Bytes()
	}()
)

func translateCases() []struct {
	name  string
	level Level
	txs   []connTx
} {
	ua := "curl/8.5.0"
	return []struct {
		name  string
		level Level
		txs   []connTx
	}{
		{
			name: "client_get", level: LevelSummary,
			txs: []connTx{txOn(connClient,
				txReq("GET", "/v1/items?id=7&sig=abc123", 0, 1, txHeaders("Host", "api.example.com", "User-Agent", ua, "Accept", "*/*")),
				txResp(200, 20, 25, txHeaders("Content-Type", "application/json", "Content-Length", "42"), 42))},
		},
		{
			// Two requests on one connection and one served by another
			// process: two resources, the first with both of its spans.
			name: "keep_alive", level: LevelSummary,
			txs: []connTx{
				txOn(connClient, txReq("GET", "/a", 0, 1, txHeaders("Host", "api.example.com")), txResp(200, 10, 11, nil, 0)),
				txOn(connServer, txReq("GET", "/health", 5, 6, txHeaders("Host", "frontend:8080")), txResp(204, 7, 7, nil, 0)),
				txOn(connClient, txReq("GET", "/b", 20, 21, txHeaders("Host", "api.example.com")), txResp(200, 30, 31, nil, 0)),
			},
		},
		{
			name: "client_404", level: LevelSummary,
			txs: []connTx{txOn(connClient,
				txReq("GET", "/missing", 0, 1, txHeaders("Host", "api.example.com:80")),
				txResp(404, 3, 4, txHeaders("Content-Type", "text/plain"), 9))},
		},
		{
			name: "server_404", level: LevelSummary,
			txs: []connTx{txOn(connServer,
				txReq("GET", "/missing?x=1", 0, 1, txHeaders("Host", "frontend.example.com", "User-Agent", ua)),
				txResp(404, 3, 4, nil, 0))},
		},
		{
			name: "server_500", level: LevelSummary,
			txs: []connTx{txOn(connServer,
				txReq("POST", "/orders", 0, 2, txHeaders("Host", "frontend.example.com:8080", "Content-Length", "17")),
				txResp(500, 50, 51, nil, 0))},
		},
		{
			name: "no_response", level: LevelSummary,
			txs: []connTx{func() connTx {
				rq := txReq("PUT", "/v1/items/7", 0, 3, txHeaders("Host", "api.example.com"))
				rq.BodySize, rq.Incomplete = 1024, true
				return txOn(connClient, rq, nil)
			}()},
		},
		{
			// A capture gap inside the response body: the framing held,
			// the size is right, the lost bytes are said.
			name: "body_lost", level: LevelSummary,
			txs: []connTx{func() connTx {
				rp := txResp(200, 4, 5, nil, 4096)
				rp.BodyLost = 1500
				return txOn(connServer, txReq("GET", "/report", 0, 1, txHeaders("Host", "frontend.example.com")), rp)
			}()},
		},
		{
			name: "traceparent", level: LevelSummary,
			txs: []connTx{txOn(connServer,
				txReq("GET", "/checkout", 0, 1, txHeaders(
					"Host", "frontend.example.com",
					"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
					"tracestate", "rojo=00f067aa0ba902b7",
					"tracestate", "congo=t61rcWkgMzE")),
				txResp(200, 4, 5, nil, 0))},
		},
		{
			// Both ends on this host, the request with a B3 context: one
			// trace, the caller's; SERVER child of CLIENT, CLIENT child of
			// the caller's span.
			name: "stitched", level: LevelSummary,
			txs: []connTx{
				{conn: stitchServer, tx: loginTx("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"), seq: 1, peer: stitchClient.ID},
				{conn: stitchClient, tx: loginTx("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"), seq: 1, peer: stitchServer.ID},
				// No context: the two ends make a trace of their own.
				{conn: stitchClient, tx: loginTx(), seq: 2, peer: stitchServer.ID},
				{conn: stitchServer, tx: loginTx(), seq: 2, peer: stitchClient.ID},
			},
		},
		{
			name: "headers_redacted", level: LevelHeaders,
			txs: []connTx{txOn(connClient,
				txReq("POST", "/v1/login", 0, 1, txHeaders(
					"Host", "api.example.com",
					"Authorization", "Bearer secret-token",
					"Cookie", "a=1",
					"cookie", "b=2",
					"X-Api-Key", "k-123",
					"Content-Type", "application/json",
					"X-Request-Id", "r-1")),
				txResp(200, 5, 6, txHeaders("Set-Cookie", "session=s3cr3t", "Content-Type", "application/json"), 2))},
		},
		{
			name: "secrets", level: LevelFull,
			txs: []connTx{secretsTx()},
		},
		{
			name: "full_bodies", level: LevelFull,
			txs: []connTx{
				txOn(connServer,
					withBody(reqMsg{txReq("POST", "/upload", 0, 1, txHeaders("Host", "frontend.example.com", "Content-Type", "application/json; charset=utf-8"))},
						[]byte(`{"name":"café"}`), 16, false).Request,
					withBody(respMsg{txResp(201, 2, 3, txHeaders("Content-Type", "image/png"), 0)},
						[]byte{0x89, 'P', 'N', 'G', 0x0d, 0x0a}, 6, false).Response),
				// The parser kept 5 of 300 bytes, cutting "é" in half.
				txOn(connServer,
					txReq("GET", "/page", 10, 11, txHeaders("Host", "frontend.example.com")),
					withBody(respMsg{txResp(200, 12, 13, txHeaders("Content-Type", "text/html"), 0)},
						[]byte("caf\xc3\xa9")[:4], 300, true).Response),
				// A content coding cut inside its header cannot be undone:
				// the bytes are shown as they came.
				txOn(connServer,
					txReq("GET", "/data", 20, 21, txHeaders("Host", "frontend.example.com")),
					withBody(respMsg{txResp(200, 22, 23, txHeaders("Content-Type", "text/plain", "Content-Encoding", "gzip"), 0)},
						[]byte{0x1f, 0x8b, 0x08}, 3, false).Response),
				// A gzip body cut short, and a brotli one: decoded for the log.
				txOn(connServer,
					txReq("GET", "/report", 30, 31, txHeaders("Host", "frontend.example.com")),
					withBody(respMsg{txResp(200, 32, 33, txHeaders("Content-Type", "text/plain", "Content-Encoding", "gzip"), 0)},
						gzipped[:len(gzipped)/2], int64(len(gzipped)), true).Response),
				txOn(connServer,
					txReq("GET", "/page.html", 40, 41, txHeaders("Host", "frontend.example.com")),
					withBody(respMsg{txResp(200, 42, 43, txHeaders("Content-Type", "application/json", "Content-Encoding", "br"), 0)},
						brotlied, int64(len(brotlied)), false).Response),
			},
		},
		{
			name: "other_method", level: LevelSummary,
			txs: []connTx{
				txOn(connServer, txReq("PROPFIND", "/dav/", 0, 1, txHeaders("Host", "frontend.example.com")), txResp(207, 2, 3, nil, 0)),
				txOn(connServer, txReq("get", "/", 10, 11, txHeaders("Host", "frontend.example.com")), txResp(400, 12, 13, nil, 0)),
			},
		},
		{
			name: "tls", level: LevelSummary,
			txs: []connTx{
				txOn(connTLSClient, func() *httpparse.Request {
					r := txReq("GET", "/account", 0, 1, nil)
					r.Proto = "1.0"
					return r
				}(), txResp(200, 2, 3, nil, 0)),
				txOn(connTLSServer, txReq("GET", "/login?next=%2F", 10, 11, nil), txResp(302, 12, 13, nil, 0)),
			},
		},
		{
			name: "ipv6", level: LevelSummary,
			txs: []connTx{
				// HTTP/1.0 without Host: the URL comes from the peer address.
				txOn(connIPv6, func() *httpparse.Request {
					r := txReq("GET", "/status", 0, 1, nil)
					r.Proto = "1.0"
					return r
				}(), func() *httpparse.Response {
					r := txResp(200, 2, 3, nil, 0)
					r.Proto = "1.0"
					return r
				}()),
				txOn(connMapped, txReq("GET", "/", 10, 11, nil), txResp(200, 12, 13, nil, 0)),
			},
		},
		{
			name: "proxy_and_forwarded", level: LevelSummary,
			txs: []connTx{
				// A client talking to a forward proxy sends absolute-form.
				txOn(connClient,
					txReq("GET", "http://bob:pw@files.example.net:8081/get?Signature=xyz&v=2", 0, 1, txHeaders("Host", "files.example.net:8081")),
					txResp(200, 2, 3, nil, 0)),
				txOn(connServer,
					txReq("GET", "/app?q=1", 10, 11, txHeaders(
						"Host", "backend:8080",
						"Forwarded", `for=192.0.2.60;proto=https;host="shop.example.com", for=10.0.0.1`)),
					txResp(200, 12, 13, nil, 0)),
				txOn(connServer,
					txReq("GET", "/app", 20, 21, txHeaders(
						"Host", "backend:8080",
						"X-Forwarded-Host", "www.example.com:8443, proxy.internal",
						"X-Forwarded-Proto", "HTTPS")),
					txResp(200, 22, 23, nil, 0)),
			},
		},
		{
			// HTTP/2 names the authority and scheme in pseudo-header
			// fields, which win over a Host header.
			name: "http2", level: LevelSummary,
			txs: []connTx{
				txOn(connClient, func() *httpparse.Request {
					r := txReq("GET", "/v1/items?id=7", 0, 1, txHeaders("user-agent", "Go-http-client/2.0"))
					r.Proto, r.Authority, r.Scheme = "2", "api.example.com:8443", "https"
					return r
				}(), func() *httpparse.Response {
					r := txResp(200, 2, 3, txHeaders("content-type", "application/json"), 2)
					r.Proto = "2"
					return r
				}()),
				txOn(connServer, func() *httpparse.Request {
					r := txReq("POST", "/rpc/Get", 10, 11, txHeaders("host", "stale.example.com", "content-type", "application/grpc"))
					r.Proto, r.Authority, r.Scheme = "2", "frontend.example.com", "HTTP"
					return r
				}(), func() *httpparse.Response {
					r := txResp(200, 12, 13, nil, 0)
					r.Proto = "2"
					return r
				}()),
			},
		},
		{
			// gRPC at level full: a unary call that succeeds (messages
			// counted from the bodies), one that fails on the server, and a
			// trailers-only answer, which carries grpc-status in its headers.
			name: "grpc", level: LevelFull,
			txs: []connTx{
				txOn(connClient,
					withBody(reqMsg{grpcReq("/grpc.health.v1.Health/Check", 0, 1)}, grpcFrame(0x0a, 0x00), 7, false).Request,
					withBody(respMsg{grpcResp(nil, 2, 3, "grpc-status", "0")}, grpcFrame(0x08, 0x01), 7, false).Response),
				txOn(connServer,
					withBody(reqMsg{grpcReq("/shop.v1.Orders/Place", 10, 11)}, append(grpcFrame(1, 2, 3), grpcFrame(4)...), 14, false).Request,
					grpcResp(nil, 12, 13, "grpc-status", "13", "grpc-message", "boom")),
				txOn(connClient,
					grpcReq("/grpc.health.v1.Health/Check", 20, 21),
					grpcResp(txHeaders("grpc-status", "5", "grpc-message", "unknown service"), 22, 22)),
			},
		},
		{
			// Which codes are errors depends on the side; a method the
			// server does not know is _OTHER; a stream the client cancelled
			// ends CANCELLED; a code beyond the known ones keeps its number.
			name: "grpc_status", level: LevelSummary,
			txs: []connTx{
				txOn(connServer, grpcReq("/grpc.health.v1.Health/Check", 0, 1),
					grpcResp(txHeaders("grpc-status", "5"), 2, 2)),
				txOn(connServer, grpcReq("/grpc.health.v1.Health/Nope", 10, 11),
					grpcResp(txHeaders("grpc-status", "12"), 12, 12)),
				func() connTx {
					ct := txOn(connClient, grpcReq("/grpc.health.v1.Health/Watch", 20, 21), grpcResp(nil, 22, 30))
					ct.tx.Response.Incomplete = true
					ct.tx.ResetBy, ct.tx.ResetCode = httpparse.ToServer, 0x8
					return ct
				}(),
				txOn(connClient, grpcReq("/x.Y/Z", 40, 41), grpcResp(nil, 42, 43, "grpc-status", "99")),
				txOn(connClient, grpcReq("not-a-path", 50, 51), grpcResp(nil, 52, 53, "grpc-status", "0")),
			},
		},
		{
			// HTTP/1.0 with no Host: the name DNS gave the peer's address
			// is server.address, and url.full's host.
			name: "client_dns_name", level: LevelSummary,
			txs: []connTx{txOn(connDNSClient,
				txReq("GET", "/orders/7", 0, 1, txHeaders("User-Agent", ua)),
				txResp(200, 2, 3, nil, 0))},
		},
		{
			name: "level_none", level: LevelNone,
			txs: []connTx{txOn(connClient, txReq("GET", "/", 0, 1, txHeaders("Host", "api.example.com")), txResp(200, 2, 3, nil, 0))},
		},
	}
}

// grpcReq is a gRPC request over HTTP/2 as grpc-go sends it.
func grpcReq(path string, startMs, endMs int) *httpparse.Request {
	r := txReq("POST", path, startMs, endMs, txHeaders("content-type", "application/grpc", "te", "trailers", "user-agent", "grpc-go/1.83.2"))
	r.Proto, r.Authority, r.Scheme = "2", "api.example.com:50051", "http"
	return r
}

// grpcResp is a gRPC response over HTTP/2 with extra headers (for a
// trailers-only response) and trailer fields given as name, value pairs.
func grpcResp(extra []httpparse.HeaderField, startMs, endMs int, trailer ...string) *httpparse.Response {
	r := txResp(200, startMs, endMs, append(txHeaders("content-type", "application/grpc"), extra...), 0)
	r.Proto, r.Trailer = "2", txHeaders(trailer...)
	return r
}

// grpcFrame frames one uncompressed gRPC message.
func grpcFrame(payload ...byte) []byte {
	return append([]byte{0, 0, 0, 0, byte(len(payload))}, payload...)
}

func translateSettings(level Level) Settings {
	policy, err := redact.New(redact.Config{
		Headers:      []string{"Authorization", "cookie", "set-cookie", "proxy-authorization", "X-API-Key"},
		BodyPatterns: []string{`"password":\s*"([^"]*)"`},
	})
	if err != nil {
		panic(err)
	}
	return Settings{
		Level:        level,
		MaxBodyBytes: 1024,
		Redact:       policy,
		HostName:     "host-1",
		Metrics:      metadata.DefaultMetricsBuilderConfig(),
		Telemetry:    nopTelemetry,
	}
}

// secretsTx is a login whose every secret-bearing place holds a secret
// ending in "-cmdline", "-wire" or "-body": the command line of its process,
// its URL (userinfo and a signed query), its headers and its JSON body.
func secretsTx() connTx {
	return txOn(connClientSecrets,
		withBody(reqMsg{txReq("POST", "https://bob:pw-wire@api.example.com/v1/login?X-Amz-Signature=sig-wire&v=1", 0, 1, txHeaders(
			"Host", "api.example.com",
			"Authorization", "Bearer tok-wire",
			"Cookie", "session=sess-wire",
			"Content-Type", "application/json"))},
			[]byte(`{"user":"bob","password":"pw-body"}`), 35, false).Request,
		withBody(respMsg{txResp(200, 2, 3, txHeaders("Set-Cookie", "session=sess2-wire", "Content-Type", "application/json"), 0)},
			[]byte(`{"token":"t","password": "pw2-body"}`), 36, false).Response)
}

// TestSecretsNeverLeave translates secretsTx at every level and looks for
// each secret in the exported bytes, OTLP/protobuf and OTLP/JSON, of the
// traces, the logs and the metrics.
func TestSecretsNeverLeave(t *testing.T) {
	secrets := []string{"tok-cmdline", "pw-cmdline", "pw2-cmdline", "sig-cmdline",
		"pw-wire", "sig-wire", "tok-wire", "sess-wire", "sess2-wire", "pw-body", "pw2-body"}
	for level := LevelNone; level <= LevelFull; level++ {
		settings := translateSettings(level)
		tr := mustTranslator(t, settings, &seqIDs{})
		b := NewBatch()
		ct := secretsTx()
		appendTx(tr, b, ct.conn, ct.tx)
		require.Equal(t, 1, b.traces.SpanCount())

		agg := NewAggregator(settings, 100, txAt(0))
		var v View
		require.True(t, tr.Describe(tap.Exchange{Conn: ct.conn, Tx: ct.tx}, &v))
		agg.ConnOpened(ct.conn)
		agg.RecordTransaction(ct.conn, &v)
		metrics := agg.Emit(txAt(10))
		require.Positive(t, metrics.DataPointCount())

		var exported [][]byte
		for _, marshal := range []func() ([]byte, error){
			func() ([]byte, error) { return (&ptrace.ProtoMarshaler{}).MarshalTraces(b.traces) },
			func() ([]byte, error) { return (&ptrace.JSONMarshaler{}).MarshalTraces(b.traces) },
			func() ([]byte, error) { return (&plog.ProtoMarshaler{}).MarshalLogs(b.logs) },
			func() ([]byte, error) { return (&plog.JSONMarshaler{}).MarshalLogs(b.logs) },
			func() ([]byte, error) { return (&pmetric.ProtoMarshaler{}).MarshalMetrics(metrics) },
			func() ([]byte, error) { return (&pmetric.JSONMarshaler{}).MarshalMetrics(metrics) },
		} {
			out, err := marshal()
			require.NoError(t, err)
			exported = append(exported, out)
		}
		all := bytes.Join(exported, nil)
		for _, secret := range secrets {
			assert.NotContains(t, string(all), secret, "level %d", level)
		}
		// The redaction left its mark, so the check above looked at the
		// places the secrets would have been.
		assert.Contains(t, string(all), "admin:"+redact.Redacted, "level %d", level)
	}
}

// appendTx translates tx on c into b as the receiver does: described once,
// then appended.
func appendTx(tr *Translator, b *Batch, c *tap.Conn, tx *httpparse.Transaction) {
	appendExchange(tr, b, tap.Exchange{Conn: c, Tx: tx})
}

func appendExchange(tr *Translator, b *Batch, x tap.Exchange) {
	var v View
	if tr.Describe(x, &v) {
		tr.Append(b, x, &v)
	}
}

func TestTranslateTransactions(t *testing.T) {
	for _, tc := range translateCases() {
		t.Run(tc.name, func(t *testing.T) {
			tr := mustTranslator(t, translateSettings(tc.level), &seqIDs{})
			b := NewBatch()
			for _, ct := range tc.txs {
				appendExchange(tr, b, tap.Exchange{Conn: ct.conn, Tx: ct.tx, Seq: ct.seq, Peer: ct.peer})
			}
			assert.Equal(t, len(tc.txs), b.traces.SpanCount())
			if tc.level == LevelNone {
				assert.Zero(t, b.logs.LogRecordCount())
			} else {
				assert.Equal(t, len(tc.txs), b.logs.LogRecordCount())
			}
			checkTracesGolden(t, filepath.Join("testdata", "traces", tc.name+".yaml"), b.traces)
			checkLogsGolden(t, filepath.Join("testdata", "logs", tc.name+".yaml"), b.logs)
			checkLogsMatchSpans(t, b.traces, b.logs)
		})
	}
}

// TestTranslateSkipsSignals: a signal no pipeline takes is not built, and
// the other is what it is with both: the same golden files.
func TestTranslateSkipsSignals(t *testing.T) {
	for _, tc := range translateCases() {
		t.Run(tc.name, func(t *testing.T) {
			for _, skip := range []string{"spans", "logs"} {
				s := translateSettings(tc.level)
				s.SkipSpans, s.SkipLogs = skip == "spans", skip == "logs"
				tr := mustTranslator(t, s, &seqIDs{})
				b := NewBatch()
				for _, ct := range tc.txs {
					appendExchange(tr, b, tap.Exchange{Conn: ct.conn, Tx: ct.tx, Seq: ct.seq, Peer: ct.peer})
				}
				if skip == "spans" {
					assert.Zero(t, b.traces.SpanCount())
					checkLogsGolden(t, filepath.Join("testdata", "logs", tc.name+".yaml"), b.logs)
				} else {
					assert.Zero(t, b.logs.LogRecordCount())
					checkTracesGolden(t, filepath.Join("testdata", "traces", tc.name+".yaml"), b.traces)
				}
			}
		})
	}
}

func checkTracesGolden(t *testing.T, path string, actual ptrace.Traces) {
	t.Helper()
	if *update {
		require.NoError(t, golden.WriteTracesToFile(path, actual))
	}
	expected, err := golden.ReadTraces(path)
	require.NoError(t, err)
	require.NoError(t, ptracetest.CompareTraces(expected, actual))
	// ptracetest leaves out schema URLs and span flags; compare them too.
	for i := 0; i < actual.ResourceSpans().Len(); i++ {
		assert.Equal(t, expected.ResourceSpans().At(i).SchemaUrl(), actual.ResourceSpans().At(i).SchemaUrl())
	}
}

func checkLogsGolden(t *testing.T, path string, actual plog.Logs) {
	t.Helper()
	if *update {
		require.NoError(t, golden.WriteLogsToFile(path, actual))
	}
	expected, err := golden.ReadLogs(path)
	require.NoError(t, err)
	require.NoError(t, plogtest.CompareLogs(expected, actual))
	// plogtest does not compare event names.
	for i := 0; i < actual.ResourceLogs().Len(); i++ {
		er, ar := expected.ResourceLogs().At(i).ScopeLogs().At(0).LogRecords(), actual.ResourceLogs().At(i).ScopeLogs().At(0).LogRecords()
		for j := 0; j < ar.Len(); j++ {
			assert.Equal(t, er.At(j).EventName(), ar.At(j).EventName())
			assert.Equal(t, eventNameTransaction, ar.At(j).EventName())
		}
	}
}

// checkLogsMatchSpans checks every log record repeats its span's ids and
// attributes, which the golden files would only show side by side; the log
// record adds only the kept bodies (and a truncation its decoding made).
func checkLogsMatchSpans(t *testing.T, traces ptrace.Traces, logs plog.Logs) {
	t.Helper()
	spans := map[pcommon.SpanID]ptrace.Span{}
	for i := 0; i < traces.ResourceSpans().Len(); i++ {
		ss := traces.ResourceSpans().At(i).ScopeSpans().At(0).Spans()
		for j := 0; j < ss.Len(); j++ {
			spans[ss.At(j).SpanID()] = ss.At(j)
		}
	}
	for i := 0; i < logs.ResourceLogs().Len(); i++ {
		rl := logs.ResourceLogs().At(i)
		lrs := rl.ScopeLogs().At(0).LogRecords()
		for j := 0; j < lrs.Len(); j++ {
			lr := lrs.At(j)
			span, ok := spans[lr.SpanID()]
			require.True(t, ok, "log record without a span")
			assert.Equal(t, span.TraceID(), lr.TraceID())
			spanAttrs, logAttrs := span.Attributes().AsRaw(), lr.Attributes().AsRaw()
			for _, keys := range []bodyKeys{requestBodyKeys, responseBodyKeys} {
				if _, ok := spanAttrs[keys.truncated]; !ok && logAttrs[keys.truncated] != nil {
					assert.Contains(t, logAttrs, keys.decodedFrom, "a body truncated in the log record only, not decoded")
					delete(logAttrs, keys.truncated)
				}
				delete(logAttrs, keys.body)
				delete(logAttrs, keys.decodedFrom)
			}
			assert.Equal(t, spanAttrs, logAttrs)
			assert.Equal(t, span.StartTimestamp(), lr.Timestamp())
			assert.Equal(t, span.EndTimestamp(), lr.ObservedTimestamp())
		}
	}
}

func TestTranslateResourceRespectsConfig(t *testing.T) {
	cfg := translateSettings(LevelSummary)
	cfg.Metrics.ResourceAttributes.ProcessCommandLine.Enabled = false
	cfg.Metrics.ResourceAttributes.ProcessCommandArgs.Enabled = false
	cfg.Metrics.ResourceAttributes.HostName.Enabled = false
	tr := mustTranslator(t, cfg, &seqIDs{})
	b := NewBatch()
	appendTx(tr, b, connClient, &httpparse.Transaction{Request: txReq("GET", "/", 0, 1, nil)})
	attrs := b.traces.ResourceSpans().At(0).Resource().Attributes().AsRaw()
	assert.Equal(t, map[string]any{
		"process.pid":             int64(4242),
		"process.parent_pid":      int64(4000),
		"process.executable.name": "curl",
		"process.executable.path": "/usr/bin/curl",
		"process.owner":           "alice",
		"service.name":            "curl",
	}, attrs, "disabled attributes left out, empty container.id not sent")
	assert.Equal(t, attrs, b.logs.ResourceLogs().At(0).Resource().Attributes().AsRaw())
}

// TestTranslateOddInputs feeds inputs that must not panic and must not make
// pdata that an OTLP exporter would refuse (invalid UTF-8).
func TestTranslateOddInputs(t *testing.T) {
	tests := []struct {
		name string
		conn *tap.Conn
		tx   *httpparse.Transaction
		want int // spans
	}{
		{name: "nil transaction", conn: connClient, tx: nil},
		{name: "nil request", conn: connClient, tx: &httpparse.Transaction{}},
		{name: "nil conn", conn: nil, tx: &httpparse.Transaction{Request: txReq("GET", "/", 0, 1, nil)}, want: 1},
		{name: "no process", conn: &tap.Conn{Role: capture.RoleServer}, tx: &httpparse.Transaction{Request: txReq("GET", "/", 0, 1, nil)}, want: 1},
		{name: "zero times", conn: connClient, tx: &httpparse.Transaction{Request: &httpparse.Request{Method: "GET", Target: "/"}}, want: 1},
		{
			name: "invalid utf8", conn: connServer, want: 1,
			tx: &httpparse.Transaction{
				Request: txReq("G\xffT", "/\xfe?\xff", 0, 1, txHeaders("Host", "h\xff", "X-\xff", "v\xfe", "Content-Type", "text/plain")),
				Response: withBody(respMsg{txResp(999, 2, 1, txHeaders("Content-Type", "text/plain"), 0)},
					[]byte("ok\xff"), 3, false).Response,
			},
		},
		{name: "empty method and target", conn: connClient, tx: &httpparse.Transaction{Request: txReq("", "", 0, 1, txHeaders("Host", ""))}, want: 1},
		{name: "bad host port", conn: connClient, tx: &httpparse.Transaction{Request: txReq("GET", "/", 0, 1, txHeaders("Host", "[::1"))}, want: 1},
		{name: "connect", conn: connClient, tx: &httpparse.Transaction{Request: txReq("CONNECT", "example.com:443", 0, 1, nil), Response: txResp(200, 1, 2, nil, 0)}, want: 1},
		{name: "asterisk", conn: connServer, tx: &httpparse.Transaction{Request: txReq("OPTIONS", "*", 0, 1, txHeaders("Host", "a:1")), Response: txResp(200, 1, 2, nil, 0)}, want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := mustTranslator(t, translateSettings(LevelFull), &seqIDs{})
			b := NewBatch()
			appendTx(tr, b, tt.conn, tt.tx)
			assert.Equal(t, tt.want, b.traces.SpanCount())
			assert.Equal(t, tt.want, b.traces.SpanCount())
			for i := 0; i < b.traces.ResourceSpans().Len(); i++ {
				rs := b.traces.ResourceSpans().At(i)
				assertValidUTF8(t, rs.Resource().Attributes().AsRaw())
				spans := rs.ScopeSpans().At(0).Spans()
				for j := 0; j < spans.Len(); j++ {
					assertValidUTF8(t, spans.At(j).Name())
					assertValidUTF8(t, spans.At(j).Attributes().AsRaw())
				}
			}
			for i := 0; i < b.logs.ResourceLogs().Len(); i++ {
				lrs := b.logs.ResourceLogs().At(i).ScopeLogs().At(0).LogRecords()
				for j := 0; j < lrs.Len(); j++ {
					assertValidUTF8(t, lrs.At(j).Attributes().AsRaw())
					assertValidUTF8(t, lrs.At(j).Body().AsRaw())
				}
			}
		})
	}
}

// assertValidUTF8 walks a raw pdata value: OTLP exporters refuse strings
// that are not UTF-8.
func assertValidUTF8(t *testing.T, v any) {
	t.Helper()
	switch v := v.(type) {
	case string:
		assert.True(t, utf8.ValidString(v), "invalid UTF-8: %q", v)
	case map[string]any:
		for k, e := range v {
			assertValidUTF8(t, k)
			assertValidUTF8(t, e)
		}
	case []any:
		for _, e := range v {
			assertValidUTF8(t, e)
		}
	}
}

func TestTranslateURLs(t *testing.T) {
	tests := []struct {
		name               string
		conn               *tap.Conn
		method, target     string
		headers            []httpparse.HeaderField
		wantURL, wantAddr  string
		wantPort           int
		wantPath, wantQury string
	}{
		{name: "origin form", conn: connClient, method: "GET", target: "/p?q=1", headers: txHeaders("Host", "a.example"),
			wantURL: "http://a.example/p?q=1", wantAddr: "a.example", wantPort: 80},
		{name: "host with port", conn: connClient, method: "GET", target: "/", headers: txHeaders("Host", "a.example:8080"),
			wantURL: "http://a.example:8080/", wantAddr: "a.example", wantPort: 8080},
		{name: "ipv6 host", conn: connClient, method: "GET", target: "/", headers: txHeaders("Host", "[2001:db8::1]:81"),
			wantURL: "http://[2001:db8::1]:81/", wantAddr: "2001:db8::1", wantPort: 81},
		{name: "no host ipv4 peer", conn: connClient, method: "GET", target: "/x", wantURL: "http://93.184.216.34/x",
			wantAddr: "93.184.216.34", wantPort: 80},
		{name: "no host ipv6 peer", conn: connIPv6, method: "GET", target: "/x", wantURL: "http://[2001:db8::1]:8443/x",
			wantAddr: "2001:db8::1", wantPort: 8443},
		{name: "absolute form wins", conn: connClient, method: "GET", target: "HTTP://u@b.example/p#frag",
			headers: txHeaders("Host", "ignored"), wantURL: "http://REDACTED@b.example/p", wantAddr: "b.example", wantPort: 80},
		{name: "absolute form without path", conn: connClient, method: "GET", target: "http://b.example?x",
			wantURL: "http://b.example/?x", wantAddr: "b.example", wantPort: 80},
		{name: "sensitive query", conn: connClient, method: "GET", target: "/?AWSAccessKeyId=a&sig=b&X-Goog-Signature=c&Sig=d&sig",
			headers: txHeaders("Host", "s3"), wantURL: "http://s3/?AWSAccessKeyId=REDACTED&sig=REDACTED&X-Goog-Signature=REDACTED&Sig=d&sig",
			wantAddr: "s3", wantPort: 80},
		{name: "no host, DNS name", conn: connDNSClient, method: "GET", target: "/x",
			wantURL: "http://orders.internal.example:8080/x", wantAddr: "orders.internal.example", wantPort: 8080},
		{name: "host wins over DNS", conn: connDNSClient, method: "GET", target: "/x", headers: txHeaders("Host", "a.example"),
			wantURL: "http://a.example/x", wantAddr: "a.example", wantPort: 80},
		{name: "SNI wins over DNS", conn: func() *tap.Conn { c := *connTLSClient; c.ServerName = "dns.example"; return &c }(),
			method: "GET", target: "/x", wantURL: "https://secure.example.com/x", wantAddr: "secure.example.com", wantPort: 443},
		{name: "DNS with the default port", conn: func() *tap.Conn { c := *connClient; c.ServerName = "api.example"; return &c }(),
			method: "GET", target: "/x", wantURL: "http://api.example/x", wantAddr: "api.example", wantPort: 80},
		{name: "connect", conn: connClient, method: "CONNECT", target: "b.example:443",
			wantURL: "http://b.example:443", wantAddr: "b.example", wantPort: 443},
		{name: "server local fallback", conn: connServer, method: "GET", target: "/p?sig=1",
			wantURL: "http://10.0.0.5:8080/p?sig=REDACTED", wantAddr: "10.0.0.5", wantPort: 8080,
			wantPath: "/p", wantQury: "sig=REDACTED"},
		{name: "server asterisk", conn: connServer, method: "OPTIONS", target: "*", headers: txHeaders("Host", "h"),
			wantURL: "http://h", wantAddr: "h", wantPort: 80, wantPath: "*"},
		{name: "server bad forwarded proto", conn: connServer, method: "GET", target: "/", headers: txHeaders("Host", "h", "X-Forwarded-Proto", "ht tp"),
			wantURL: "http://h/", wantAddr: "h", wantPort: 80, wantPath: "/"},
		{name: "server quoted forwarded", conn: connServer, method: "GET", target: "/",
			headers: txHeaders("Host", "h", "Forwarded", `for="[2001:db8::1]:80";host="a;b\"c:9"`),
			wantURL: "http://a;b\"c:9/", wantAddr: "a;b\"c", wantPort: 9, wantPath: "/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := describeView(tt.conn, &httpparse.Transaction{Request: txReq(tt.method, tt.target, 0, 1, tt.headers)})
			require.NotNil(t, v)
			assert.Equal(t, tt.wantURL, v.url)
			assert.Equal(t, tt.wantAddr, v.serverAddress)
			assert.Equal(t, tt.wantPort, v.serverPort)
			if v.server { // url.path and url.query are a server span's
				assert.Equal(t, tt.wantPath, v.target.path)
				assert.Equal(t, tt.wantQury, v.target.query)
			} else {
				assert.Empty(t, tt.wantPath+tt.wantQury, "a client case wants no url.path or url.query")
			}
		})
	}
}

func TestTranslateTraceparent(t *testing.T) {
	const valid = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	tests := []struct {
		name  string
		value string
		ok    bool
	}{
		{"valid", valid, true},
		{"surrounding spaces", "  " + valid + " ", true},
		{"future version with more fields", "cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-what-the-future-holds", true},
		{"future version exact size", "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", true},
		{"version 00 with more fields", valid + "-x", false},
		{"version ff", "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", false},
		{"uppercase hex", "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01", false},
		{"zero trace id", "00-00000000000000000000000000000000-b7ad6b7169203331-01", false},
		{"zero parent id", "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01", false},
		{"short", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333-01", false},
		{"bad separator", "00_0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", false},
		{"bad flags", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0g", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &httpparse.Message{Header: txHeaders("Traceparent", tt.value)}
			f := readRequestFields(m)
			tp, ok := requestContext(&f, m)
			assert.Equal(t, tt.ok, ok)
			if ok {
				assert.Equal(t, "0af7651916cd43dd8448eb211c80319c", tp.traceID.String())
				assert.Equal(t, "b7ad6b7169203331", tp.parentID.String())
			}
		})
	}
}

func TestTranslateTracestate(t *testing.T) {
	many := ""
	for i := range maxTraceStateMembers + 1 {
		many += "k" + string(rune('a'+i%26)) + "=v,"
	}
	tests := []struct {
		name    string
		headers []httpparse.HeaderField
		want    string
	}{
		{"joined", txHeaders("tracestate", "a=1, b=2", "TraceState", "c=3"), "a=1,b=2,c=3"},
		{"empty members", txHeaders("tracestate", ",a=1,,"), "a=1"},
		{"invalid member drops all", txHeaders("tracestate", "a=1,B=2"), ""},
		{"too many", txHeaders("tracestate", many), ""},
		{"none", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tracestate(&httpparse.Message{Header: tt.headers}))
		})
	}
}

func TestTranslateSplitHostPort(t *testing.T) {
	tests := []struct {
		in   string
		host string
		port int
	}{
		{"a", "a", 0},
		{"a:1", "a", 1},
		{"a:", "a", 0},
		{"a:65536", "a", 0},
		{"a:+1", "a", 0},
		{"[::1]", "::1", 0},
		{"[::1]:8", "::1", 8},
		{"[::1", "[::1", 0},
		{"::1", "::1", 0},
		{"", "", 0},
	}
	for _, tt := range tests {
		h, p := splitHostPort(tt.in)
		assert.Equal(t, tt.host, h, tt.in)
		assert.Equal(t, tt.port, p, tt.in)
	}
}

func TestTranslateTextBody(t *testing.T) {
	tests := []struct {
		name      string
		headers   []httpparse.HeaderField
		content   string
		truncated bool
		want      string
		text      bool
	}{
		{"json", txHeaders("Content-Type", "application/json"), `{"a":1}`, false, `{"a":1}`, true},
		{"vendor json", txHeaders("Content-Type", "application/vnd.api+json"), `{}`, false, `{}`, true},
		{"text with charset", txHeaders("Content-Type", "Text/Plain; charset=UTF-8"), "hi", false, "hi", true},
		{"no content type", nil, "hi", false, "", false},
		{"binary type", txHeaders("Content-Type", "application/octet-stream"), "hi", false, "", false},
		{"gzip", txHeaders("Content-Type", "text/plain", "Content-Encoding", "gzip"), "hi", false, "", false},
		{"identity coding", txHeaders("Content-Type", "text/plain", "Content-Encoding", "identity"), "hi", false, "hi", true},
		{"latin1", txHeaders("Content-Type", "text/plain; charset=iso-8859-1"), "caf\xe9", false, "", false},
		{"cut rune when truncated", txHeaders("Content-Type", "text/plain"), "caf\xc3", true, "caf", true},
		{"cut rune when complete", txHeaders("Content-Type", "text/plain"), "caf\xc3", false, "", false},
		{"cut 4-byte rune", txHeaders("Content-Type", "text/plain"), "a\xf0\x9f\x98", true, "a", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := textBody(&httpparse.Message{Header: tt.headers}, []byte(tt.content), tt.truncated, false)
			assert.Equal(t, tt.text, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

// TestTranslateBodyLimit checks max_body_bytes applies on top of what the
// parser kept.
func TestTranslateBodyLimit(t *testing.T) {
	cfg := translateSettings(LevelFull)
	cfg.HostName = ""
	cfg.MaxBodyBytes = 4
	tr := mustTranslator(t, cfg, &seqIDs{})
	b := NewBatch()
	rq := withBody(reqMsg{txReq("POST", "/", 0, 1, txHeaders("Content-Type", "text/plain"))}, []byte("abcdefgh"), 8, false).Request
	appendTx(tr, b, connClient, &httpparse.Transaction{Request: rq, Response: txResp(200, 2, 3, nil, 0)})

	span := b.traces.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	v, ok := span.Attributes().Get(attrRequestBodyTruncated)
	require.True(t, ok)
	assert.True(t, v.Bool())
	record := b.logs.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Attributes()
	content, _ := record.Get(attrRequestBody)
	assert.Equal(t, "abcd", content.Str())
	size, _ := record.Get("http.request.body.size")
	assert.Equal(t, int64(8), size.Int())
	truncated, _ := record.Get(attrRequestBodyTruncated)
	assert.True(t, truncated.Bool())

	cfg.MaxBodyBytes = 0
	tr = mustTranslator(t, cfg, &seqIDs{})
	b = NewBatch()
	appendTx(tr, b, connClient, &httpparse.Transaction{Request: rq, Response: txResp(200, 2, 3, nil, 0)})
	record = b.logs.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Attributes()
	content, _ = record.Get(attrRequestBody)
	assert.Empty(t, content.Str(), "max_body_bytes 0 exports no body content")
}

// TestTranslateBodyOverBudget checks a body the buffered-body budget cut is
// marked on the span and the log record at level full, along with its
// truncation, and is not mentioned below full, where no body is exported.
func TestTranslateBodyOverBudget(t *testing.T) {
	for _, level := range []Level{LevelHeaders, LevelFull} {
		tr := mustTranslator(t, translateSettings(level), &seqIDs{})
		b := NewBatch()
		rq := withBody(reqMsg{txReq("POST", "/", 0, 1, nil)}, []byte("abcd"), 8, true).Request
		rq.BodyOverBudget = true
		rs := withBody(respMsg{txResp(200, 2, 3, nil, 0)}, []byte("ok"), 2, false).Response
		appendTx(tr, b, connClient, &httpparse.Transaction{Request: rq, Response: rs})

		span := b.traces.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
		record := b.logs.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
		for _, attrs := range []pcommon.Map{span.Attributes(), record.Attributes()} {
			v, ok := attrs.Get(attrRequestBodyOverBudget)
			assert.Equal(t, level == LevelFull, ok, "request over_budget at level %s", level)
			if ok {
				assert.True(t, v.Bool())
				_, truncated := attrs.Get(attrRequestBodyTruncated)
				assert.True(t, truncated)
			}
			_, ok = attrs.Get(attrResponseBodyOverBudget)
			assert.False(t, ok, "a whole response marked over budget")
		}
	}
}

func TestTranslateRandomIDs(t *testing.T) {
	seen := map[pcommon.TraceID]bool{}
	for range 100 {
		tid, sid := newRandomIDs().NewIDs()
		assert.False(t, tid.IsEmpty())
		assert.False(t, sid.IsEmpty())
		assert.False(t, seen[tid], "repeated trace id")
		seen[tid] = true
	}
}

func TestTranslateProtocolVersion(t *testing.T) {
	tests := []struct{ req, resp, want string }{
		{"1.0", "1.1", "1.0"}, // a 1.1 server answering a 1.0 client
		{"1.1", "1.1", "1.1"},
		{"", "1.1", "1.1"},
		{"", "", ""},
	}
	for _, tt := range tests {
		rq, rs := txReq("GET", "/", 0, 1, nil), txResp(200, 1, 2, nil, 0)
		rq.Proto, rs.Proto = tt.req, tt.resp
		v := describeView(connClient, &httpparse.Transaction{Request: rq, Response: rs})
		assert.Equal(t, tt.want, v.proto, "request %q response %q", tt.req, tt.resp)
	}
}

func TestGRPCMessages(t *testing.T) {
	two := append(grpcFrame(1, 2, 3), grpcFrame()...)
	cases := []struct {
		name       string
		body       []byte
		size       int64
		truncated  bool
		count, sum int64
		ok         bool
	}{
		{name: "two", body: two, size: int64(len(two)), count: 2, sum: 3, ok: true},
		{name: "empty", ok: true},
		{name: "truncated", body: two[:4], size: int64(len(two)), truncated: true},
		{name: "not_kept", body: two[:6], size: int64(len(two))},
		{name: "short_prefix", body: two[:3], size: 3},
		{name: "length_overruns", body: []byte{0, 0, 0, 0, 9, 1}, size: 6},
		{name: "huge_length", body: []byte{0, 0xff, 0xff, 0xff, 0xff, 1}, size: 6},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := &httpparse.Message{Body: tc.body, BodySize: tc.size, BodyTruncated: tc.truncated}
			n, sum, ok := grpcMessages(m)
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.count, n)
			assert.Equal(t, tc.sum, sum)
		})
	}
}

func TestIsGRPC(t *testing.T) {
	for ct, want := range map[string]bool{
		"application/grpc": true, "application/grpc+proto": true, "Application/GRPC; charset=x": true,
		"application/grpc-web": false, "application/grpcx": false, "application/json": false, "": false,
	} {
		r := &httpparse.Request{Message: httpparse.Message{Header: txHeaders("Content-Type", ct)}}
		f := readRequestFields(&r.Message)
		assert.Equal(t, want, isGRPC(&f), ct)
	}
}

func TestGroupHeaders(t *testing.T) {
	policy, err := redact.New(redact.Config{Headers: []string{"Cookie"}})
	require.NoError(t, err)
	// Enough distinct names to take the indexed path as well.
	var many []httpparse.HeaderField
	var manyWant []headerGroup
	for i := range indexedGroups + 2 {
		name := fmt.Sprintf("X-H%d", i)
		many = append(many, httpparse.HeaderField{Name: name, Value: "v"})
		lower := strings.ToLower(name)
		manyWant = append(manyWant, headerGroup{name: lower, key: "http.response.header." + lower, values: []string{"v"}})
	}
	many = append(many, httpparse.HeaderField{Name: "x-h1", Value: "again"})
	manyWant[1].values = []string{"v", "again"}

	tests := []struct {
		name    string
		hs      []httpparse.HeaderField
		request bool
		want    []headerGroup
	}{
		{name: "none", hs: nil, request: true, want: nil},
		{
			name: "repeated names in any case, redacted", request: true,
			hs: []httpparse.HeaderField{
				{Name: "Cookie", Value: "a=1"}, {Name: "Accept", Value: "*/*"},
				{Name: "cookie", Value: "b=2"}, {Name: "X-Custom", Value: "x"}, {Name: "ACCEPT", Value: "text/html"},
			},
			want: []headerGroup{
				{name: "cookie", key: "http.request.header.cookie", values: []string{"REDACTED", "REDACTED"}},
				{name: "accept", key: "http.request.header.accept", values: []string{"*/*", "text/html"}},
				{name: "x-custom", key: "http.request.header.x-custom", values: []string{"x"}},
			},
		},
		{name: "indexed", hs: many, request: false, want: manyWant},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := groupHeaders(tt.hs, policy, tt.request)
			assert.Equal(t, tt.want, got)
			// A repeated name's values must not overwrite another name's.
			if len(got) > 1 {
				got[0].values = append(got[0].values, "extra")
				assert.Equal(t, tt.want[1].values, got[1].values)
			}
		})
	}
}

func mustTranslator(t testing.TB, s Settings, ids idSource) *Translator {
	t.Helper()
	tr, err := newTranslator(s, ids)
	require.NoError(t, err)
	return tr
}
