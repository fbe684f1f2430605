package httpparse

import (
	"strings"
	"testing"

	"golang.org/x/net/http2"
)

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
