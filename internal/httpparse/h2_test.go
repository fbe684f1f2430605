package httpparse

import (
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

func TestH2Resets(t *testing.T) {
	runH2Cases(t, []h2Case{
		{
			name: "RST_STREAM from the client cuts the response",
			build: func(cli, srv *h2Builder) []piece {
				cli.preface().settings().headers(1, true, reqFields("GET", "/stream")...)
				srv.settings().headers(1, false, ":status", "200").data(1, false, "tick")
				p := []piece{toServer(cli), toClient(srv)}
				cli.rst(1, http2.ErrCodeCancel)
				srv.data(1, false, "late") // in flight when the reset came
				return append(p, toServer(cli), toClient(srv))
			},
			want: result{Transactions: []txnView{
				h2tx(1, h2Req("GET", "/stream"), h2Resp(200).body(4, "tick").incomplete()).reset("to-server 0x8"),
			}},
		},
		{
			name: "RST_STREAM REFUSED_STREAM from the server before any response",
			build: func(cli, srv *h2Builder) []piece {
				cli.preface().settings().headers(1, false, reqFields("POST", "/busy")...).data(1, false, "body")
				srv.settings().rst(1, http2.ErrCodeRefusedStream)
				return []piece{toServer(cli), toClient(srv)}
			},
			want: result{Stats: map[string]uint64{"no_response": 1}, Transactions: []txnView{
				h2tx(1, h2Req("POST", "/busy").body(4, "body").incomplete()).reset("to-client 0x7"),
			}},
		},
		{
			name: "RST_STREAM NO_ERROR after a complete response: only the request was cut",
			build: func(cli, srv *h2Builder) []piece {
				cli.preface().settings().headers(1, false, reqFields("POST", "/early")...).data(1, false, "part")
				srv.settings().headers(1, true, ":status", "413").rst(1, http2.ErrCodeNo)
				return []piece{toServer(cli), toClient(srv)}
			},
			want: result{Transactions: []txnView{
				h2tx(1, h2Req("POST", "/early").body(4, "part").incomplete(), h2Resp(413)).reset("to-client 0x0"),
			}},
		},
		{
			name: "GOAWAY: streams beyond the last processed one end unanswered",
			build: func(cli, srv *h2Builder) []piece {
				cli.preface().settings().headers(1, true, reqFields("GET", "/1")...).headers(3, true, reqFields("GET", "/3")...)
				srv.settings().goAway(1).headers(1, true, ":status", "200")
				return []piece{toServer(cli), toClient(srv)}
			},
			want: result{Stats: map[string]uint64{"no_response": 1}, Transactions: []txnView{
				h2tx(3, h2Req("GET", "/3")),
				h2tx(1, h2Req("GET", "/1"), h2Resp(200)),
			}},
		},
	})
}

func TestH2HPACKState(t *testing.T) {
	runH2Cases(t, []h2Case{
		{
			name: "dynamic table entries carry over between streams",
			build: func(cli, srv *h2Builder) []piece {
				cli.preface().settings()
				for _, id := range []uint32{1, 3, 5} {
					cli.headers(id, true, reqFields("GET", "/same", "x-tenant", "acme")...)
				}
				srv.settings()
				for _, id := range []uint32{1, 3, 5} {
					srv.headers(id, true, ":status", "200", "x-served-by", "node-7")
				}
				return []piece{toServer(cli), toClient(srv)}
			},
			want: result{Transactions: []txnView{
				h2tx(1, h2Req("GET", "/same", "x-tenant: acme"), h2Resp(200, "x-served-by: node-7")),
				h2tx(3, h2Req("GET", "/same", "x-tenant: acme"), h2Resp(200, "x-served-by: node-7")),
				h2tx(5, h2Req("GET", "/same", "x-tenant: acme"), h2Resp(200, "x-served-by: node-7")),
			}},
		},
		{
			name: "a table size update within the peer's SETTINGS_HEADER_TABLE_SIZE",
			build: func(cli, srv *h2Builder) []piece {
				srv.settings(http2.Setting{ID: http2.SettingHeaderTableSize, Val: 8192}).headers(1, true, ":status", "200")
				cli.preface().settings()
				cli.enc.SetMaxDynamicTableSizeLimit(8192)
				cli.enc.SetMaxDynamicTableSize(8192)
				cli.headers(1, true, reqFields("GET", "/big-table", "x-a", strings.Repeat("a", 5000))...)
				// Shrinking to nothing evicts every entry; the next block
				// says so first.
				cli.enc.SetMaxDynamicTableSize(0)
				cli.headers(3, true, reqFields("GET", "/no-table")...)
				srv.headers(3, true, ":status", "200")
				s := toClient(srv)
				return []piece{resp(s.data[:15]), toServer(cli), resp(s.data[15:])}
			},
			want: result{Transactions: []txnView{
				h2tx(1, h2Req("GET", "/big-table", "x-a: "+strings.Repeat("a", 5000)), h2Resp(200)),
				h2tx(3, h2Req("GET", "/no-table"), h2Resp(200)),
			}},
		},
		{
			name: "a table size update beyond what the peer allowed fails to decode",
			build: func(cli, srv *h2Builder) []piece {
				cli.preface().settings()
				cli.enc.SetMaxDynamicTableSizeLimit(8192)
				cli.enc.SetMaxDynamicTableSize(8192)
				cli.headers(1, true, reqFields("GET", "/x")...)
				srv.settings().headers(1, true, ":status", "200")
				return []piece{toServer(cli), toClient(srv)}
			},
			want: result{Stats: map[string]uint64{"h2_hpack_error": 1}, Transactions: []txnView{
				h2tx(1, msgView{Proto: "2", Header: []string{}}.partial(), h2Resp(200)),
			}},
		},
		{
			name: "header fields beyond MaxHeaderBytes are dropped, the decoder stays in step",
			cfg:  Config{MaxHeaderBytes: 120},
			build: func(cli, srv *h2Builder) []piece {
				cli.preface().settings().
					headers(1, true, reqFields("GET", "/1", "x-a", strings.Repeat("a", 40), "x-b", strings.Repeat("b", 40), "x-c", "c")...).
					headers(3, true, reqFields("GET", "/3", "x-a", strings.Repeat("a", 40))...)
				srv.settings().headers(1, true, ":status", "200").headers(3, true, ":status", "200")
				return []piece{toServer(cli), toClient(srv)}
			},
			want: result{Stats: map[string]uint64{"h2_header_too_large": 1}, Transactions: []txnView{
				h2tx(1, h2Req("GET", "/1", "x-a: "+strings.Repeat("a", 40)).partial(), h2Resp(200)),
				h2tx(3, h2Req("GET", "/3", "x-a: "+strings.Repeat("a", 40)), h2Resp(200)),
			}},
		},
	})
}

func TestH2BadFrames(t *testing.T) {
	runH2Cases(t, []h2Case{
		{
			name: "a CONTINUATION sequence broken by another frame",
			build: func(cli, srv *h2Builder) []piece {
				cli.preface().settings()
				cli.headersSplit(1, true, 10, func() { cli.pingAndWindow() }, reqFields("GET", "/broken")...)
				// The decoder started over: the entries of the first block
				// are unknown to it, and it says so instead of guessing.
				cli.headers(3, true, reqFields("GET", "/after")...)
				srv.settings().headers(1, true, ":status", "200").headers(3, true, ":status", "200")
				return []piece{toServer(cli), toClient(srv)}
			},
			want: result{Stats: map[string]uint64{"h2_bad_frame": 2, "h2_hpack_error": 1}, Transactions: []txnView{
				h2tx(1, msgView{Method: "GET", Scheme: "http", Proto: "2", Header: []string{}}.partial(), h2Resp(200)),
				h2tx(3, msgView{Method: "GET", Scheme: "http", Proto: "2", Header: []string{}}.partial(), h2Resp(200)),
			}},
		},
		{
			name: "DATA on stream 0, padding longer than the payload, DATA before HEADERS",
			build: func(cli, srv *h2Builder) []piece {
				cli.preface().settings().raw(http2.FrameData, 0, 0, []byte("zero")).
					headers(1, false, reqFields("POST", "/")...).raw(http2.FrameData, http2.FlagDataPadded, 1, []byte{5, 'x'}).data(1, true, "ok")
				srv.settings().data(1, false, "early").headers(1, true, ":status", "200")
				return []piece{toServer(cli), toClient(srv)}
			},
			want: result{Stats: map[string]uint64{"h2_bad_frame": 3}, Transactions: []txnView{
				h2tx(1, h2Req("POST", "/").body(2, "ok").incomplete(), h2Resp(200)),
			}},
		},
		{
			name: "a frame larger than the buffer is skipped, its header block lost",
			cfg:  Config{MaxHeaderBytes: 100},
			build: func(cli, srv *h2Builder) []piece {
				cli.preface().settings().
					headers(1, true, reqFields("GET", "/huge", "~x-huge", strings.Repeat("h", 30000))...).
					headers(3, true, ":method", "GET", ":scheme", "https", "~:authority", "example.com", ":path", "/")
				srv.settings().headers(1, true, ":status", "200").headers(3, true, ":status", "200")
				return []piece{toServer(cli), toClient(srv)}
			},
			want: result{Stats: map[string]uint64{"h2_frame_too_large": 1}, Transactions: []txnView{
				h2tx(1, msgView{Proto: "2", Header: []string{}}.partial(), h2Resp(200)),
				h2tx(3, msgView{Method: "GET", Target: "/", Scheme: "https", Authority: "example.com", Proto: "2", Header: []string{}}, h2Resp(200)),
			}},
		},
		{
			name: "too many open streams: the ones beyond are not followed",
			cfg:  Config{MaxStreams: 2},
			build: func(cli, srv *h2Builder) []piece {
				cli.preface().settings()
				for _, id := range []uint32{1, 3, 5} {
					cli.headers(id, true, ":method", "GET", ":path", "/")
				}
				srv.settings()
				for _, id := range []uint32{1, 3, 5} {
					srv.headers(id, true, ":status", "200")
				}
				return []piece{toServer(cli), toClient(srv)}
			},
			want: result{Stats: map[string]uint64{"h2_too_many_streams": 1, "unmatched_response": 1}, Transactions: []txnView{
				h2tx(1, msgView{Method: "GET", Target: "/", Proto: "2", Header: []string{}}, h2Resp(200)),
				h2tx(3, msgView{Method: "GET", Target: "/", Proto: "2", Header: []string{}}, h2Resp(200)),
			}},
		},
	})
}

func TestH2Gaps(t *testing.T) {
	runH2Cases(t, []h2Case{
		{
			name: "a loss inside a DATA payload keeps the framing",
			build: func(cli, srv *h2Builder) []piece {
				cli.preface().settings().headers(1, true, reqFields("GET", "/")...)
				srv.settings().headers(1, false, ":status", "200").data(1, false, "0123456789")
				s := srv.take()
				srv.data(1, true, "xy")
				return []piece{toServer(cli), {s: ToClient, data: s[:len(s)-6], lost: 6}, toClient(srv)}
			},
			want: result{Transactions: []txnView{
				h2tx(1, h2Req("GET", "/"), h2Resp(200).body(12, "0123")),
			}},
		},
		{
			name: "a loss between frames: resynchronised at a frame header, headers after it partial, never wrong",
			build: func(cli, srv *h2Builder) []piece {
				cli.preface().settings().headers(1, true, reqFields("GET", "/a", "x-custom", "v1")...)
				a := cli.take()
				cli.headers(3, true, reqFields("GET", "/b", "x-custom", "v1")...)
				b := cli.take()
				// Refers to entries of the dynamic table: decoding stops
				// at the first one, :authority.
				cli.headers(5, true, reqFields("GET", "/c", "x-custom", "v1")...)
				c := cli.take()
				// Static entries and literals only: whole again.
				cli.headers(7, true, ":method", "POST", ":scheme", "https", "~:authority", "example.com", ":path", "/")
				for _, id := range []uint32{1, 3, 5, 7} {
					srv.headers(id, true, ":status", "200")
				}
				return []piece{{s: ToServer, data: a, lost: len(b)}, req("garbage, not a frame"), req(c), toServer(cli), toClient(srv)}
			},
			want: result{
				Stats: map[string]uint64{"capture_gap": 1, "resynced": 1, "resync_skipped_bytes": 20, "h2_hpack_error": 1, "unmatched_response": 1},
				Transactions: []txnView{
					h2tx(1, h2Req("GET", "/a", "x-custom: v1"), h2Resp(200)),
					h2tx(5, msgView{Method: "GET", Scheme: "http", Proto: "2", Header: []string{}}.partial(), h2Resp(200)),
					h2tx(7, msgView{Method: "POST", Target: "/", Scheme: "https", Authority: "example.com", Proto: "2", Header: []string{}}, h2Resp(200)),
				},
			},
		},
		{
			name: "a loss in the responses marks what was in flight, DATA after a lost HEADERS is kept partial",
			build: func(cli, srv *h2Builder) []piece {
				cli.preface().settings().headers(1, true, reqFields("GET", "/1")...).headers(3, true, reqFields("GET", "/3")...)
				srv.settings().headers(1, false, ":status", "200").data(1, false, "one")
				a := srv.take()
				srv.data(1, false, "lost").headers(3, false, ":status", "200")
				lost := len(srv.take())
				srv.data(3, true, "three").data(1, true, "end")
				return []piece{toServer(cli), {s: ToClient, data: a, lost: lost}, toClient(srv)}
			},
			want: result{
				Stats: map[string]uint64{"capture_gap": 1, "resynced": 1},
				Transactions: []txnView{
					h2tx(3, h2Req("GET", "/3"), msgView{Proto: "2", Header: []string{}}.body(5, "").incomplete().partial()),
					h2tx(1, h2Req("GET", "/1"), h2Resp(200).body(6, "one").incomplete()),
				},
			},
		},
	})
}

func TestH2GapsBounded(t *testing.T) {
	runH2Cases(t, []h2Case{
		{
			name: "a loss inside a skipped frame keeps the framing",
			build: func(cli, srv *h2Builder) []piece {
				cli.preface().settings().headers(1, true, reqFields("GET", "/")...)
				srv.settings().headers(1, false, ":status", "200").pingAndWindow()
				s := srv.take()
				cut := len(s) - 14 - 13 - 4 // the last 4 bytes of the PING payload
				srv.data(1, true, "ok")
				return []piece{toServer(cli), {s: ToClient, data: s[:cut], lost: 4}, resp(s[cut+4:]), toClient(srv)}
			},
			want: result{Transactions: []txnView{h2tx(1, h2Req("GET", "/"), h2Resp(200).body(2, "ok"))}},
		},
		{
			name: "a loss of the Pad Length: the content size is unknown",
			build: func(cli, srv *h2Builder) []piece {
				cli.preface().settings().headers(1, true, reqFields("GET", "/")...)
				srv.settings().headers(1, false, ":status", "200").paddedData(1, false, "abcdef", 4)
				s := srv.take()
				cut := len(s) - 11 // the Pad Length byte and the next two
				srv.data(1, true, "z")
				return []piece{toServer(cli), {s: ToClient, data: s[:cut], lost: 3}, resp(s[cut+3:]), toClient(srv)}
			},
			want: result{Transactions: []txnView{h2tx(1, h2Req("GET", "/"), h2Resp(200).body(11, "").incomplete())}},
		},
		{
			name: "streams a gap may have cut make room when streams run out",
			cfg:  Config{MaxStreams: 2},
			build: func(cli, srv *h2Builder) []piece {
				cli.preface().settings().headers(1, true, reqFields("GET", "/1")...).headers(3, true, reqFields("GET", "/3")...)
				first := toServer(cli)
				srv.settings().headers(1, false, ":status", "200").data(1, false, "a")
				a := srv.take()
				srv.headers(3, false, ":status", "200")
				lost := len(srv.take())
				cli.headers(5, true, reqFields("GET", "/5")...)
				srv.headers(5, true, ":status", "200").data(3, true, "x")
				return []piece{first, {s: ToClient, data: a, lost: lost}, toServer(cli), toClient(srv)}
			},
			want: result{
				Stats: map[string]uint64{"capture_gap": 1, "resynced": 1, "h2_too_many_streams": 1},
				Transactions: []txnView{
					h2tx(1, h2Req("GET", "/1"), h2Resp(200).body(1, "a").incomplete()),
					h2tx(5, h2Req("GET", "/5"), h2Resp(200)),
					h2tx(3, h2Req("GET", "/3"), msgView{Proto: "2", Header: []string{}}.body(1, "").incomplete().partial()),
				},
			},
		},
	})
}

// TestH2Upgrade: an HTTP/1.1 request asking for h2c, a 101, and HTTP/2 on
// both streams after it; the upgrade request is stream 1. The streams are
// cut at every byte, so that the switch happens anywhere in a piece.
func TestH2Upgrade(t *testing.T) {
	cli, srv := newH2Builder(t), newH2Builder(t)
	const upgrade = "GET /up HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAEAACAAAAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n"
	cli.preface().settings().headers(3, true, reqFields("GET", "/after")...)
	srv.settings().headers(1, false, ":status", "200").data(1, true, "upgraded").headers(3, true, ":status", "200")
	toS := upgrade + cli.take()
	toC := "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n" + srv.take()
	want := jsonOf(t, result{Protocol: "http2", Transactions: []txnView{
		h2tx(1, rq("GET", "/up", "Host: example.com", "Connection: Upgrade, HTTP2-Settings", "Upgrade: h2c", "HTTP2-Settings: AAEAACAAAAMAAABkAAQAoAAAAAIAAAAA"),
			h2Resp(200).body(8, "upgraded")),
		h2tx(3, h2Req("GET", "/after"), h2Resp(200)),
	}})
	for k := 0; k <= len(toS); k++ {
		for _, order := range [][]piece{
			{req(toS[:k]), req(toS[k:]), resp(toC)},
			{resp(toC), req(toS[:k]), req(toS[k:])},
			{req(toS[:k]), resp(toC), req(toS[k:])},
		} {
			res, _, _ := run(t, Config{MaxBodyBytes: 64}, order, true)
			if got := jsonOf(t, res); got != want {
				t.Fatalf("to-server cut at %d: %s\n%s", k, diffLines(want, got), got)
			}
		}
	}
	for k := 0; k <= len(toC); k++ {
		res, _, _ := run(t, Config{MaxBodyBytes: 64}, []piece{req(upgrade), resp(toC[:k]), req(toS[len(upgrade):]), resp(toC[k:])}, true)
		if got := jsonOf(t, res); got != want {
			t.Fatalf("to-client cut at %d: %s\n%s", k, diffLines(want, got), got)
		}
	}
}

// TestH2UpgradeDeclined: a server that answers an h2c upgrade request in
// HTTP/1.1 keeps the connection HTTP/1.1, and a request starting like the
// preface (PUT, POST) is not mistaken for it.
func TestH2UpgradeDeclined(t *testing.T) {
	checkCase(t, connCase{
		pieces: []piece{
			req("GET / HTTP/1.1\r\nUpgrade: h2c\r\n\r\n"),
			resp("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
			req("P"), req("UT /x HTTP/1.1\r\nContent-Length: 0\r\n\r\n"),
			resp("HTTP/1.1 204 No Content\r\n\r\n"),
		},
		want: result{Protocol: "http1", Transactions: []txnView{
			tx(rq("GET", "/", "Upgrade: h2c"), rs(200, "OK", "Content-Length: 0")),
			tx(rq("PUT", "/x", "Content-Length: 0"), rs(204, "No Content")),
		}},
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
