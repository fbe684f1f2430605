package httpparse

import (
	"testing"

	"golang.org/x/net/http2"
)

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
