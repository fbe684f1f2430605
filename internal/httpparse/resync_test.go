package httpparse

import "testing"

// TestResync: a capture gap that breaks framing emits what was in flight
// and resynchronises both streams at the next message starts, without ever
// pairing a response with a request it may not answer.
func TestResync(t *testing.T) {
	const (
		ok0  = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n" // 38 bytes
		getB = "GET /b HTTP/1.1\r\n\r\n"
		getC = "GET /c HTTP/1.1\r\n\r\n"
	)
	tests := []connCase{
		{
			name: "gap in a response head: both streams resume at the next exchange",
			cfg:  Config{MaxBodyBytes: 8},
			pieces: []piece{
				req("GET /a HTTP/1.1\r\n\r\n"),
				{s: ToClient, data: "HTTP/1.1 200 OK\r\nContent-Type: text/pl", lost: 20},
				resp("body of /a"), // skipped
				req(getB),
				resp("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb"),
			},
			want: result{Protocol: "http1", Stats: map[string]uint64{"capture_gap": 1, "resync_skipped_bytes": 10, "resynced": 2}, Transactions: []txnView{
				tx(rq("GET", "/a"), rs(200, "OK").incomplete()),
				tx(rq("GET", "/b"), rs(200, "OK", "Content-Length: 1").body(1, "b")),
			}},
		},
		{
			name: "gap past the end of a known-length body",
			cfg:  Config{MaxBodyBytes: 8},
			pieces: []piece{
				req("GET /a HTTP/1.1\r\n\r\n"),
				{s: ToClient, data: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234", lost: 20},
				req(getB),
				resp(ok0),
			},
			want: result{Protocol: "http1", Stats: map[string]uint64{"capture_gap": 1, "resynced": 2}, Transactions: []txnView{
				tx(rq("GET", "/a"), rs(200, "OK", "Content-Length: 10").body(10, "01234").lost(5)),
				tx(rq("GET", "/b"), rs(200, "OK", "Content-Length: 0")),
			}},
		},
		{
			name: "gap in a chunk-size line, then the next exchange",
			cfg:  Config{MaxBodyBytes: 8},
			pieces: []piece{
				req("GET /a HTTP/1.1\r\n\r\n"),
				{s: ToClient, data: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n1", lost: 8},
				resp("0\r\n\r\n"),
				req(getB),
				resp(ok0),
			},
			want: result{Protocol: "http1", Stats: map[string]uint64{"capture_gap": 1, "resync_skipped_bytes": 5, "resynced": 2}, Transactions: []txnView{
				tx(rq("GET", "/a"), rs(200, "OK", "Transfer-Encoding: chunked").body(3, "abc").incomplete()),
				tx(rq("GET", "/b"), rs(200, "OK", "Content-Length: 0")),
			}},
		},
		{
			name: "request bytes are skipped until a piece starts a request",
			cfg:  Config{MaxBodyBytes: 8},
			pieces: []piece{
				{s: ToServer, data: "POST /a HTTP/1.1\r\nContent-Le", lost: 40},
				req("rest of the body"),
				req("\r\nGET /x HTTP/1.1\r\n\r\n"), // no request at its start
				resp(ok0),                          // may answer /a
				req(getB),
				resp(ok0),
			},
			want: result{Protocol: "http1", Stats: map[string]uint64{"capture_gap": 1, "no_response": 1, "resync_discarded_response": 1,
				"resync_skipped_bytes": 16 + 21 + 38, "resynced": 2}, Transactions: []txnView{
				tx(rq("POST", "/a").incomplete()),
				tx(rq("GET", "/b"), rs(200, "OK", "Content-Length: 0")),
			}},
		},
		{
			name: "the response to a request lost in the gap is discarded",
			pieces: []piece{
				req("GET /a HTTP/1.1\r\n\r\n"),
				resp(ok0),
				{s: ToServer, lost: 19}, // GET /b, lost
				resp("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"),
				req(getC),
				resp(ok0),
			},
			want: result{Protocol: "http1", Stats: map[string]uint64{"capture_gap": 1, "resync_discarded_response": 1,
				"resync_skipped_bytes": 45, "resynced": 2}, Transactions: []txnView{
				tx(rq("GET", "/a"), rs(200, "OK", "Content-Length: 0")),
				tx(rq("GET", "/c"), rs(200, "OK", "Content-Length: 0")),
			}},
		},
		{
			// /b's response arrives before /b (early.go) but right after a
			// gap it cannot be told from the answer to a lost request, so it
			// is discarded; /c's response then finds /b and /c waiting and
			// can pair with neither for sure.
			name: "an early response right after a gap costs two transactions, never a wrong pair",
			pieces: []piece{
				req("GET /a HTTP/1.1\r\n\r\n"),
				{s: ToClient, data: "HTTP/1.1 200 OK\r\n", lost: 30},
				resp("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb"),
				req(getB),
				req(getC),
				resp("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nc"),
				req("GET /d HTTP/1.1\r\n\r\n"),
				resp("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nd"),
			},
			want: result{Protocol: "http1", Stats: map[string]uint64{"capture_gap": 1, "no_response": 2, "resync_discarded_response": 2,
				"resync_skipped_bytes": 78, "resynced": 2}, Transactions: []txnView{
				tx(rq("GET", "/a"), rs(200, "OK").incomplete()),
				tx(rq("GET", "/b")),
				tx(rq("GET", "/c")),
				tx(rq("GET", "/d"), rs(200, "OK", "Content-Length: 1").body(1, "")),
			}},
		},
		{
			name: "pipelined requests after a gap are given up on until the pipeline pauses",
			pieces: []piece{
				{s: ToServer, data: "GET /a HTTP/1.1\r\nHo", lost: 10},
				req(getB + getC),
				resp(ok0 + ok0),
				req("GET /d HTTP/1.1\r\n\r\n"),
				resp(ok0),
			},
			want: result{Protocol: "http1", Stats: map[string]uint64{"capture_gap": 1, "no_response": 3, "resync_discarded_response": 1,
				"resync_skipped_bytes": 76, "resynced": 2}, Transactions: []txnView{
				tx(rq("GET", "/a").incomplete()),
				tx(rq("GET", "/b")),
				tx(rq("GET", "/c")),
				tx(rq("GET", "/d"), rs(200, "OK", "Content-Length: 0")),
			}},
		},
		{
			name: "a response held when the gap hits is discarded",
			pieces: []piece{
				req("GET /a HTTP/1.1\r\n\r\n"),
				resp(ok0 + ok0), // the second one is held
				{s: ToServer, lost: 19},
				req(getC),
				resp(ok0),
			},
			want: result{Protocol: "http1", Stats: map[string]uint64{"capture_gap": 1, "resync_discarded_response": 1,
				"resync_skipped_bytes": 38, "resynced": 2}, Transactions: []txnView{
				tx(rq("GET", "/a"), rs(200, "OK", "Content-Length: 0")),
				tx(rq("GET", "/c"), rs(200, "OK", "Content-Length: 0")),
			}},
		},
		{
			name: "losses while resynchronising are not counted again",
			pieces: []piece{
				{s: ToServer, data: "GET /a HTTP/1.1\r\nHo", lost: 10},
				{s: ToServer, data: "junk", lost: 10},
				{s: ToClient, data: "more junk", lost: 10},
				{s: ToServer, lost: 10},
				req(getB),
				resp(ok0),
			},
			want: result{Protocol: "http1", Stats: map[string]uint64{"capture_gap": 1, "no_response": 1, "resync_skipped_bytes": 13, "resynced": 2}, Transactions: []txnView{
				tx(rq("GET", "/a").incomplete()),
				tx(rq("GET", "/b"), rs(200, "OK", "Content-Length: 0")),
			}},
		},
		{
			name: "a second gap after resuming resynchronises again",
			pieces: []piece{
				{s: ToServer, data: "GET /a HTTP/1.1\r\nHo", lost: 10},
				req(getB),
				{s: ToClient, data: "HTTP/1.1 200 OK\r\nCon", lost: 10},
				req(getC),
				resp(ok0),
			},
			want: result{Protocol: "http1", Stats: map[string]uint64{"capture_gap": 2, "no_response": 1, "resynced": 4}, Transactions: []txnView{
				tx(rq("GET", "/a").incomplete()),
				tx(rq("GET", "/b"), rs(200, "OK").incomplete()),
				tx(rq("GET", "/c"), rs(200, "OK", "Content-Length: 0")),
			}},
		},
		{
			name: "a gap inside the request body being sent when the response head is cut",
			cfg:  Config{MaxBodyBytes: 16},
			pieces: []piece{
				req("POST /a HTTP/1.1\r\nContent-Length: 10\r\n\r\n01234"),
				{s: ToClient, data: "HTTP/1.1 413 Too Large\r\nConn", lost: 10},
				req("56789"), // rest of the body, skipped
				req(getB),
				resp(ok0),
			},
			want: result{Protocol: "http1", Stats: map[string]uint64{"capture_gap": 1, "resync_skipped_bytes": 5, "resynced": 2}, Transactions: []txnView{
				tx(rq("POST", "/a", "Content-Length: 10").body(5, "01234").incomplete(), rs(413, "Too Large").incomplete()),
				tx(rq("GET", "/b"), rs(200, "OK", "Content-Length: 0")),
			}},
		},
		{
			// Framing survives: no resync, the body is only truncated.
			name: "a gap inside chunk data keeps the connection in step",
			cfg:  Config{MaxBodyBytes: 16},
			pieces: []piece{
				req("GET /a HTTP/1.1\r\n\r\n"),
				{s: ToClient, data: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nab", lost: 4},
				resp("\r\n0\r\n\r\n"),
				req(getB),
				resp(ok0),
			},
			want: result{Protocol: "http1", Transactions: []txnView{
				tx(rq("GET", "/a"), rs(200, "OK", "Transfer-Encoding: chunked").body(6, "ab").lost(4)),
				tx(rq("GET", "/b"), rs(200, "OK", "Content-Length: 0")),
			}},
		},
		{
			name: "a gap before the protocol is decided still gives up",
			pieces: []piece{
				{s: ToServer, data: "GET /a-very-long-target", lost: 10},
				req(getB),
				resp(ok0),
			},
			want:    result{Protocol: "unknown", Stats: map[string]uint64{"capture_gap": 1}},
			wantErr: KindCaptureGap,
		},
		{
			name: "responses resume only at a piece starting a status line",
			pieces: []piece{
				{s: ToServer, data: "GET /a HTTP/1.1\r\nHo", lost: 10},
				req(getB),
				resp("\r\n" + ok0), // not at its start
				resp(ok0),
				req(getC),
				resp(ok0),
			},
			want: result{Protocol: "http1", Stats: map[string]uint64{"capture_gap": 1, "no_response": 1, "resync_skipped_bytes": 40, "resynced": 2}, Transactions: []txnView{
				tx(rq("GET", "/a").incomplete()),
				tx(rq("GET", "/b"), rs(200, "OK", "Content-Length: 0")),
				tx(rq("GET", "/c"), rs(200, "OK", "Content-Length: 0")),
			}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { checkCase(t, tc) })
	}
}
