package translate

import (
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/ebpftap/ebpftap/internal/httpparse"
	"github.com/ebpftap/ebpftap/internal/tap"
)

// placed is a span's place in its trace, read back from pdata.
type placed struct {
	kind   ptrace.SpanKind
	trace  pcommon.TraceID
	span   pcommon.SpanID
	parent pcommon.SpanID
	state  string
}

// translateExchanges translates xs in order, each with a fresh copy of its
// transaction, and returns their spans in the same order.
func translateExchanges(t *testing.T, ids idSource, xs ...tap.Exchange) []placed {
	t.Helper()
	tr := mustTranslator(t, translateSettings(LevelNone), ids)
	b := NewBatch()
	for _, x := range xs {
		var v View
		require.True(t, tr.Describe(x, &v))
		tr.Append(b, x, &v)
	}
	var out []placed
	for _, rs := range b.traces.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, s := range ss.Spans().All() {
				out = append(out, placed{s.Kind(), s.TraceID(), s.SpanID(), s.ParentSpanID(), s.TraceState().AsRaw()})
			}
		}
	}
	require.Len(t, out, len(xs))
	return out
}

// loginTx is one request, as both ends of its connection parse it.
func loginTx(headers ...string) *httpparse.Transaction {
	return &httpparse.Transaction{
		Request:  txReq("POST", "/v1/login", 0, 1, txHeaders(append([]string{"Host", "api.example.com"}, headers...)...)),
		Response: txResp(200, 2, 3, nil, 0),
	}
}

// The two ends of one connection on this host, as the tap names them.
var (
	stitchClient = &tap.Conn{ID: 11, Process: procCurl, Role: connClient.Role, Local: connClient.Local, Remote: connClient.Remote}
	stitchServer = &tap.Conn{ID: 12, Process: procNginx, Role: connServer.Role, Local: connClient.Remote, Remote: connClient.Local}
)

func TestStitchedWithoutContext(t *testing.T) {
	client := tap.Exchange{Conn: stitchClient, Tx: loginTx(), Seq: 3, Peer: 12}
	server := tap.Exchange{Conn: stitchServer, Tx: loginTx(), Seq: 3, Peer: 11}
	// Either end may be translated first: the result is the same.
	for _, order := range [][]tap.Exchange{{client, server}, {server, client}} {
		spans := translateExchanges(t, newRandomIDs(), order...)
		var c, s placed
		for _, p := range spans {
			if p.kind == ptrace.SpanKindClient {
				c = p
			} else {
				s = p
			}
		}
		assert.Equal(t, c.trace, s.trace, "one trace")
		assert.Equal(t, c.span, s.parent, "the SERVER span is the CLIENT span's child")
		assert.True(t, c.parent.IsEmpty(), "the CLIENT span starts the trace")
		assert.NotEqual(t, c.span, s.span)
	}
}

func TestStitchedWithContext(t *testing.T) {
	const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	callerTrace, callerSpan := mustTraceID(t, "0af7651916cd43dd8448eb211c80319c"), mustSpanID(t, "b7ad6b7169203331")
	headers := []string{"traceparent", traceparent, "tracestate", "rojo=00f067aa0ba902b7"}
	spans := translateExchanges(t, newRandomIDs(),
		tap.Exchange{Conn: stitchClient, Tx: loginTx(headers...), Seq: 1},
		tap.Exchange{Conn: stitchServer, Tx: loginTx(headers...), Seq: 1, Peer: 11})
	c, s := spans[0], spans[1]
	for _, p := range spans {
		assert.Equal(t, callerTrace, p.trace, "the caller's trace")
		assert.Equal(t, "rojo=00f067aa0ba902b7", p.state)
	}
	assert.Equal(t, callerSpan, c.parent, "our CLIENT span is a child of the caller's span")
	assert.Equal(t, c.span, s.parent, "our SERVER span is a child of our CLIENT span")
}

func TestNotStitched(t *testing.T) {
	const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	callerSpan := mustSpanID(t, "b7ad6b7169203331")
	for _, tc := range []struct {
		name       string
		server     tap.Exchange
		wantParent pcommon.SpanID
	}{
		{"client end not captured here", tap.Exchange{Conn: stitchServer, Tx: loginTx(), Seq: 1}, pcommon.SpanID{}},
		{"client end not captured, with a context", tap.Exchange{Conn: stitchServer, Tx: loginTx("traceparent", traceparent), Seq: 1}, callerSpan},
		{"connection seen mid-way", tap.Exchange{Conn: stitchServer, Tx: loginTx(), Peer: 11}, pcommon.SpanID{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spans := translateExchanges(t, newRandomIDs(), tc.server)
			assert.Equal(t, tc.wantParent, spans[0].parent)
		})
	}
	// Two ends that disagree on the request (a number off by a lost
	// transaction) do not name each other: an orphan, never a wrong parent.
	other := loginTx()
	other.Request.Target = "/v1/logout"
	spans := translateExchanges(t, newRandomIDs(),
		tap.Exchange{Conn: stitchClient, Tx: loginTx(), Seq: 2},
		tap.Exchange{Conn: stitchServer, Tx: other, Seq: 2, Peer: 11})
	assert.NotEqual(t, spans[0].span, spans[1].parent)
}

func TestStitchedHTTP2Streams(t *testing.T) {
	// Streams finish in any order on each end; the stream id pairs them.
	tx := func(stream uint32) *httpparse.Transaction {
		x := loginTx()
		x.StreamID = stream
		return x
	}
	spans := translateExchanges(t, newRandomIDs(),
		tap.Exchange{Conn: stitchClient, Tx: tx(1), Seq: 1},
		tap.Exchange{Conn: stitchClient, Tx: tx(3), Seq: 2},
		tap.Exchange{Conn: stitchServer, Tx: tx(3), Seq: 1, Peer: 11},
		tap.Exchange{Conn: stitchServer, Tx: tx(1), Seq: 2, Peer: 11})
	assert.Equal(t, spans[0].span, spans[3].parent, "stream 1")
	assert.Equal(t, spans[1].span, spans[2].parent, "stream 3")
}

func TestRequestContext(t *testing.T) {
	for _, tc := range []struct {
		name    string
		headers []string
		trace   string // "" when no context is found
		parent  string
		decides decision
	}{
		{"traceparent", []string{"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}, "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", sampled},
		{"traceparent not sampled", []string{"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"}, "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", notSampled},
		{"traceparent with other flags", []string{"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-03"}, "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", sampled},
		{"traceparent, other flags only", []string{"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-fe"}, "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", notSampled},
		{"b3 single", []string{"b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90"}, "80f198ee56343ba864fe8b2a57d3eff7", "e457b5a2e4d86bd1", sampled},
		{"b3 single, ids only", []string{"b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1"}, "80f198ee56343ba864fe8b2a57d3eff7", "e457b5a2e4d86bd1", undecided},
		{"b3 single, 64-bit trace id", []string{"b3", "64fe8b2a57d3eff7-e457b5a2e4d86bd1-d"}, "000000000000000064fe8b2a57d3eff7", "e457b5a2e4d86bd1", sampled},
		{"b3 single, denied", []string{"b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-0"}, "80f198ee56343ba864fe8b2a57d3eff7", "e457b5a2e4d86bd1", notSampled},
		{"b3 multi", []string{"X-B3-TraceId", "463ac35c9f6413ad48485a3953bb6124", "X-B3-SpanId", "a2fb4a1d1a96d312", "X-B3-Sampled", "1"}, "463ac35c9f6413ad48485a3953bb6124", "a2fb4a1d1a96d312", sampled},
		{"b3 multi, ids only", []string{"X-B3-TraceId", "463ac35c9f6413ad48485a3953bb6124", "X-B3-SpanId", "a2fb4a1d1a96d312"}, "463ac35c9f6413ad48485a3953bb6124", "a2fb4a1d1a96d312", undecided},
		{"traceparent over b3", []string{"b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-0", "traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}, "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", sampled},
		{"b3 sampling only", []string{"b3", "0"}, "", "", notSampled},
		{"b3 debug only", []string{"b3", "d"}, "", "", sampled},
		{"X-B3-Sampled only", []string{"X-B3-Sampled", "false"}, "", "", notSampled},
		{"b3 multi, debug", []string{"X-B3-TraceId", "463ac35c9f6413ad48485a3953bb6124", "X-B3-SpanId", "a2fb4a1d1a96d312", "X-B3-Flags", "1"}, "463ac35c9f6413ad48485a3953bb6124", "a2fb4a1d1a96d312", sampled},
		{"b3 upper case", []string{"b3", "80F198EE56343BA864FE8B2A57D3EFF7-E457B5A2E4D86BD1"}, "", "", undecided},
		{"b3 short span id", []string{"b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2"}, "", "", undecided},
		{"b3 zero ids", []string{"b3", "00000000000000000000000000000000-0000000000000000"}, "", "", undecided},
		{"b3 multi without span", []string{"X-B3-TraceId", "463ac35c9f6413ad48485a3953bb6124"}, "", "", undecided},
		{"b3 too many parts", []string{"b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90-x"}, "", "", undecided},
		{"b3 unknown sampling state", []string{"b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-x"}, "80f198ee56343ba864fe8b2a57d3eff7", "e457b5a2e4d86bd1", undecided},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := httpparse.Message{Header: txHeaders(tc.headers...)}
			f := readRequestFields(&m)
			got, ok := requestContext(&f, &m)
			assert.Equal(t, tc.decides, got.parentSampled, "the caller's decision")
			if tc.trace == "" {
				assert.False(t, ok, "found %v", got)
				return
			}
			require.True(t, ok)
			assert.Equal(t, mustTraceID(t, tc.trace), got.traceID)
			assert.Equal(t, mustSpanID(t, tc.parent), got.parentID)
		})
	}
}

func mustTraceID(t *testing.T, h string) pcommon.TraceID {
	t.Helper()
	var id pcommon.TraceID
	n, err := hex.Decode(id[:], []byte(h))
	require.NoError(t, err)
	require.Equal(t, len(id), n)
	return id
}

func mustSpanID(t *testing.T, h string) pcommon.SpanID {
	t.Helper()
	var id pcommon.SpanID
	n, err := hex.Decode(id[:], []byte(h))
	require.NoError(t, err)
	require.Equal(t, len(id), n)
	return id
}
