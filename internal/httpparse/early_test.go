package httpparse

import (
	"strings"
	"testing"
	"time"
)

// TestEarlyResponse: a response that arrives before its request is held
// until the request's head is parsed, then parsed as if it had come after.
func TestEarlyResponse(t *testing.T) {
	// A response one byte a piece: more pieces than maxEarlyPieces.
	tinyResp := "HTTP/1.1 200 OK\r\nX: " + strings.Repeat("v", maxEarlyPieces) + "\r\nContent-Length: 1\r\n\r\nz"
	var tiny, tinyLossy []piece
	for i, b := range []byte(tinyResp) {
		tiny = append(tiny, resp(string(b)))
		p := resp(string(b))
		if i == maxEarlyPieces-1 {
			p.lost = 1 // a loss inside a field value: parsing would resynchronise
		}
		tinyLossy = append(tinyLossy, p)
	}
	tests := []connCase{
		{
			name: "response before its request pairs with it",
			cfg:  Config{MaxBodyBytes: 8},
			pieces: []piece{
				resp("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
				req("GET /a HTTP/1.1\r\nHost: h\r\n\r\n"),
			},
			want: result{Protocol: "http1", Transactions: []txnView{
				tx(rq("GET", "/a", "Host: h"), rs(200, "OK", "Content-Length: 2").body(2, "ok")),
			}},
		},
		{
			// Held with its CRLF: before the first request the server's
			// bytes could be an HTTP/2 server's first frame.
			name: "early response after blank lines on a new connection",
			cfg:  Config{MaxBodyBytes: 8},
			pieces: []piece{
				resp("\r\n"),
				resp("\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
				req("GET /a HTTP/1.1\r\nHost: h\r\n\r\n"),
			},
			want: result{Protocol: "http1", Transactions: []txnView{
				tx(rq("GET", "/a", "Host: h"), rs(200, "OK", "Content-Length: 2").body(2, "ok")),
			}},
		},
		{
			name: "early response in pieces around its request",
			cfg:  Config{MaxBodyBytes: 8},
			pieces: []piece{
				resp("HTTP/1.1 200 OK\r\nCont"),
				resp("ent-Length: 4\r\n\r\nab"),
				req("GET /a HTTP/1.1\r\n"),
				resp("c"),
				req("\r\n"),
				resp("d"),
			},
			want: result{Protocol: "http1", Transactions: []txnView{
				tx(rq("GET", "/a"), rs(200, "OK", "Content-Length: 4").body(4, "abcd")),
			}},
		},
		{
			name: "early response to HEAD is framed without a body",
			cfg:  Config{MaxBodyBytes: 8},
			pieces: []piece{
				resp("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
				req("HEAD /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n"),
			},
			want: result{Protocol: "http1", Transactions: []txnView{
				tx(rq("HEAD", "/a"), rs(200, "OK", "Content-Length: 10")),
				tx(rq("GET", "/b"), rs(200, "OK", "Content-Length: 2").body(2, "ok")),
			}},
		},
		{
			name: "early 2xx to CONNECT makes a tunnel",
			pieces: []piece{
				resp("HTTP/1.1 200 Connection Established\r\n\r\n\x16\x03\x03\x00\x7a"),
				req("CONNECT h:443 HTTP/1.1\r\n\r\n"),
				req("\x16\x03\x01\x00\xa5"),
			},
			want: result{Protocol: "http1", Transactions: []txnView{
				tx(rq("CONNECT", "h:443"), rs(200, "Connection Established")),
			}},
		},
		{
			name: "two early responses wait for their requests one by one",
			cfg:  Config{MaxBodyBytes: 8},
			pieces: []piece{
				resp("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 1\r\n\r\nb"),
				req("GET /a HTTP/1.1\r\n\r\n"),
				resp("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nc"),
				req("GET /b HTTP/1.1\r\n\r\n"),
				req("GET /c HTTP/1.1\r\n\r\n"),
			},
			want: result{Protocol: "http1", Transactions: []txnView{
				tx(rq("GET", "/a"), rs(200, "OK", "Content-Length: 1").body(1, "a")),
				tx(rq("GET", "/b"), rs(404, "Not Found", "Content-Length: 1").body(1, "b")),
				tx(rq("GET", "/c"), rs(200, "OK", "Content-Length: 1").body(1, "c")),
			}},
		},
		{
			name: "early 100 Continue",
			cfg:  Config{MaxBodyBytes: 8},
			pieces: []piece{
				req("GET /a HTTP/1.1\r\n\r\n"),
				resp("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n"),
				req("PUT /b HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"),
				req("hi"),
				resp("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"),
			},
			want: result{Protocol: "http1", Transactions: []txnView{
				tx(rq("GET", "/a"), rs(200, "OK", "Content-Length: 0")),
				tx(rq("PUT", "/b", "Expect: 100-continue", "Content-Length: 2").body(2, "hi"), rs(201, "Created", "Content-Length: 0")),
			}},
		},
		{
			name: "a loss inside a held body is replayed in order",
			cfg:  Config{MaxBodyBytes: 8},
			pieces: []piece{
				{s: ToClient, data: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01", lost: 5},
				resp("567"),
				req("GET /a HTTP/1.1\r\n\r\n"),
			},
			want: result{Protocol: "http1", Transactions: []txnView{
				tx(rq("GET", "/a"), rs(200, "OK", "Content-Length: 10").body(10, "01").lost(5)),
			}},
		},
		{
			// The response held after the loss may answer a request the
			// capture lost too, so the resync throws it away.
			name: "a held loss that breaks framing resynchronises when replayed",
			pieces: []piece{
				{s: ToClient, data: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", lost: 30},
				resp("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
				req("GET /a HTTP/1.1\r\n\r\n"),
				req("GET /b HTTP/1.1\r\n\r\n"),
				resp("HTTP/1.1 204 No Content\r\n\r\n"),
			},
			want: result{Protocol: "http1", Stats: map[string]uint64{"capture_gap": 1, "resynced": 2,
				"resync_discarded_response": 1, "resync_skipped_bytes": 38}, Transactions: []txnView{
				tx(rq("GET", "/a"), rs(200, "OK", "Content-Length: 0")),
				tx(rq("GET", "/b"), rs(204, "No Content")),
			}},
		},
		{
			// Held blank lines are no response, but a loss after them
			// may have been one.
			name: "blank lines and a loss before any request count as unmatched",
			pieces: []piece{
				{s: ToClient, data: "\r\n", lost: 50},
			},
			want: result{Protocol: "unknown", Stats: map[string]uint64{"unmatched_response": 1}},
		},
		{
			// What a resync throws away of the held bytes is blank lines:
			// no response, no bytes skipped.
			name: "held blank lines are no response a resync discards",
			pieces: []piece{
				resp("\r\n"),
				{s: ToServer, data: "GET /a HTTP/1.1\r\nHo", lost: 10},
				req("GET /b HTTP/1.1\r\n\r\n"),
				resp("HTTP/1.1 204 No Content\r\n\r\n"),
			},
			want: result{Protocol: "http1", Stats: map[string]uint64{"capture_gap": 1, "resynced": 2, "no_response": 1}, Transactions: []txnView{
				tx(rq("GET", "/a").incomplete()),
				tx(rq("GET", "/b"), rs(204, "No Content")),
			}},
		},
		{
			name: "a server that speaks HTTP first never pairs",
			pieces: []piece{
				resp("HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n"),
			},
			want: result{Protocol: "unknown", Stats: map[string]uint64{"unmatched_response": 1}},
		},
		{
			name: "a server that speaks something else first is not HTTP at once",
			pieces: []piece{
				resp("220 smtp.example.com ESMTP\r\n"),
				req("EHLO client\r\n"),
			},
			want:    result{Protocol: "other", Stats: map[string]uint64{"not_http": 1}},
			wantErr: KindNotHTTP,
		},
		{
			name: "held bytes that stop looking like a status line",
			pieces: []piece{
				resp("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTX"),
				req("GET /a HTTP/1.1\r\n\r\n"),
			},
			want: result{Protocol: "http1", Stats: map[string]uint64{"malformed": 1}, Transactions: []txnView{
				tx(rq("GET", "/a"), rs(200, "OK", "Content-Length: 0")),
			}},
			wantErr: KindMalformed,
		},
		{
			name: "held bytes beyond MaxEarlyResponseBytes give up",
			cfg:  Config{MaxHeaderBytes: 64, MaxEarlyResponseBytes: 100},
			pieces: []piece{
				resp("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"), // 40 bytes
				resp(strings.Repeat("z", 60)),
				resp("z"), // 101 bytes
				req("GET /a HTTP/1.1\r\n\r\n"),
				resp("more"),
			},
			want:    result{Protocol: "unknown", Stats: map[string]uint64{"early_response_too_large": 1}},
			wantErr: KindEarlyResponseTooLarge,
		},
		{
			name: "exactly MaxEarlyResponseBytes fits",
			cfg:  Config{MaxHeaderBytes: 64, MaxEarlyResponseBytes: 100},
			pieces: []piece{
				resp("HTTP/1.1 200 OK\r\nContent-Length: 61\r\n\r\n"), // 39 bytes
				resp(strings.Repeat("z", 61)),
				req("GET /a HTTP/1.1\r\n\r\n"),
			},
			want: result{Protocol: "http1", Transactions: []txnView{
				tx(rq("GET", "/a"), rs(200, "OK", "Content-Length: 61").body(61, "")),
			}},
		},
		{
			name:   "held pieces beyond their bound are merged",
			cfg:    Config{MaxBodyBytes: 8},
			pieces: append(tiny[:len(tiny):len(tiny)], req("GET /a HTTP/1.1\r\n\r\n")),
			want: result{Protocol: "http1", Transactions: []txnView{
				tx(rq("GET", "/a"), rs(200, "OK", "X: "+strings.Repeat("v", maxEarlyPieces), "Content-Length: 1").body(1, "z")),
			}},
		},
		{
			name:    "held pieces beyond their bound with a loss between them give up",
			pieces:  append(tinyLossy[:len(tinyLossy):len(tinyLossy)], req("GET /a HTTP/1.1\r\n\r\n")),
			want:    result{Protocol: "unknown", Stats: map[string]uint64{"early_response_too_large": 1}},
			wantErr: KindEarlyResponseTooLarge,
		},
		{
			// Verdicts do not depend on cutting: the start is checked first.
			name:    "a non-status line larger than the hold bound is not HTTP",
			cfg:     Config{MaxHeaderBytes: 64},
			pieces:  []piece{resp(strings.Repeat("0", 200))},
			want:    result{Protocol: "other", Stats: map[string]uint64{"not_http": 1}},
			wantErr: KindNotHTTP,
		},
		{
			name: "early response bytes and pending overflow keep pairing right",
			cfg:  Config{MaxPending: 1, MaxBodyBytes: 8},
			pieces: []piece{
				resp("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na" + "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb"),
				req("GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n"),
			},
			want: result{Protocol: "http1", Stats: map[string]uint64{"pending_overflow": 1}, Transactions: []txnView{
				tx(rq("GET", "/b"), rs(200, "OK", "Content-Length: 1").body(1, "b")),
			}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { checkCase(t, tc) })
	}
}

// TestEarlyResponseTimestamps: held pieces keep their own times, so a
// response's Start and End are those of the pieces holding its first and
// last bytes, even when they came before the request.
func TestEarlyResponseTimestamps(t *testing.T) {
	tests := []struct {
		name   string
		pieces []piece
		want   [][4]int // request start, end, response start, end: piece indexes
	}{
		{
			name: "whole response held",
			pieces: []piece{
				resp("HTTP/1.1 200 OK\r\nCont"), // 0
				resp("ent-Length: 2\r\n\r\nok"), // 1
				req("GET /a HTTP/1.1\r\n\r\n"),  // 2
			},
			want: [][4]int{{2, 2, 0, 1}},
		},
		{
			name: "response ends after its request",
			pieces: []piece{
				resp("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"), // 0
				req("GET /a HTTP/1.1\r\n"),                           // 1
				resp("o"),                                            // 2
				req("\r\n"),                                          // 3
				resp("k"),                                            // 4
			},
			want: [][4]int{{1, 3, 0, 4}},
		},
		{
			name: "second response partly released",
			pieces: []piece{
				resp("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\n"), // 0
				resp("Content-Length: 0\r\n\r\n"),                                       // 1
				req("GET /a HTTP/1.1\r\n\r\n"),                                          // 2
				req("GET /b HTTP/1.1\r\n\r\n"),                                          // 3
			},
			want: [][4]int{{2, 2, 0, 0}, {3, 3, 0, 1}},
		},
	}
	// Beyond maxEarlyPieces pieces merge, but a message's first and last
	// bytes keep their pieces' times when they start and end the run.
	var many []piece
	for _, b := range []byte("HTTP/1.1 200 OK\r\nX: " + strings.Repeat("v", 2*maxEarlyPieces) + "\r\n\r\n") {
		many = append(many, resp(string(b)))
	}
	n := len(many)
	tests = append(tests, struct {
		name   string
		pieces []piece
		want   [][4]int
	}{"more pieces than are kept apart", append(many, req("GET /a HTTP/1.0\r\n\r\n")), [][4]int{{n, n, 0, n - 1}}})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, txns, _ := run(t, Config{}, tc.pieces, true)
			if len(txns) != len(tc.want) {
				t.Fatalf("got %d transactions, want %d", len(txns), len(tc.want))
			}
			for i, w := range tc.want {
				if txns[i].Response == nil {
					t.Fatalf("transaction %d has no response", i)
				}
				got := []time.Time{txns[i].Request.Start, txns[i].Request.End, txns[i].Response.Start, txns[i].Response.End}
				for j := range w {
					if !got[j].Equal(tsOf(w[j])) {
						t.Errorf("transaction %d: time %d = %v, want piece %d (%v)", i, j, got[j], w[j], tsOf(w[j]))
					}
				}
			}
		})
	}
}
