package httpparse

import (
	"testing"
)

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
				h2tx(1, h2Req("GET", "/"), h2Resp(200).body(12, "0123").lost(6)),
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
			want: result{Transactions: []txnView{h2tx(1, h2Req("GET", "/"), h2Resp(200).body(11, "").lost(2).incomplete())}},
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
