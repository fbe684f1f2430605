package httpparse

import (
	"strings"
	"testing"

	"golang.org/x/net/http2"
)

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
