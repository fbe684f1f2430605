package httpparse

import (
	"bytes"
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/http2"
)

// fuzzConfig uses small bounds so that the fuzzer reaches them.
var fuzzConfig = Config{MaxHeaderBytes: 256, MaxBodyBytes: 32, MaxPending: 4, MaxStreams: 4}

// planPieces cuts the two streams as plan says. Each plan byte is one
// piece: bit 0 picks the stream, bits 2-7 its size (1-48 bytes, or 256-4096
// for the larger values), and bit 1 makes the capture lose 1-4 bytes after
// it. What the plan leaves is fed whole, requests first.
func planPieces(toServer, toClient, plan []byte) (pieces []piece, lossy bool) {
	rest := [2][]byte{toServer, toClient}
	for _, b := range plan {
		i := int(b & 1)
		n := int(b>>2) + 1
		if n > 48 {
			n = (n - 48) * 256
		}
		n = min(n, len(rest[i]))
		p := piece{s: ToServer + Stream(i), data: string(rest[i][:n])}
		rest[i] = rest[i][n:]
		if b&2 != 0 {
			p.lost = min(int(b>>6)+1, len(rest[i]))
			rest[i] = rest[i][p.lost:]
			lossy = lossy || p.lost > 0
		}
		pieces = append(pieces, p)
	}
	return append(pieces, piece{s: ToServer, data: string(rest[0])}, piece{s: ToClient, data: string(rest[1])}), lossy
}

// FuzzConn feeds arbitrary bytes into both streams with arbitrary cuts and
// losses. It checks that nothing panics, that state stays within the bounds
// of the Config at every step, that what is emitted is consistent, and, for
// loss-free plans, that cutting the streams differently changes nothing, that
// nothing is resynchronised, and that, where neither run gave up, upgraded or
// overflowed a bound, interleaving the streams differently (responses ahead
// of their requests included) changes nothing either; HTTP/2 transactions
// are compared in stream order, and only where nothing whose effect depends
// on the interleaving (a reset, a GOAWAY, a refused stream) happened.
func FuzzConn(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"), []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), []byte{0x00, 0x05, 0x21})
	f.Add([]byte("\x16\x03\x01\x00"), []byte(""), []byte{0x00})
	f.Fuzz(fuzzCheck)
}

// FuzzH2 is FuzzConn for HTTP/2: the client stream always starts with the
// preface, so every input exercises the frame readers. Its seeds are the
// HTTP/2 seeds of FuzzConn.
func FuzzH2(f *testing.F) {
	for name, s := range fuzzSeeds(f) {
		if strings.HasPrefix(name, "h2-") && bytes.HasPrefix(s[0], prefaceBytes) {
			f.Add(s[0][len(prefaceBytes):], s[1], s[2])
		}
	}
	f.Fuzz(func(t *testing.T, toServer, toClient, plan []byte) {
		fuzzCheck(t, append(bytes.Clone(prefaceBytes), toServer...), toClient, plan)
	})
}

// fuzzCheck is the property FuzzConn and FuzzH2 check for one input.
func fuzzCheck(t *testing.T, toServer, toClient, plan []byte) {
	pieces, lossy := planPieces(toServer, toClient, plan)
	interleaved, interleavedClean := fuzzRun(t, pieces)
	// A budget a little over one body's bound: bodies compete for it, and
	// each must still be a prefix, marked when cut, and give its bytes back.
	fuzzRunBudget(t, pieces, NewBodyBudget(int64(fuzzConfig.MaxBodyBytes)+8))
	checkRelease(t, fuzzConfig, pieces, interleaved)
	if lossy {
		return
	}
	for _, k := range []string{"capture_gap", "resynced", "resync_skipped_bytes", "resync_discarded_response"} {
		if interleaved.Stats[k] != 0 {
			t.Fatalf("loss-free plan counted %s: %v", k, interleaved.Stats)
		}
	}
	// Same cuts, but every request byte before any response byte,
	// against each stream fed whole: both orders keep requests before
	// their responses, so they must agree.
	var ordered []piece
	for _, s := range []Stream{ToServer, ToClient} {
		for _, p := range pieces {
			if p.s == s {
				ordered = append(ordered, p)
			}
		}
	}
	orderedRes, orderedClean := fuzzRun(t, ordered)
	a := jsonOf(t, orderedRes)
	wholeRes, _ := fuzzRun(t, []piece{req(string(toServer)), resp(string(toClient))})
	b := jsonOf(t, wholeRes)
	if a != b {
		t.Fatalf("cutting changed the result: %s\ncut:\n%s\nwhole:\n%s", diffLines(b, a), a, b)
	}
	if interleavedClean && orderedClean {
		// HTTP/2 emits a stream when both its messages ended, which
		// depends on the interleaving when a response ends first.
		if interleaved.Protocol == "http2" {
			byStream(interleaved.Transactions)
			byStream(orderedRes.Transactions)
			a = jsonOf(t, orderedRes)
		}
		if c := jsonOf(t, interleaved); c != a {
			t.Fatalf("interleaving changed the result: %s\ninterleaved:\n%s\nrequests first:\n%s", diffLines(a, c), c, a)
		}
	}
}

// fuzzRun feeds pieces to a Conn with fuzzConfig and checks it along the
// way. clean reports a run whose result cannot depend on how the two
// streams interleave: it did not give up, upgrade, or drop a request to
// MaxPending (what is parsed before such a point depends on the order).
func fuzzRun(t *testing.T, pieces []piece) (res result, clean bool) {
	t.Helper()
	// Room for every body: the budget is checked to balance, and to change
	// no result.
	return fuzzRunBudget(t, pieces, NewBodyBudget(1<<30))
}

// fuzzRunBudget is fuzzRun with a body budget, checked along the way to be
// within its limit and to hold exactly what the Conn holds, and after
// Close to hold nothing.
func fuzzRunBudget(t *testing.T, pieces []piece, budget *BodyBudget) (res result, clean bool) {
	t.Helper()
	cfg := fuzzConfig
	stats := &Stats{}
	cfg.Stats = stats
	cfg.BodyBudget = budget
	var txns []*Transaction
	var emitted []string // each transaction as it was emitted
	c := NewConn(cfg, func(tx *Transaction) {
		if tx == nil || tx.Request == nil {
			t.Fatal("emitted a transaction without a request")
		}
		txns = append(txns, tx)
		emitted = append(emitted, jsonOf(t, viewTxn(tx)))
	})
	for i, p := range pieces {
		c.Write(p.s, tsOf(i), []byte(p.data), p.lost)
		checkBounded(t, c)
		checkBudget(t, c, txns)
	}
	c.Close(tsOf(len(pieces)))
	checkBounded(t, c)
	if used := budget.Used(); used != 0 || c.held != 0 {
		t.Fatalf("after Close the budget holds %d bytes, the Conn %d", used, c.held)
	}
	if len(c.pending) != 0 {
		t.Fatalf("%d transactions left pending after Close", len(c.pending))
	}
	if p := c.Protocol(); p != ProtocolHTTP1 && p != ProtocolHTTP2 && len(txns) > 0 {
		t.Fatalf("protocol %v but %d transactions", c.Protocol(), len(txns))
	}
	var noResp, overBudget uint64
	for _, tx := range txns {
		for _, m := range []*Message{&tx.Request.Message, responseMessage(tx)} {
			if m != nil && m.BodyOverBudget {
				overBudget++
			}
		}
		checkMessage(t, &tx.Request.Message)
		if tx.Response == nil {
			noResp++
			continue
		}
		checkMessage(t, &tx.Response.Message)
		code := tx.Response.StatusCode
		if (code < 100 || code > 999) && !(code == 0 && tx.Response.HeadersPartial) {
			t.Fatalf("status code %d", tx.Response.StatusCode)
		}
	}
	if got := stats.NoResponse.Load(); got != noResp {
		t.Fatalf("NoResponse = %d, but %d transactions lack a response", got, noResp)
	}
	if got := stats.BodyOverBudget.Load(); got < overBudget {
		// More when a cut message was not emitted (a response no
		// request was seen for).
		t.Fatalf("BodyOverBudget = %d, but %d emitted messages are marked", got, overBudget)
	}
	res = result{Protocol: c.Protocol().String(), Stats: statsView(stats), Transactions: []txnView{}}
	for i, tx := range txns {
		res.Transactions = append(res.Transactions, viewTxn(tx))
		// The Conn never touches a transaction once emitted: its caller
		// keeps it while the Conn parses on.
		if now := jsonOf(t, viewTxn(tx)); now != emitted[i] {
			t.Fatalf("transaction %d changed after it was emitted: %s\nemitted:\n%s\nnow:\n%s", i, diffLines(emitted[i], now), emitted[i], now)
		}
	}
	clean = c.Err() == nil && c.state == stateClosed && stats.PendingOverflow.Load() == 0 &&
		(c.h2 == nil || !c.h2.orderDependent)
	return res, clean
}

// checkRelease feeds pieces again and releases each transaction as it is
// emitted, as the receiver does: its slot is then the next request's, so a
// Conn that wrote to a transaction after emitting it would change what a
// later one says. The result must be want's, a run that kept them all.
func checkRelease(t testing.TB, cfg Config, pieces []piece, want result) {
	t.Helper()
	stats := &Stats{}
	cfg.Stats = stats
	got := result{Transactions: []txnView{}}
	c := NewConn(cfg, func(tx *Transaction) {
		got.Transactions = append(got.Transactions, viewTxn(tx))
		tx.Release()
	})
	for i, p := range pieces {
		c.Write(p.s, tsOf(i), []byte(p.data), p.lost)
	}
	c.Close(tsOf(len(pieces)))
	got.Protocol, got.Stats = c.Protocol().String(), statsView(stats)
	want.Err = "" // not every run records it
	if a, b := jsonOf(t, want), jsonOf(t, got); a != b {
		t.Fatalf("releasing emitted transactions changed the result: %s\nreleased:\n%s\nkept:\n%s", diffLines(a, b), b, a)
	}
}

// byStream puts HTTP/2 transactions in stream order.
func byStream(txns []txnView) {
	slices.SortStableFunc(txns, func(a, b txnView) int { return cmp.Compare(a.StreamID, b.StreamID) })
}

func checkBounded(t *testing.T, c *Conn) {
	t.Helper()
	for _, r := range []*reader{&c.cli, &c.srv} {
		if cap(r.buf) > c.cfg.MaxHeaderBytes {
			t.Fatalf("%s header buffer has capacity %d > %d", r.stream, cap(r.buf), c.cfg.MaxHeaderBytes)
		}
		if r.msg != nil && cap(r.msg.Body) > c.cfg.MaxBodyBytes {
			t.Fatalf("%s body has capacity %d > %d", r.stream, cap(r.msg.Body), c.cfg.MaxBodyBytes)
		}
	}
	if len(c.pending) > c.cfg.MaxPending || c.answered < 0 || c.answered > len(c.pending) {
		t.Fatalf("%d pending (%d answered), bound %d", len(c.pending), c.answered, c.cfg.MaxPending)
	}
	e := &c.early
	if cap(e.buf) > c.cfg.MaxEarlyResponseBytes || len(e.pieces)-e.next > maxEarlyPieces {
		t.Fatalf("early buffer: capacity %d (bound %d), %d pieces", cap(e.buf), c.cfg.MaxEarlyResponseBytes, len(e.pieces)-e.next)
	}
	if e.holding() && (c.awaited() || c.srv.state != stIdle || c.srv.resync || c.isH2(ToClient)) {
		t.Fatalf("holding responses while one is awaited (%v), being read (state %d), resynchronising (%v) or HTTP/2 (%v)",
			c.awaited(), c.srv.state, c.srv.resync, c.isH2(ToClient))
	}
	if h := c.h2; h != nil {
		if len(h.streams) > c.cfg.MaxStreams {
			t.Fatalf("%d HTTP/2 streams open, bound %d", len(h.streams), c.cfg.MaxStreams)
		}
		gapped := 0
		for _, st := range h.streams {
			for i := range st.msgs {
				if m := st.message(i); cap(m.Body) > c.cfg.MaxBodyBytes {
					t.Fatalf("stream %d body has capacity %d > %d", st.id, cap(m.Body), c.cfg.MaxBodyBytes)
				}
			}
			if st.gapped {
				gapped++
			}
		}
		if gapped != h.gapped {
			t.Fatalf("%d gapped streams counted, %d are", h.gapped, gapped)
		}
		for i := range h.dirs {
			d := &h.dirs[i]
			if cap(d.buf) > d.bound() || d.blk.size > c.cfg.MaxHeaderBytes {
				t.Fatalf("%s: frame buffer capacity %d (bound %d), header block %d bytes", d.stream, cap(d.buf), d.bound(), d.blk.size)
			}
			if st := d.blk.st; st != nil && h.streams[st.id] != st || d.dst != nil && h.streams[d.dst.id] != d.dst {
				t.Fatalf("%s: decoding into a stream that was emitted", d.stream)
			}
		}
	}
}

// responseMessage is tx's response's Message, nil without a response.
func responseMessage(tx *Transaction) *Message {
	if tx.Response == nil {
		return nil
	}
	return &tx.Response.Message
}

// checkBudget checks that c's budget is within its limit and that the Conn
// accounts for all of it (c is the only Conn on it), with emitted
// transactions' bodies given back.
func checkBudget(t *testing.T, c *Conn, emitted []*Transaction) {
	t.Helper()
	used := c.budget.Used()
	if used < 0 || used > c.budget.Limit() || int64(c.held) != used {
		t.Fatalf("budget: %d used of %d, the Conn holds %d", used, c.budget.Limit(), c.held)
	}
	if c.budget.Limit() < 1<<30 {
		return
	}
	// With room for every body, nothing may be cut.
	for _, tx := range emitted {
		if m := responseMessage(tx); tx.Request.BodyOverBudget || m != nil && m.BodyOverBudget {
			t.Fatal("a body was cut by a budget with room to spare")
		}
	}
}

func checkMessage(t *testing.T, m *Message) {
	t.Helper()
	if m.BodyOverBudget && !m.BodyTruncated {
		t.Fatalf("body over budget but not truncated: len %d size %d", len(m.Body), m.BodySize)
	}
	if cap(m.Body) > fuzzConfig.MaxBodyBytes || int64(len(m.Body)) > m.BodySize {
		t.Fatalf("body: len %d cap %d size %d", len(m.Body), cap(m.Body), m.BodySize)
	}
	if m.BodyTruncated != (int64(len(m.Body)) < m.BodySize) {
		t.Fatalf("BodyTruncated %v with len %d size %d", m.BodyTruncated, len(m.Body), m.BodySize)
	}
	if m.Proto == "" || m.End.Before(m.Start) {
		t.Fatalf("proto %q, start %v, end %v", m.Proto, m.Start, m.End)
	}
	for _, fields := range [][]HeaderField{m.Header, m.Trailer} {
		size := 0
		for _, h := range fields {
			size += len(h.Name) + len(h.Value)
		}
		if size > fuzzConfig.MaxHeaderBytes {
			t.Fatalf("%d header bytes kept, bound %d", size, fuzzConfig.MaxHeaderBytes)
		}
	}
}

// fuzzSeeds are the committed corpus: every recording, fed as recorded and
// cut small, plus streams exercising each give-up path.
func fuzzSeeds(t testing.TB) map[string][3][]byte {
	seeds := map[string][3][]byte{}
	for _, rc := range loadRecorded(t) {
		var plan []byte
		for _, p := range rc.log {
			i := byte(0)
			if p.s == ToClient {
				i = 1
			}
			for n := len(p.data); n > 0; n -= 48 {
				plan = append(plan, i|byte(min(n, 48)-1)<<2)
			}
		}
		seeds[rc.name] = [3][]byte{rc.toServer, rc.toClient, plan}
		seeds[rc.name+"-lossy"] = [3][]byte{rc.toServer, rc.toClient, []byte{0x0e, 0x13, 0x4e, 0x8f, 0x02, 0x03}}
	}
	for name, s := range map[string][2]string{
		"pipelined-head":  {"GET /a HTTP/1.1\r\n\r\nHEAD /b HTTP/1.1\r\n\r\nPOST /c HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"},
		"chunked-trailer": {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\n", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
		"upgrade":         {"GET / HTTP/1.1\r\nUpgrade: h2c\r\n\r\n", "HTTP/1.1 101 Switching Protocols\r\n\r\n\x00\x00\x12\x04"},
		"until-close":     {"GET / HTTP/1.0\r\n\r\n", "HTTP/1.0 200 OK\r\n\r\nbody until close"},
		"header-too-big":  {"GET / HTTP/1.1\r\nX: " + strings.Repeat("v", 300) + "\r\n\r\n", ""},
		"binary":          {"\x16\x03\x01\x02\x00\x01\x00\x01\xfc", "\x16\x03\x03"},
		"malformed":       {"GET / HTTP/1.1\r\nbad line\r\n\r\n", ""},
		"overflow":        {strings.Repeat("GET / HTTP/1.1\r\n\r\n", 6), strings.Repeat("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", 6)},
	} {
		seeds[name] = [3][]byte{[]byte(s[0]), []byte(s[1]), {0x04, 0x05, 0x00, 0x01, 0x42}}
	}
	// HTTP/2 frames of every kind, written by the test builder.
	cli, srv := newH2Builder(t), newH2Builder(t)
	cli.preface().settings(http2.Setting{ID: http2.SettingHeaderTableSize, Val: 8192}).
		headersSplit(1, false, 7, nil, reqFields("POST", "/a", "x-k", "v")...).paddedData(1, true, "body", 3).
		headers(3, true, reqFields("GET", "/b", "x-k", "v")...).headers(5, true, reqFields("GET", "/c")...).
		headers(7, true, reqFields("GET", "/d")...).headers(9, true, reqFields("GET", "/e")...).
		rst(5, http2.ErrCodeCancel).pingAndWindow()
	srv.settings(http2.Setting{ID: http2.SettingHeaderTableSize, Val: 2048}).
		push(1, 2, reqFields("GET", "/pushed")...).headers(1, false, ":status", "100").
		paddedHeaders(1, false, 4, ":status", "200", "x-s", "1").data(1, false, "resp").headers(1, true, "grpc-status", "0").
		headers(2, true, ":status", "204").headers(3, false, ":status", "404").data(3, true, "nf").goAway(7)
	for name, plan := range map[string]string{
		"h2-frames":        "\x04\x05\x00\x01\x42",
		"h2-frames-lossy":  "\xfc\x0e\x13\x4e\x8f\x02\x03\xfe",
		"h2-frames-server": "\x05\x04\x01\x00",
	} {
		seeds[name] = [3][]byte{[]byte(cli.out.String()), []byte(srv.out.String()), []byte(plan)}
	}
	// Plans of their own: responses cut ahead of their requests, and
	// losses that break framing on a keep-alive connection.
	for name, s := range map[string][3]string{
		"early-response": {"GET /a HTTP/1.1\r\n\r\nHEAD /b HTTP/1.1\r\n\r\n",
			"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
			"\xbd\x31\x48\x49\x48"},
		"resync": {"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\n\r\n",
			"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
			"\x48\x4f\x45\x48\x95"},
	} {
		seeds[name] = [3][]byte{[]byte(s[0]), []byte(s[1]), []byte(s[2])}
	}
	return seeds
}

// TestFuzzCorpus writes the committed seed corpus with -update and checks,
// without it, that the corpus is there and complete.
func TestFuzzCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzConn")
	for name, s := range fuzzSeeds(t) {
		path := filepath.Join(dir, "seed-"+name)
		want := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n[]byte(%q)\n[]byte(%q)\n", s[0], s[1], s[2])
		if *update {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != want {
			t.Errorf("seed %s is missing or stale (run with -update): %v", path, err)
		}
	}
}
