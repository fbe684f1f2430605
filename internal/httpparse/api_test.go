package httpparse

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestTimestamps: Start is the time of the piece holding a message's first
// byte, End that of the piece holding its last byte.
func TestTimestamps(t *testing.T) {
	_, txns, _ := run(t, Config{}, []piece{
		req("GET /a HTTP/1.1\r\nHo"),    // 0
		req("st: h\r\n\r\n"),            // 1
		resp("HTTP/1.1 200 OK\r\nCont"), // 2
		resp("ent-Length: 4\r\n\r\nab"), // 3
		resp("cd"),                      // 4
		req("GET /b HTTP/1.1\r\n\r\n"),  // 5
		resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n"), // 6
		resp("0\r\n\r"),                      // 7
		resp("\n"),                           // 8
		req("GET /c HTTP/1.1\r\n\r\n"),       // 9
		resp("HTTP/1.0 200 OK\r\n\r\nuntil"), // 10
		resp(" close"),                       // 11
	}, true)
	want := [][4]int{{0, 1, 2, 4}, {5, 5, 6, 8}, {9, 9, 10, 11}}
	if len(txns) != len(want) {
		t.Fatalf("got %d transactions, want %d", len(txns), len(want))
	}
	for i, w := range want {
		got := []time.Time{txns[i].Request.Start, txns[i].Request.End, txns[i].Response.Start, txns[i].Response.End}
		for j := range w {
			if !got[j].Equal(tsOf(w[j])) {
				t.Errorf("transaction %d: time %d = %v, want piece %d (%v)", i, j, got[j], w[j], tsOf(w[j]))
			}
		}
	}
}

// TestNilStats: Stats is optional.
func TestNilStats(t *testing.T) {
	var n int
	c := NewConn(Config{}, func(*Transaction) { n++ })
	c.Write(ToServer, time.Time{}, []byte("GET / HTTP/1.1\r\n\r\nGET /x HTTP/1.1\r\nbad\r\n\r\n"), 0)
	c.Close(time.Time{})
	if n != 1 || c.Err() == nil {
		t.Errorf("emitted %d, err %v", n, c.Err())
	}
}

func TestWriteAfterCloseAndBadStream(t *testing.T) {
	stats := &Stats{}
	var n int
	c := NewConn(Config{Stats: stats}, func(*Transaction) { n++ })
	c.Write(Stream(0), time.Time{}, []byte("\x00garbage"), 3)
	c.Write(Stream(9), time.Time{}, []byte("\x00garbage"), 3)
	c.Write(ToServer, time.Time{}, []byte("GET / HTTP/1.1\r\n\r\n"), 0)
	c.Close(time.Time{})
	c.Close(time.Time{})
	c.Write(ToClient, time.Time{}, []byte("HTTP/1.1 200 OK\r\n\r\n"), 0)
	if n != 1 || stats.NoResponse.Load() != 1 || c.Err() != nil || c.Protocol() != ProtocolHTTP1 {
		t.Errorf("emitted %d, NoResponse %d, err %v, protocol %v", n, stats.NoResponse.Load(), c.Err(), c.Protocol())
	}
}

func TestErrorText(t *testing.T) {
	_, _, c := run(t, Config{}, []piece{req("GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n")}, true)
	err := c.Err()
	if !errors.Is(err, errBadContentLength) {
		t.Fatalf("Err() = %v, want it to wrap errBadContentLength", err)
	}
	if got, want := err.Error(), "httpparse: to-server stream: malformed: invalid Content-Length"; got != want {
		t.Errorf("Err() = %q, want %q", got, want)
	}
}

// TestBodyBounded: the kept body never exceeds MaxBodyBytes, in capacity
// either, however the body arrives.
func TestBodyBounded(t *testing.T) {
	const max = 1000
	body := strings.Repeat("z", 5000)
	for _, step := range []int{1, 7, 999, 1000, 1001, 5000} {
		var pieces []piece
		pieces = append(pieces, req("POST / HTTP/1.1\r\nContent-Length: 5000\r\n\r\n"))
		for i := 0; i < len(body); i += step {
			pieces = append(pieces, req(body[i:min(i+step, len(body))]))
		}
		pieces = append(pieces, req("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1388\r\n"))
		for i := 0; i < len(body); i += step {
			pieces = append(pieces, req(body[i:min(i+step, len(body))]))
		}
		pieces = append(pieces, req("\r\n0\r\n\r\n"))
		_, txns, _ := run(t, Config{MaxBodyBytes: max}, pieces, true)
		if len(txns) != 2 {
			t.Fatalf("step %d: %d transactions", step, len(txns))
		}
		for _, tx := range txns {
			b := tx.Request.Body
			if len(b) != max || cap(b) > max || tx.Request.BodySize != 5000 || !tx.Request.BodyTruncated {
				t.Errorf("step %d: len %d cap %d size %d truncated %v", step, len(b), cap(b), tx.Request.BodySize, tx.Request.BodyTruncated)
			}
		}
	}
}
