package httpparse

import (
	"testing"
)

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

// TestH2UpgradeCut: a 101 accepting an h2c upgrade whose header block the
// end of the connection cut switches to nothing; its request goes out with
// the partial 101, not handed to an HTTP/2 that never comes.
func TestH2UpgradeCut(t *testing.T) {
	checkCase(t, connCase{
		pieces: []piece{
			req("GET /up HTTP/1.1\r\nUpgrade: h2c\r\n\r\n"),
			resp("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n"),
		},
		want: result{Protocol: "http1", Transactions: []txnView{
			tx(rq("GET", "/up", "Upgrade: h2c"), rs(101, "Switching Protocols", "Upgrade: h2c").incomplete()),
		}},
	})
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
