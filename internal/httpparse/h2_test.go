package httpparse

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// h2Case builds the pieces of a connection from a client and a server
// builder: steps write frames and cut pieces in wire order.
type h2Case struct {
	name  string
	cfg   Config
	build func(cli, srv *h2Builder) []piece
	want  result
}

func runH2Cases(t *testing.T, cases []h2Case) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cli, srv := newH2Builder(t), newH2Builder(t)
			cfg := tc.cfg
			if cfg.MaxBodyBytes == 0 {
				cfg.MaxBodyBytes = 64
			}
			if tc.want.Protocol == "" {
				tc.want.Protocol = "http2"
			}
			checkCase(t, connCase{cfg: cfg, pieces: tc.build(cli, srv), want: tc.want})
		})
	}
}

// toServer and toClient take what a builder wrote as one piece.
func toServer(b *h2Builder) piece { return req(b.take()) }
func toClient(b *h2Builder) piece { return resp(b.take()) }

func TestH2Exchanges(t *testing.T) {
	runH2Cases(t, []h2Case{
		{
			name: "prior knowledge: a GET and a response in two DATA frames",
			build: func(cli, srv *h2Builder) []piece {
				cli.preface().settings().headers(1, true, reqFields("GET", "/a?q=1", "user-agent", "t/1", "accept", "*/*")...)
				srv.settings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 100}).
					headers(1, false, ":status", "200", "content-type", "text/plain").data(1, false, "hel").data(1, true, "lo")
				return []piece{toServer(cli), toClient(srv)}
			},
			want: result{Transactions: []txnView{
				h2tx(1, h2Req("GET", "/a?q=1", "user-agent: t/1", "accept: */*"), h2Resp(200, "content-type: text/plain").body(5, "hello")),
			}},
		},
		{
			name: "concurrent streams are emitted as they close, PING, WINDOW_UPDATE and PRIORITY ignored",
			build: func(cli, srv *h2Builder) []piece {
				cli.preface().settings()
				for _, p := range []string{"/1", "/3", "/5"} {
					cli.headers(uint32(p[1]-'0'), true, reqFields("GET", p)...)
				}
				cli.pingAndWindow()
				srv.settings().pingAndWindow().
					headers(1, false, ":status", "200").headers(3, false, ":status", "404").headers(5, false, ":status", "200").
					data(5, true, "five").data(1, false, "o").data(3, true, "nf").data(1, true, "ne")
				return []piece{toServer(cli), toClient(srv)}
			},
			want: result{Transactions: []txnView{
				h2tx(5, h2Req("GET", "/5"), h2Resp(200).body(4, "five")),
				h2tx(3, h2Req("GET", "/3"), h2Resp(404).body(2, "nf")),
				h2tx(1, h2Req("GET", "/1"), h2Resp(200).body(3, "one")),
			}},
		},
		{
			name: "a POST body, END_STREAM on an empty DATA frame",
			build: func(cli, srv *h2Builder) []piece {
				cli.preface().settings().headers(1, false, reqFields("POST", "/up", "content-length", "9")...).
					data(1, false, "name=").data(1, false, "ebpf").data(1, true, "")
				srv.settings().headers(1, true, ":status", "204")
				return []piece{toServer(cli), toClient(srv)}
			},
			want: result{Transactions: []txnView{
				h2tx(1, h2Req("POST", "/up", "content-length: 9").body(9, "name=ebpf"), h2Resp(204)),
			}},
		},
		{
			name: "a header block in HEADERS and two CONTINUATION frames",
			build: func(cli, srv *h2Builder) []piece {
				cli.preface().settings().headersSplit(1, true, 12, nil, reqFields("GET", "/cont", "x-long", strings.Repeat("v", 30))...)
				srv.settings().headersSplit(1, true, 1, nil, ":status", "200", "server", "test")
				return []piece{toServer(cli), toClient(srv)}
			},
			want: result{Transactions: []txnView{
				h2tx(1, h2Req("GET", "/cont", "x-long: "+strings.Repeat("v", 30)), h2Resp(200, "server: test")),
			}},
		},
		{
			name: "padding in HEADERS and DATA is not content",
			build: func(cli, srv *h2Builder) []piece {
				cli.preface().settings().paddedHeaders(1, false, 9, reqFields("PUT", "/p")...).paddedData(1, true, "abc", 20)
				srv.settings().paddedHeaders(1, false, 0, ":status", "201").paddedData(1, false, "", 5).paddedData(1, true, "done", 255)
				return []piece{toServer(cli), toClient(srv)}
			},
			want: result{Transactions: []txnView{
				h2tx(1, h2Req("PUT", "/p").body(3, "abc"), h2Resp(201).body(4, "done")),
			}},
		},
		{
			name: "trailers in a second HEADERS frame, interim response skipped",
			build: func(cli, srv *h2Builder) []piece {
				cli.preface().settings().headers(1, false, reqFields("POST", "/rpc", "te", "trailers")...).data(1, true, "req")
				srv.settings().headers(1, false, ":status", "103", "link", "</s.css>").
					headers(1, false, ":status", "200", "content-type", "application/grpc").data(1, false, "resp").
					headersSplit(1, true, 5, nil, "grpc-status", "0", "grpc-message", "fine", ":status", "500")
				return []piece{toServer(cli), toClient(srv)}
			},
			want: result{Transactions: []txnView{
				h2tx(1, h2Req("POST", "/rpc", "te: trailers").body(3, "req"),
					h2Resp(200, "content-type: application/grpc").body(4, "resp").trailer("grpc-status: 0", "grpc-message: fine")),
			}},
		},
		{
			name: "CONNECT names its target in :authority",
			build: func(cli, srv *h2Builder) []piece {
				cli.preface().settings().headers(1, false, ":method", "CONNECT", ":authority", "db.internal:5432")
				srv.settings().headers(1, false, ":status", "200").data(1, true, "")
				p := []piece{toServer(cli), toClient(srv)}
				cli.rst(1, http2.ErrCodeCancel)
				return append(p, toServer(cli))
			},
			want: result{Transactions: []txnView{
				h2tx(1, msgView{Method: "CONNECT", Target: "db.internal:5432", Authority: "db.internal:5432", Proto: "2", Header: []string{}}.incomplete(),
					h2Resp(200)).reset("to-server 0x8"),
			}},
		},
		{
			name: "server push: the promise is the request of the pushed stream",
			build: func(cli, srv *h2Builder) []piece {
				cli.preface().settings().headers(1, true, reqFields("GET", "/")...)
				srv.settings().push(1, 2, reqFields("GET", "/style.css")...).headers(1, false, ":status", "200").
					headers(2, false, ":status", "200", "content-type", "text/css").data(2, true, "css").data(1, true, "html")
				return []piece{toServer(cli), toClient(srv)}
			},
			want: result{Transactions: []txnView{
				h2tx(2, h2Req("GET", "/style.css"), h2Resp(200, "content-type: text/css").body(3, "css")),
				h2tx(1, h2Req("GET", "/"), h2Resp(200).body(4, "html")),
			}},
		},
		{
			name: "a client HEADERS on a pushed stream hides no later request",
			build: func(cli, srv *h2Builder) []piece {
				cli.preface().settings().headers(1, true, reqFields("GET", "/")...)
				srv.settings().push(1, 10, reqFields("GET", "/style.css")...).headers(1, true, ":status", "200")
				p := []piece{toServer(cli), toClient(srv)}
				cli.headers(10, true, "x-bad", "1").headers(3, true, reqFields("GET", "/next")...)
				srv.headers(3, true, ":status", "204").headers(10, true, ":status", "200")
				return append(p, toServer(cli), toClient(srv))
			},
			want: result{Stats: map[string]uint64{"h2_bad_frame": 1}, Transactions: []txnView{
				h2tx(1, h2Req("GET", "/"), h2Resp(200)),
				h2tx(3, h2Req("GET", "/next"), h2Resp(204)),
				h2tx(10, h2Req("GET", "/style.css"), h2Resp(200)),
			}},
		},
		{
			name: "a response before its request waits for it",
			build: func(cli, srv *h2Builder) []piece {
				cli.preface().settings()
				first := toServer(cli)
				cli.headers(1, true, reqFields("GET", "/late")...)
				srv.settings().headers(1, false, ":status", "200").data(1, true, "x")
				return []piece{first, toClient(srv), toServer(cli)}
			},
			want: result{Transactions: []txnView{
				h2tx(1, h2Req("GET", "/late"), h2Resp(200).body(1, "x")),
			}},
		},
		{
			name: "the server's SETTINGS before the client preface",
			build: func(cli, srv *h2Builder) []piece {
				srv.settings(http2.Setting{ID: http2.SettingMaxFrameSize, Val: 1 << 20})
				early := toClient(srv)
				cli.preface().settings().headers(1, true, reqFields("GET", "/")...)
				srv.headers(1, true, ":status", "200")
				return []piece{early, toServer(cli), toClient(srv)}
			},
			want: result{Transactions: []txnView{h2tx(1, h2Req("GET", "/"), h2Resp(200))}},
		},
		{
			name: "Close emits open streams in stream order",
			build: func(cli, srv *h2Builder) []piece {
				cli.preface().settings().headers(3, true, reqFields("GET", "/3")...).headers(5, false, reqFields("POST", "/5")...).data(5, false, "par")
				srv.settings().headers(3, false, ":status", "200").data(3, false, "partial")
				return []piece{toServer(cli), toClient(srv)}
			},
			want: result{Stats: map[string]uint64{"no_response": 1}, Transactions: []txnView{
				h2tx(3, h2Req("GET", "/3"), h2Resp(200).body(7, "partial").incomplete()),
				h2tx(5, h2Req("POST", "/5").body(3, "par").incomplete()),
			}},
		},
		{
			// curl stops at Content-Length and closes: the trailers that
			// follow are never read, so END_STREAM never shows on its side.
			name: "Close: a body that reached its Content-Length is whole without END_STREAM",
			build: func(cli, srv *h2Builder) []piece {
				cli.preface().settings().headers(1, true, reqFields("GET", "/1")...).headers(3, true, reqFields("GET", "/3")...)
				srv.settings().headers(1, false, ":status", "200", "content-length", "4").data(1, false, "body").
					headers(3, false, ":status", "200", "content-length", "5").data(3, false, "body")
				return []piece{toServer(cli), toClient(srv)}
			},
			want: result{Transactions: []txnView{
				h2tx(1, h2Req("GET", "/1"), h2Resp(200, "content-length: 4").body(4, "body")),
				h2tx(3, h2Req("GET", "/3"), h2Resp(200, "content-length: 5").body(4, "body").incomplete()),
			}},
		},
	})
}

// TestH2Timestamps: Start is the time of the piece holding the first byte
// of a message's first frame, End that of the piece holding the last byte
// of its last frame, whatever other streams do in between.
func TestH2Timestamps(t *testing.T) {
	cli, srv := newH2Builder(t), newH2Builder(t)
	cli.preface().settings()
	p0 := cli.take()
	cli.headers(1, false, reqFields("POST", "/t")...).data(1, true, "body")
	r1 := cli.take()
	cli.headers(3, true, reqFields("GET", "/other")...)
	r3 := cli.take()
	srv.settings().headers(1, false, ":status", "200").data(1, false, "ab")
	s1 := srv.take()
	srv.headers(3, true, ":status", "204").data(1, true, "cd")
	s2 := srv.take()
	_, txns, _ := run(t, Config{}, []piece{
		req(p0),              // 0
		req(r1[:5]),          // 1: request 1 starts
		req(r1[5:]),          // 2: request 1 ends
		req(r3),              // 3: request 3
		resp(s1[:20]),        // 4: response 1 starts after the SETTINGS
		resp(s1[20:]),        // 5
		resp(s2[:len(s2)-1]), // 6: response 3
		resp(s2[len(s2)-1:]), // 7: response 1 ends
	}, true)
	want := map[uint32][4]int{3: {3, 3, 6, 6}, 1: {1, 2, 4, 7}}
	if len(txns) != len(want) {
		t.Fatalf("got %d transactions, want %d", len(txns), len(want))
	}
	for _, tx := range txns {
		w := want[tx.StreamID]
		got := []time.Time{tx.Request.Start, tx.Request.End, tx.Response.Start, tx.Response.End}
		for j := range w {
			if !got[j].Equal(tsOf(w[j])) {
				t.Errorf("stream %d: time %d = %v, want piece %d (%v)", tx.StreamID, j, got[j], w[j], tsOf(w[j]))
			}
		}
	}
}

// TestH2StateStrings: the state enums of the HTTP/2 reader name their
// values, and say the type and number of any other.
func TestH2StateStrings(t *testing.T) {
	for _, tc := range []struct {
		v    fmt.Stringer
		want string
	}{
		{h2Head, "head"},
		{h2Payload, "payload"},
		{h2Data, "data"},
		{h2Skip, "skip"},
		{h2Skip + 1, "h2ReadState(4)"},
		{msgIdle, "idle"},
		{msgHeaders, "headers"},
		{msgOpen, "open"},
		{msgEnded, "ended"},
		{msgEnded + 1, "h2MsgState(4)"},
		{blkDiscard, "discard"},
		{blkRequest, "request"},
		{blkResponse, "response"},
		{blkTrailer, "trailer"},
		{blkPromise, "promise"},
		{blkPromise + 1, "blockKind(5)"},
	} {
		if got := tc.v.String(); got != tc.want {
			t.Errorf("%T %v: String() = %q, want %q", tc.v, tc.v, got, tc.want)
		}
	}
}
