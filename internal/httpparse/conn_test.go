package httpparse

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// Builders for expected views.

func rq(method, target string, header ...string) msgView {
	return msgView{Method: method, Target: target, Proto: "1.1", Header: append([]string{}, header...)}
}

func rs(status int, reason string, header ...string) msgView {
	return msgView{Status: status, Reason: reason, Proto: "1.1", Header: append([]string{}, header...)}
}

func (m msgView) body(size int64, body string) msgView {
	m.BodySize, m.Body, m.BodyTruncated = size, body, int64(len(body)) < size
	return m
}

func (m msgView) incomplete() msgView { m.Incomplete = true; return m }

// lost notes n body bytes a capture gap took.
func (m msgView) lost(n int64) msgView { m.BodyLost = n; return m }

func (m msgView) proto(p string) msgView { m.Proto = p; return m }

func tx(request msgView, response ...msgView) txnView {
	v := txnView{Request: request}
	if len(response) > 0 {
		v.Response = &response[0]
	}
	return v
}

type connCase struct {
	name    string
	cfg     Config
	pieces  []piece
	noClose bool
	want    result
	wantErr Kind // 0: Err() must be nil
}

func checkCase(t *testing.T, tc connCase) {
	t.Helper()
	res, _, c := run(t, tc.cfg, tc.pieces, !tc.noClose)
	var e *Error
	switch err := c.Err(); {
	case tc.wantErr == 0 && err != nil:
		t.Errorf("Err() = %v, want nil", err)
	case tc.wantErr != 0 && !errors.As(err, &e):
		t.Errorf("Err() = %v, want an *Error of kind %s", err, tc.wantErr)
	case tc.wantErr != 0 && e.Kind != tc.wantErr:
		t.Errorf("Err() kind = %s (%v), want %s", e.Kind, err, tc.wantErr)
	}
	res.Err = ""
	if tc.want.Transactions == nil {
		tc.want.Transactions = []txnView{}
	}
	if want, got := jsonOf(t, tc.want), jsonOf(t, res); want != got {
		t.Errorf("%s\nwant:\n%s\ngot:\n%s", diffLines(want, got), want, got)
	}
}

func TestKeepAlive(t *testing.T) {
	tc := connCase{cfg: Config{MaxBodyBytes: 64}, want: result{Protocol: "http1"}}
	for i := range 10 {
		body := fmt.Sprintf("response %d", i)
		tc.pieces = append(tc.pieces,
			req(fmt.Sprintf("GET /item/%d HTTP/1.1\r\nHost: example.com\r\n\r\n", i)),
			resp(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body)))
		tc.want.Transactions = append(tc.want.Transactions, tx(
			rq("GET", fmt.Sprintf("/item/%d", i), "Host: example.com"),
			rs(200, "OK", fmt.Sprintf("Content-Length: %d", len(body))).body(int64(len(body)), body)))
	}
	checkCase(t, tc)
}

func TestConn(t *testing.T) {
	big := strings.Repeat("x", 200)
	tests := []connCase{
		{
			name: "pipelining pairs responses in order, HEAD response has no body",
			cfg:  Config{MaxBodyBytes: 16},
			pieces: []piece{
				req("GET /a HTTP/1.1\r\nHost: h\r\n\r\nHEAD /b HTTP/1.1\r\nHost: h\r\n\r\nPOST /c HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"),
				resp("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" +
					"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" +
					"HTTP/1.1 201 Created\r\nContent-Length: 4\r\n\r\ndone"),
			},
			want: result{Protocol: "http1", Transactions: []txnView{
				tx(rq("GET", "/a", "Host: h"), rs(200, "OK", "Content-Length: 2").body(2, "ok")),
				tx(rq("HEAD", "/b", "Host: h"), rs(200, "OK", "Content-Length: 1000")),
				tx(rq("POST", "/c", "Host: h", "Content-Length: 3").body(3, "abc"), rs(201, "Created", "Content-Length: 4").body(4, "done")),
			}},
		},
		{
			name: "chunked with extensions and trailers, then the next exchange",
			cfg:  Config{MaxBodyBytes: 64},
			pieces: []piece{
				req("POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;a=b\r\nabc\r\n0\r\n\r\n"),
				resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
					"5;name=val\r\nhello\r\n6 ; x=\"q\"\r\n world\r\n0;last\r\nX-T: 1\r\nX-U: 2\r\n\r\n"),
				req("GET /next HTTP/1.1\r\n\r\n"),
				resp("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
			},
			want: result{Protocol: "http1", Transactions: []txnView{
				tx(rq("POST", "/up", "Transfer-Encoding: chunked").body(3, "abc"),
					rs(200, "OK", "Transfer-Encoding: chunked").body(11, "hello world")),
				tx(rq("GET", "/next"), rs(200, "OK", "Content-Length: 0")),
			}},
		},
		{
			name: "chunked with upper-case hex, leading zeros and bare LF",
			cfg:  Config{MaxBodyBytes: 64},
			pieces: []piece{
				req("GET / HTTP/1.1\n\n"),
				resp("HTTP/1.1 200 OK\nTransfer-Encoding: gzip, chunked\n\n000A\n0123456789\n0\n\n"),
			},
			want: result{Protocol: "http1", Transactions: []txnView{
				tx(rq("GET", "/"), rs(200, "OK", "Transfer-Encoding: gzip, chunked").body(10, "0123456789")),
			}},
		},
		{
			name: "Transfer-Encoding overrides Content-Length",
			cfg:  Config{MaxBodyBytes: 64},
			pieces: []piece{
				req("GET / HTTP/1.1\r\n\r\n"),
				resp("HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n"),
			},
			want: result{Protocol: "http1", Transactions: []txnView{
				tx(rq("GET", "/"), rs(200, "OK", "Content-Length: 99", "Transfer-Encoding: chunked").body(2, "hi")),
			}},
		},
		{
			name: "Content-Length bodies are truncated at MaxBodyBytes",
			cfg:  Config{MaxBodyBytes: 4},
			pieces: []piece{
				req("PUT /f HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789"),
				resp("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nstored"),
			},
			want: result{Protocol: "http1", Transactions: []txnView{
				tx(rq("PUT", "/f", "Content-Length: 10").body(10, "0123"), rs(200, "OK", "Content-Length: 6").body(6, "stor")),
			}},
		},
		{
			name: "MaxBodyBytes 0 keeps no body but counts it",
			pieces: []piece{
				req("GET / HTTP/1.1\r\n\r\n"),
				resp("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"),
			},
			want: result{Protocol: "http1", Transactions: []txnView{
				tx(rq("GET", "/"), rs(200, "OK", "Content-Length: 3").body(3, "")),
			}},
		},
		{
			name: "identical Content-Length values are one value",
			cfg:  Config{MaxBodyBytes: 8},
			pieces: []piece{
				req("GET / HTTP/1.1\r\n\r\n"),
				resp("HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\nContent-Length: 2\r\n\r\nok"),
			},
			want: result{Protocol: "http1", Transactions: []txnView{
				tx(rq("GET", "/"), rs(200, "OK", "Content-Length: 2, 2", "Content-Length: 2").body(2, "ok")),
			}},
		},
		{
			name: "response without length is read until close",
			cfg:  Config{MaxBodyBytes: 64},
			pieces: []piece{
				req("GET /old HTTP/1.0\r\n\r\n"),
				resp("HTTP/1.0 200 OK\r\nServer: old\r\n\r\nfirst "),
				resp("second"),
			},
			want: result{Protocol: "http1", Transactions: []txnView{
				tx(rq("GET", "/old").proto("1.0"), rs(200, "OK", "Server: old").proto("1.0").body(12, "first second")),
			}},
		},
		{
			name: "response whose final coding is not chunked is read until close",
			cfg:  Config{MaxBodyBytes: 64},
			pieces: []piece{
				req("GET / HTTP/1.1\r\n\r\n"),
				resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n\x1f\x8b"),
			},
			want: result{Protocol: "http1", Transactions: []txnView{
				tx(rq("GET", "/"), rs(200, "OK", "Transfer-Encoding: chunked, gzip").body(2, "\x1f\x8b")),
			}},
		},
		{
			name: "204 and 304 have no body whatever their headers say",
			cfg:  Config{MaxBodyBytes: 8},
			pieces: []piece{
				req("DELETE /x HTTP/1.1\r\n\r\nGET /y HTTP/1.1\r\nIf-None-Match: \"1\"\r\n\r\nGET /z HTTP/1.1\r\n\r\n"),
				resp("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n" +
					"HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\nETag: \"1\"\r\n\r\n" +
					"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nz"),
			},
			want: result{Protocol: "http1", Transactions: []txnView{
				tx(rq("DELETE", "/x"), rs(204, "No Content", "Content-Length: 5")),
				tx(rq("GET", "/y", `If-None-Match: "1"`), rs(304, "Not Modified", "Content-Length: 7", `ETag: "1"`)),
				tx(rq("GET", "/z"), rs(200, "OK", "Content-Length: 1").body(1, "z")),
			}},
		},
		{
			name: "interim 1xx responses are skipped",
			cfg:  Config{MaxBodyBytes: 8},
			pieces: []piece{
				req("POST /e HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"),
				resp("HTTP/1.1 100 Continue\r\n\r\n"),
				req("data"),
				resp("HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
			},
			want: result{Protocol: "http1", Transactions: []txnView{
				tx(rq("POST", "/e", "Expect: 100-continue", "Content-Length: 4").body(4, "data"),
					rs(200, "OK", "Content-Length: 2").body(2, "ok")),
			}},
		},
		{
			name: "101 Switching Protocols ends HTTP parsing without error",
			cfg:  Config{MaxBodyBytes: 8},
			pieces: []piece{
				req("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"),
				resp("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello"),
				req("\x81\x85\x00\x00\x00\x00hello"),
				resp("\x88\x00"),
			},
			want: result{Protocol: "http1", Transactions: []txnView{
				tx(rq("GET", "/ws", "Upgrade: websocket", "Connection: Upgrade"),
					rs(101, "Switching Protocols", "Upgrade: websocket")),
			}},
		},
		{
			name: "2xx to CONNECT makes a tunnel",
			pieces: []piece{
				req("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"),
				resp("HTTP/1.1 200 Connection Established\r\n\r\n"),
				req("\x16\x03\x01\x00\xa5\x01\x00"),
			},
			want: result{Protocol: "http1", Transactions: []txnView{
				tx(rq("CONNECT", "example.com:443", "Host: example.com:443"), rs(200, "Connection Established")),
			}},
		},
		{
			name: "obs-fold joins values; whitespace lines before the first field are ignored",
			pieces: []piece{
				req("GET / HTTP/1.1\r\n  ignored\r\nX-Long: one\r\n two\r\n\tthree\r\nHost: h\r\n\r\n"),
				resp("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n"),
			},
			want: result{Protocol: "http1", Transactions: []txnView{
				tx(rq("GET", "/", "X-Long: one two three", "Host: h"), rs(200, "", "Content-Length: 0")),
			}},
		},
		{
			name: "status line without reason phrase",
			pieces: []piece{
				req("GET / HTTP/1.1\r\n\r\n"),
				resp("HTTP/1.1 500\r\nContent-Length: 0\r\n\r\n"),
			},
			want: result{Protocol: "http1", Transactions: []txnView{
				tx(rq("GET", "/"), rs(500, "", "Content-Length: 0")),
			}},
		},
		{
			name: "empty lines before a request are ignored",
			pieces: []piece{
				req("\r\n\r\nGET / HTTP/1.1\r\n\r\n\r\nGET /2 HTTP/1.1\r\n\r\n"),
				resp("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
			},
			want: result{Protocol: "http1", Transactions: []txnView{
				tx(rq("GET", "/"), rs(200, "OK", "Content-Length: 0")),
				tx(rq("GET", "/2"), rs(200, "OK", "Content-Length: 0")),
			}},
		},

		// Capture gaps.
		{
			name: "gap inside a Content-Length body keeps size and framing",
			cfg:  Config{MaxBodyBytes: 64},
			pieces: []piece{
				req("GET /a HTTP/1.1\r\n\r\n"),
				{s: ToClient, data: "HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\n0123456789", lost: 10},
				resp("abcdefghij"),
				req("GET /b HTTP/1.1\r\n\r\n"),
				resp("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb"),
			},
			want: result{Protocol: "http1", Transactions: []txnView{
				tx(rq("GET", "/a"), rs(200, "OK", "Content-Length: 30").body(30, "0123456789").lost(10)),
				tx(rq("GET", "/b"), rs(200, "OK", "Content-Length: 1").body(1, "b")),
			}},
		},
		{
			name: "gap ending exactly at the end of a body",
			cfg:  Config{MaxBodyBytes: 64},
			pieces: []piece{
				{s: ToServer, data: "POST /a HTTP/1.1\r\nContent-Length: 1000\r\n\r\n", lost: 1000},
				resp("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
			},
			want: result{Protocol: "http1", Transactions: []txnView{
				tx(rq("POST", "/a", "Content-Length: 1000").body(1000, "").lost(1000), rs(200, "OK", "Content-Length: 0")),
			}},
		},
		{
			name: "gap inside chunk data keeps decoding",
			cfg:  Config{MaxBodyBytes: 64},
			pieces: []piece{
				req("GET / HTTP/1.1\r\n\r\n"),
				{s: ToClient, data: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n14\r\n01234", lost: 10},
				resp("abcde\r\n3\r\nxyz\r\n0\r\n\r\n"),
			},
			want: result{Protocol: "http1", Transactions: []txnView{
				tx(rq("GET", "/"), rs(200, "OK", "Transfer-Encoding: chunked").body(23, "01234").lost(10)),
			}},
		},
		{
			name: "gap in a body read until close",
			cfg:  Config{MaxBodyBytes: 64},
			pieces: []piece{
				req("GET / HTTP/1.0\r\n\r\n"),
				{s: ToClient, data: "HTTP/1.0 200 OK\r\n\r\nabc", lost: 100},
				resp("def"),
			},
			want: result{Protocol: "http1", Transactions: []txnView{
				tx(rq("GET", "/").proto("1.0"), rs(200, "OK").proto("1.0").body(106, "abc").lost(100)),
			}},
		},
		{
			name: "gap running past the end of a body resynchronises after it",
			cfg:  Config{MaxBodyBytes: 64},
			pieces: []piece{
				req("GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n"),
				{s: ToClient, data: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234", lost: 20},
				resp("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
			},
			// The response that follows may be /b's or one lost in the gap:
			// it is discarded, and /b is emitted without one.
			want: result{Protocol: "http1", Stats: map[string]uint64{"capture_gap": 1, "no_response": 1,
				"resync_discarded_response": 1, "resync_skipped_bytes": 38}, Transactions: []txnView{
				tx(rq("GET", "/a"), rs(200, "OK", "Content-Length: 10").body(10, "01234").lost(5)),
				tx(rq("GET", "/b")),
			}},
		},
		{
			name: "gap inside a header block marks the message incomplete and resynchronises",
			pieces: []piece{
				{s: ToServer, data: "GET /x HTTP/1.1\r\nHost: a\r\nUser-Ag", lost: 50},
				req("GET /y HTTP/1.1\r\n\r\n"),
				resp("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
			},
			want: result{Protocol: "http1", Stats: map[string]uint64{"capture_gap": 1, "no_response": 1, "resynced": 2}, Transactions: []txnView{
				tx(rq("GET", "/x", "Host: a").incomplete()),
				tx(rq("GET", "/y"), rs(200, "OK", "Content-Length: 0")),
			}},
		},
		{
			name: "gap inside a response header block",
			pieces: []piece{
				req("GET /x HTTP/1.1\r\n\r\n"),
				{s: ToClient, data: "HTTP/1.1 200 OK\r\nContent-Le", lost: 50},
			},
			want: result{Protocol: "http1", Stats: map[string]uint64{"capture_gap": 1}, Transactions: []txnView{
				tx(rq("GET", "/x"), rs(200, "OK").incomplete()),
			}},
		},
		{
			name: "gap in a chunk-size line",
			cfg:  Config{MaxBodyBytes: 64},
			pieces: []piece{
				req("GET / HTTP/1.1\r\n\r\n"),
				{s: ToClient, data: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n1", lost: 3},
				resp("0\r\n\r\n"),
			},
			want: result{Protocol: "http1", Stats: map[string]uint64{"capture_gap": 1, "resync_skipped_bytes": 5}, Transactions: []txnView{
				tx(rq("GET", "/"), rs(200, "OK", "Transfer-Encoding: chunked").body(3, "abc").incomplete()),
			}},
		},
		{
			name: "gap between messages",
			pieces: []piece{
				req("GET /a HTTP/1.1\r\n\r\n"),
				resp("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
				{s: ToServer, lost: 40},
				resp("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
			},
			// The response may answer the request lost in the gap.
			want: result{Protocol: "http1", Stats: map[string]uint64{"capture_gap": 1,
				"resync_discarded_response": 1, "resync_skipped_bytes": 38}, Transactions: []txnView{
				tx(rq("GET", "/a"), rs(200, "OK", "Content-Length: 0")),
			}},
		},

		// Bounds.
		{
			name: "header block larger than MaxHeaderBytes",
			cfg:  Config{MaxHeaderBytes: 64},
			pieces: []piece{
				req("GET /big HTTP/1.1\r\nHost: h\r\nX-Big: " + big + "\r\n\r\n"),
				resp("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
			},
			want: result{Protocol: "http1", Stats: map[string]uint64{"header_too_large": 1, "no_response": 1}, Transactions: []txnView{
				tx(rq("GET", "/big", "Host: h").incomplete()),
			}},
			wantErr: KindHeaderTooLarge,
		},
		{
			name: "header block of exactly MaxHeaderBytes fits",
			cfg:  Config{MaxHeaderBytes: len("GET / HTTP/1.1\r\nA: bc\r\n\r\n")},
			pieces: []piece{
				req("GET / HTTP/1.1\r\nA: bc\r\n\r\n"),
				resp("HTTP/1.1 200 OK\r\n\r\n"),
			},
			want: result{Protocol: "http1", Transactions: []txnView{
				tx(rq("GET", "/", "A: bc"), rs(200, "OK")),
			}},
		},
		{
			name: "trailer section larger than MaxHeaderBytes",
			cfg:  Config{MaxHeaderBytes: 64},
			pieces: []piece{
				req("GET / HTTP/1.1\r\n\r\n"),
				resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: " + big + "\r\n\r\n"),
			},
			want: result{Protocol: "http1", Stats: map[string]uint64{"header_too_large": 1}, Transactions: []txnView{
				tx(rq("GET", "/"), rs(200, "OK", "Transfer-Encoding: chunked").incomplete()),
			}},
			wantErr: KindHeaderTooLarge,
		},
		{
			name: "pending overflow drops the oldest and keeps pairing right",
			cfg:  Config{MaxPending: 2, MaxBodyBytes: 8},
			pieces: []piece{
				req("GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\n\r\nGET /d HTTP/1.1\r\n\r\n"),
				resp("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na" +
					"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb" +
					"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nc" +
					"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nd"),
			},
			want: result{Protocol: "http1", Stats: map[string]uint64{"pending_overflow": 2}, Transactions: []txnView{
				tx(rq("GET", "/c"), rs(200, "OK", "Content-Length: 1").body(1, "c")),
				tx(rq("GET", "/d"), rs(200, "OK", "Content-Length: 1").body(1, "d")),
			}},
		},
		{
			name: "pending overflow of a HEAD request gives up",
			cfg:  Config{MaxPending: 1},
			pieces: []piece{
				req("HEAD /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n"),
				resp("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"),
			},
			want: result{Protocol: "http1", Stats: map[string]uint64{"pending_overflow": 1, "no_response": 1}, Transactions: []txnView{
				tx(rq("GET", "/b")),
			}},
			wantErr: KindPendingOverflow,
		},

		// Ends.
		{
			name: "connection closed before the response",
			pieces: []piece{
				req("GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n"),
				resp("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
			},
			want: result{Protocol: "http1", Stats: map[string]uint64{"no_response": 1}, Transactions: []txnView{
				tx(rq("GET", "/a"), rs(200, "OK", "Content-Length: 0")),
				tx(rq("GET", "/b")),
			}},
		},
		{
			name: "connection closed inside a response body",
			cfg:  Config{MaxBodyBytes: 64},
			pieces: []piece{
				req("GET / HTTP/1.1\r\n\r\n"),
				resp("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234"),
			},
			want: result{Protocol: "http1", Transactions: []txnView{
				tx(rq("GET", "/"), rs(200, "OK", "Content-Length: 10").body(5, "01234").incomplete()),
			}},
		},
		{
			name: "connection closed inside a request body and a response header block",
			cfg:  Config{MaxBodyBytes: 64},
			pieces: []piece{
				req("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n01234"),
				resp("HTTP/1.1 413 Too Large\r\nConnection: close\r\nContent-"),
			},
			want: result{Protocol: "http1", Transactions: []txnView{
				tx(rq("POST", "/", "Content-Length: 10").body(5, "01234").incomplete(),
					rs(413, "Too Large", "Connection: close").incomplete()),
			}},
		},
		{
			name:    "nothing is emitted before Close while a response is awaited",
			pieces:  []piece{req("GET / HTTP/1.1\r\n\r\n")},
			noClose: true,
			want:    result{Protocol: "http1"},
		},

		// Malformed input.
		{
			name: "field line without a colon",
			pieces: []piece{
				req("GET /a HTTP/1.1\r\n\r\n"),
				req("GET /b HTTP/1.1\r\nno colon here\r\n\r\n"),
				resp("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
			},
			want: result{Protocol: "http1", Stats: map[string]uint64{"malformed": 1, "no_response": 1}, Transactions: []txnView{
				tx(rq("GET", "/a")),
			}},
			wantErr: KindMalformed,
		},
		{
			name:    "whitespace between field name and colon",
			pieces:  []piece{req("GET / HTTP/1.1\r\nHost : h\r\n\r\n")},
			want:    result{Protocol: "http1", Stats: map[string]uint64{"malformed": 1}},
			wantErr: KindMalformed,
		},
		{
			name:    "NUL in a field value",
			pieces:  []piece{req("GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n")},
			want:    result{Protocol: "http1", Stats: map[string]uint64{"malformed": 1}},
			wantErr: KindMalformed,
		},
		{
			name: "bad chunk size",
			cfg:  Config{MaxBodyBytes: 64},
			pieces: []piece{
				req("GET / HTTP/1.1\r\n\r\n"),
				resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\nzz\r\n"),
			},
			want: result{Protocol: "http1", Stats: map[string]uint64{"malformed": 1}, Transactions: []txnView{
				tx(rq("GET", "/"), rs(200, "OK", "Transfer-Encoding: chunked").body(2, "ok").incomplete()),
			}},
			wantErr: KindMalformed,
		},
		{
			name: "trailer section not ended by CRLF",
			pieces: []piece{
				req("GET / HTTP/1.1\r\n\r\n"),
				resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: 1\r\n\rX"),
			},
			want: result{Protocol: "http1", Stats: map[string]uint64{"malformed": 1}, Transactions: []txnView{
				tx(rq("GET", "/"), rs(200, "OK", "Transfer-Encoding: chunked").incomplete()),
			}},
			wantErr: KindMalformed,
		},
		{
			name: "trailer line without a colon",
			pieces: []piece{
				req("GET / HTTP/1.1\r\n\r\n"),
				resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT"),
				resp("railer\r\n\r\n"),
			},
			want: result{Protocol: "http1", Stats: map[string]uint64{"malformed": 1}, Transactions: []txnView{
				tx(rq("GET", "/"), rs(200, "OK", "Transfer-Encoding: chunked").incomplete()),
			}},
			wantErr: KindMalformed,
		},
		{
			name: "trailer field split across pieces",
			pieces: []piece{
				req("GET / HTTP/1.1\r\n\r\n"),
				resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-Trailer"),
				resp(": v\r"),
				resp("\n\r"),
				resp("\n"),
			},
			want: result{Protocol: "http1", Transactions: []txnView{
				tx(rq("GET", "/"), rs(200, "OK", "Transfer-Encoding: chunked")),
			}},
		},
		{
			name: "chunk data not followed by CRLF",
			pieces: []piece{
				req("GET / HTTP/1.1\r\n\r\n"),
				resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokX\r\n0\r\n\r\n"),
			},
			want: result{Protocol: "http1", Stats: map[string]uint64{"malformed": 1}, Transactions: []txnView{
				tx(rq("GET", "/"), rs(200, "OK", "Transfer-Encoding: chunked").body(2, "").incomplete()),
			}},
			wantErr: KindMalformed,
		},
		{
			name: "chunk size overflowing",
			pieces: []piece{
				req("GET / HTTP/1.1\r\n\r\n"),
				resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n"),
			},
			want: result{Protocol: "http1", Stats: map[string]uint64{"malformed": 1}, Transactions: []txnView{
				tx(rq("GET", "/"), rs(200, "OK", "Transfer-Encoding: chunked").incomplete()),
			}},
			wantErr: KindMalformed,
		},
		{
			name: "invalid Content-Length",
			pieces: []piece{
				req("POST / HTTP/1.1\r\nContent-Length: 12a\r\n\r\n"),
			},
			want: result{Protocol: "http1", Stats: map[string]uint64{"malformed": 1, "no_response": 1}, Transactions: []txnView{
				tx(rq("POST", "/", "Content-Length: 12a").incomplete()),
			}},
			wantErr: KindMalformed,
		},
		{
			name: "conflicting Content-Length values",
			pieces: []piece{
				req("GET / HTTP/1.1\r\n\r\n"),
				resp("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc"),
			},
			want: result{Protocol: "http1", Stats: map[string]uint64{"malformed": 1}, Transactions: []txnView{
				tx(rq("GET", "/"), rs(200, "OK", "Content-Length: 2", "Content-Length: 3").incomplete()),
			}},
			wantErr: KindMalformed,
		},
		{
			name: "request Transfer-Encoding that does not end in chunked",
			pieces: []piece{
				req("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"),
			},
			want: result{Protocol: "http1", Stats: map[string]uint64{"malformed": 1, "no_response": 1}, Transactions: []txnView{
				tx(rq("POST", "/", "Transfer-Encoding: gzip").incomplete()),
			}},
			wantErr: KindMalformed,
		},
		{
			name: "response stream that is not HTTP/1.x",
			pieces: []piece{
				req("GET / HTTP/1.1\r\n\r\n"),
				resp("SSH-2.0-OpenSSH\r\n"),
			},
			want: result{Protocol: "http1", Stats: map[string]uint64{"malformed": 1, "no_response": 1}, Transactions: []txnView{
				tx(rq("GET", "/")),
			}},
			wantErr: KindMalformed,
		},
		{
			name: "garbage where the next request should start",
			pieces: []piece{
				req("GET / HTTP/1.1\r\n\r\n\x00\x01\x02"),
			},
			want: result{Protocol: "http1", Stats: map[string]uint64{"malformed": 1, "no_response": 1}, Transactions: []txnView{
				tx(rq("GET", "/")),
			}},
			wantErr: KindMalformed,
		},
		{
			name: "HTTP/2 request line after detection",
			pieces: []piece{
				req("GET / HTTP/1.1\r\n\r\nGET / HTTP/2.0\r\n\r\n"),
			},
			want: result{Protocol: "http1", Stats: map[string]uint64{"malformed": 1, "no_response": 1}, Transactions: []txnView{
				tx(rq("GET", "/")),
			}},
			wantErr: KindMalformed,
		},
		{
			// A response beyond the requests seen is held for the next
			// request (see TestEarlyResponse); one still held at Close
			// never pairs.
			name: "responses beyond the requests pair with later requests or count as unmatched",
			pieces: []piece{
				req("GET /a HTTP/1.1\r\n\r\n"),
				resp("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb"),
				req("GET /c HTTP/1.1\r\n\r\n"),
				resp("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
			},
			want: result{Protocol: "http1", Stats: map[string]uint64{"unmatched_response": 1}, Transactions: []txnView{
				tx(rq("GET", "/a"), rs(200, "OK", "Content-Length: 1").body(1, "")),
				tx(rq("GET", "/c"), rs(200, "OK", "Content-Length: 1").body(1, "")),
			}},
		},
		{
			name: "any method token is accepted once the connection is HTTP",
			pieces: []piece{
				req("GET / HTTP/1.1\r\n\r\nBREW /pot HTTP/1.1\r\n\r\n"),
				resp("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 418 I'm a teapot\r\nContent-Length: 0\r\n\r\n"),
			},
			want: result{Protocol: "http1", Transactions: []txnView{
				tx(rq("GET", "/"), rs(200, "OK", "Content-Length: 0")),
				tx(rq("BREW", "/pot"), rs(418, "I'm a teapot", "Content-Length: 0")),
			}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { checkCase(t, tc) })
	}
}
