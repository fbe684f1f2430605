package httpparse

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// piece is one Write: bytes of one stream and how many bytes the capture lost
// after them.
type piece struct {
	s    Stream
	data string
	lost int
}

func req(data string) piece  { return piece{s: ToServer, data: data} }
func resp(data string) piece { return piece{s: ToClient, data: data} }

// msgView is the comparable, timestamp-free form of a Message, used by
// golden files and table tests alike.
type msgView struct {
	Method        string   `json:"method,omitempty"`
	Target        string   `json:"target,omitempty"`
	Status        int      `json:"status,omitempty"`
	Reason        string   `json:"reason,omitempty"`
	Proto         string   `json:"proto"`
	Header        []string `json:"header"`
	BodySize      int64    `json:"body_size"`
	Body          string   `json:"body,omitempty"`
	BodyTruncated bool     `json:"body_truncated,omitempty"`
	BodyLost      int64    `json:"body_lost,omitempty"`
	Incomplete    bool     `json:"incomplete,omitempty"`
	// HTTP/2
	Authority      string   `json:"authority,omitempty"`
	Scheme         string   `json:"scheme,omitempty"`
	Trailer        []string `json:"trailer,omitempty"`
	HeadersPartial bool     `json:"headers_partial,omitempty"`
}

type txnView struct {
	StreamID uint32   `json:"stream,omitempty"`
	Reset    string   `json:"reset,omitempty"` // "<stream> <code>" when RST_STREAM ended it
	Request  msgView  `json:"request"`
	Response *msgView `json:"response,omitempty"`
}

// result is everything a run produced, minus timestamps.
type result struct {
	Protocol     string            `json:"protocol"`
	Err          string            `json:"err,omitempty"`
	Stats        map[string]uint64 `json:"stats,omitempty"`
	Transactions []txnView         `json:"transactions"`
}

func headerView(h []HeaderField) []string {
	out := make([]string, 0, len(h))
	for _, f := range h {
		out = append(out, f.Name+": "+f.Value)
	}
	return out
}

func viewMessage(m *Message) msgView {
	v := msgView{
		Proto:          m.Proto,
		Header:         headerView(m.Header),
		BodySize:       m.BodySize,
		Body:           string(m.Body),
		BodyTruncated:  m.BodyTruncated,
		BodyLost:       m.BodyLost,
		Incomplete:     m.Incomplete,
		HeadersPartial: m.HeadersPartial,
	}
	if m.Trailer != nil {
		v.Trailer = headerView(m.Trailer)
	}
	return v
}

func viewTxn(t *Transaction) txnView {
	v := txnView{StreamID: t.StreamID, Request: viewMessage(&t.Request.Message)}
	if t.ResetBy != 0 {
		v.Reset = fmt.Sprintf("%s %#x", t.ResetBy, t.ResetCode)
	}
	v.Request.Method, v.Request.Target = t.Request.Method, t.Request.Target
	v.Request.Authority, v.Request.Scheme = t.Request.Authority, t.Request.Scheme
	if t.Response != nil {
		r := viewMessage(&t.Response.Message)
		r.Status, r.Reason = t.Response.StatusCode, t.Response.Reason
		v.Response = &r
	}
	return v
}

func statsView(s *Stats) map[string]uint64 {
	m := map[string]uint64{}
	for name, v := range map[string]uint64{
		"not_http":                  s.NotHTTP.Load(),
		"header_too_large":          s.HeaderTooLarge.Load(),
		"malformed":                 s.Malformed.Load(),
		"capture_gap":               s.CaptureGap.Load(),
		"unmatched_response":        s.UnmatchedResponse.Load(),
		"pending_overflow":          s.PendingOverflow.Load(),
		"no_response":               s.NoResponse.Load(),
		"early_response_too_large":  s.EarlyResponseTooLarge.Load(),
		"resync_discarded_response": s.ResyncDiscardedResponse.Load(),
		"resync_skipped_bytes":      s.ResyncSkippedBytes.Load(),
		"resynced":                  s.Resynced.Load(),
		"h2_frame_too_large":        s.H2FrameTooLarge.Load(),
		"h2_too_many_streams":       s.H2TooManyStreams.Load(),
		"h2_hpack_error":            s.H2HpackError.Load(),
		"h2_header_too_large":       s.H2HeaderTooLarge.Load(),
		"h2_bad_frame":              s.H2BadFrame.Load(),
		"body_over_budget":          s.BodyOverBudget.Load(),
	} {
		if v != 0 {
			m[name] = v
		}
	}
	if len(m) == 0 {
		return nil
	}
	return m
}

// tsOf is the timestamp of the i-th Write of a run.
func tsOf(i int) time.Time { return time.Unix(1_000_000+int64(i), 0).UTC() }

// run feeds pieces to a new Conn (and closes it when close is set). Every
// piece is copied into a scratch buffer that is scribbled over after its
// Write, so a Transaction that aliases input bytes shows up as corrupted.
func run(t testing.TB, cfg Config, pieces []piece, close bool) (result, []*Transaction, *Conn) {
	t.Helper()
	stats := &Stats{}
	cfg.Stats = stats
	var txns []*Transaction
	c := NewConn(cfg, func(tx *Transaction) { txns = append(txns, tx) })
	var scratch []byte
	for i, p := range pieces {
		scratch = append(scratch[:0], p.data...)
		c.Write(p.s, tsOf(i), scratch, p.lost)
		for j := range scratch {
			scratch[j] = '#'
		}
	}
	if close {
		c.Close(tsOf(len(pieces)))
	}
	res := result{Protocol: c.Protocol().String(), Stats: statsView(stats), Transactions: []txnView{}}
	if err := c.Err(); err != nil {
		res.Err = err.Error()
	}
	for _, tx := range txns {
		res.Transactions = append(res.Transactions, viewTxn(tx))
	}
	return res, txns, c
}

func jsonOf(t testing.TB, v any) string {
	t.Helper()
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatalf("encoding %T: %v", v, err)
	}
	return b.String()
}

// diffLines returns a short description of the first differing line.
func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return "line " + strconv.Itoa(i+1) + ":\n  want: " + wl + "\n  got:  " + gl
		}
	}
	return ""
}
