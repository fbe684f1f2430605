package httpparse

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/net/http2"
)

// upload is the head of a request with a body of n bytes.
func upload(n int) string {
	return fmt.Sprintf("POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n", n)
}

// TestBodyBudgetSharedByConns: two slow uploads at once on a budget with
// room for one body. The first takes its whole body (its buffer sized from
// Content-Length at once), the second is cut at its first byte, marked and
// counted; each gives its bytes back when emitted, and the next upload has
// room again.
func TestBodyBudgetSharedByConns(t *testing.T) {
	budget := NewBodyBudget(1000)
	stats := &Stats{}
	cfg := Config{MaxBodyBytes: 1000, BodyBudget: budget, Stats: stats}
	var got []*Transaction
	emit := func(tx *Transaction) { got = append(got, tx) }
	a, b := NewConn(cfg, emit), NewConn(cfg, emit)
	body := strings.Repeat("x", 800)

	a.Write(ToServer, tsOf(0), []byte(upload(800)+body[:10]), 0)
	if used := budget.Used(); used != 800 {
		t.Fatalf("after the first upload's first bytes the budget holds %d, want its Content-Length 800", used)
	}
	b.Write(ToServer, tsOf(1), []byte(upload(800)+body[:10]), 0)
	// The second's buffer could not be sized at once; what is left (200)
	// still holds its first bytes.
	if used := budget.Used(); used != 1000 {
		t.Fatalf("budget holds %d, want all 1000", used)
	}
	a.Write(ToServer, tsOf(2), []byte(body[10:]), 0)
	b.Write(ToServer, tsOf(3), []byte(body[10:]), 0)
	if n := stats.BodyOverBudget.Load(); n != 1 {
		t.Fatalf("BodyOverBudget = %d, want 1", n)
	}
	a.Write(ToClient, tsOf(4), []byte("HTTP/1.1 204 No Content\r\n\r\n"), 0)
	if used := budget.Used(); used != 200 {
		t.Fatalf("after the first upload was emitted the budget holds %d, want the second's 200", used)
	}
	b.Write(ToClient, tsOf(5), []byte("HTTP/1.1 204 No Content\r\n\r\n"), 0)
	if used := budget.Used(); used != 0 {
		t.Fatalf("after both were emitted the budget holds %d", used)
	}
	if len(got) != 2 {
		t.Fatalf("%d transactions, want 2", len(got))
	}
	first, second := &got[0].Request.Message, &got[1].Request.Message
	if string(first.Body) != body || first.BodyTruncated || first.BodyOverBudget {
		t.Fatalf("first upload: %d bytes kept, truncated %v, over budget %v", len(first.Body), first.BodyTruncated, first.BodyOverBudget)
	}
	if string(second.Body) != body[:200] || !second.BodyTruncated || !second.BodyOverBudget || second.BodySize != 800 {
		t.Fatalf("second upload: %d bytes kept of %d, truncated %v, over budget %v; want the first 200, cut and marked",
			len(second.Body), second.BodySize, second.BodyTruncated, second.BodyOverBudget)
	}

	// Room again: a third upload is kept whole.
	c := NewConn(cfg, emit)
	c.Write(ToServer, tsOf(6), []byte(upload(800)+body), 0)
	c.Write(ToClient, tsOf(7), []byte("HTTP/1.1 204 No Content\r\n\r\n"), 0)
	if third := &got[2].Request.Message; string(third.Body) != body || third.BodyOverBudget {
		t.Fatalf("third upload: %d bytes kept, over budget %v", len(third.Body), third.BodyOverBudget)
	}
	if used := budget.Used(); used != 0 {
		t.Fatalf("budget holds %d at the end", used)
	}
}

// TestBodyBudgetGivenBack checks every way a Conn lets go of a body it was
// charged for: the connection closed inside a body, the parser gave up,
// a request dropped by MaxPending, a protocol upgrade, an HTTP/2 stream
// reset, and an HTTP/2 response whose request never came.
func TestBodyBudgetGivenBack(t *testing.T) {
	cli, srv := newH2Builder(t), newH2Builder(t)
	h2Req := cli.preface().settings().headers(1, false, ":method", "POST", ":path", "/", ":scheme", "http", ":authority", "h").
		data(1, false, strings.Repeat("a", 100)).take()
	h2Reset := srv.settings().rst(1, http2.ErrCodeCancel).take()
	h2Start := newH2Builder(t).preface().settings().take()
	h2Orphan := newH2Builder(t).settings().headers(3, false, ":status", "200").data(3, false, "orphan").take()
	tests := []struct {
		name          string
		before, after []piece // the budget holds bytes after before
		close         bool    // after after
		want          int64   // what it still holds at the end
	}{
		{name: "closed inside a request body", before: []piece{req(upload(100) + "abc")}, close: true},
		{name: "closed inside a response read until close", before: []piece{
			req("GET / HTTP/1.1\r\n\r\n"), resp("HTTP/1.1 200 OK\r\n\r\nhello"),
		}, close: true},
		{name: "gave up on a malformed request", before: []piece{req(upload(3) + "abc")}, after: []piece{req("BAD LINE\r\n\r\n")}},
		{name: "a request dropped by MaxPending while its response was read", before: []piece{
			req(strings.Repeat(upload(3)+"abc", 2)), resp("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf"),
		}, after: []piece{req(upload(3) + "abc"), resp("rest!!")}, want: 6}, // the two requests left
		{name: "upgraded", before: []piece{
			req("GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nContent-Length: 3\r\n\r\nabc"),
		}, after: []piece{resp("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")}},
		{name: "HTTP/2 stream reset", before: []piece{req(h2Req)}, after: []piece{resp(h2Reset)}},
		{name: "HTTP/2 response without its request", before: []piece{req(h2Start), resp(h2Orphan)}, close: true},
		{name: "HTTP/2 closed inside a body", before: []piece{req(h2Req)}, close: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			budget := NewBodyBudget(1 << 20)
			c := NewConn(Config{MaxBodyBytes: 64, MaxPending: 2, BodyBudget: budget}, func(*Transaction) {})
			for i, p := range tt.before {
				c.Write(p.s, tsOf(i), []byte(p.data), p.lost)
			}
			if budget.Used() == 0 {
				t.Fatal("no body bytes held before the step that lets go of them")
			}
			for i, p := range tt.after {
				c.Write(p.s, tsOf(len(tt.before)+i), []byte(p.data), p.lost)
			}
			if tt.close {
				c.Close(tsOf(len(tt.before) + len(tt.after)))
			}
			if used := budget.Used(); used != tt.want || int64(c.held) != used {
				t.Fatalf("budget holds %d, the Conn %d; want %d", used, c.held, tt.want)
			}
		})
	}
}

// TestBodyBudgetRecorded replays every recording with a budget smaller than
// its bodies: each body kept is a prefix of the one kept without a budget,
// cut ones are marked, and the budget is empty once the Conn closed.
func TestBodyBudgetRecorded(t *testing.T) {
	for _, rc := range loadRecorded(t) {
		t.Run(rc.name, func(t *testing.T) {
			cfg := Config{MaxBodyBytes: 1 << 20}
			_, whole, _ := run(t, cfg, rc.log, true)
			budget := NewBodyBudget(100)
			cfg.BodyBudget = budget
			res, cut, _ := run(t, cfg, rc.log, true)
			if len(cut) != len(whole) {
				t.Fatalf("%d transactions with a budget, %d without", len(cut), len(whole))
			}
			marked := uint64(0)
			for i := range cut {
				for j, m := range []*Message{&cut[i].Request.Message, responseMessage(cut[i])} {
					w := []*Message{&whole[i].Request.Message, responseMessage(whole[i])}[j]
					if m == nil {
						continue
					}
					if !bytes.HasPrefix(w.Body, m.Body) || m.BodySize != w.BodySize {
						t.Fatalf("transaction %d message %d: kept %q of %d, without a budget %q of %d",
							i, j, m.Body, m.BodySize, w.Body, w.BodySize)
					}
					if m.BodyOverBudget {
						marked++
						if len(m.Body) == len(w.Body) {
							t.Fatalf("transaction %d message %d: marked over budget but whole", i, j)
						}
					} else if len(m.Body) != len(w.Body) {
						t.Fatalf("transaction %d message %d: cut but not marked", i, j)
					}
				}
			}
			if res.Stats["body_over_budget"] != marked {
				t.Fatalf("body_over_budget = %d, %d messages marked", res.Stats["body_over_budget"], marked)
			}
			if used := budget.Used(); used != 0 {
				t.Fatalf("budget holds %d after Close", used)
			}
		})
	}
}
