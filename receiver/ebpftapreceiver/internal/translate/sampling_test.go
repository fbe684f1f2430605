package translate

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/ebpftap/ebpftap/internal/httpparse"
	"github.com/ebpftap/ebpftap/internal/tap"
)

// traceWithRandomness is a trace id whose low 56 bits are r, under a high
// byte of the low half set, which samplers must not read.
func traceWithRandomness(r uint64) pcommon.TraceID {
	var id pcommon.TraceID
	id[0] = 0xab
	binary.BigEndian.PutUint64(id[8:], 0xff<<56|r)
	return id
}

func TestSamplerDecides(t *testing.T) {
	const all = 1<<56 - 1
	quarter := uint64(3 << 54) // (1 - 0.25) x 2^56
	for _, tc := range []struct {
		name       string
		sampling   *Sampling
		randomness uint64
		parent     decision
		want       bool
	}{
		{"no sampling", nil, 0, notSampled, true},
		{"ratio 1", &Sampling{Ratio: 1}, 0, undecided, true},
		{"ratio 1 ignores the caller", &Sampling{Ratio: 1}, 0, notSampled, true},
		{"ratio 0", &Sampling{Ratio: 0}, all, undecided, false},
		{"at the threshold", &Sampling{Ratio: 0.25}, quarter, undecided, true},
		{"just below it", &Sampling{Ratio: 0.25}, quarter - 1, undecided, false},
		{"the caller sampled", &Sampling{Ratio: 0, ParentBased: true}, 0, sampled, true},
		{"the caller did not", &Sampling{Ratio: 1, ParentBased: true}, all, notSampled, false},
		{"the caller did not say", &Sampling{Ratio: 0.25, ParentBased: true}, quarter, undecided, true},
		{"the caller did not say, below", &Sampling{Ratio: 0.25, ParentBased: true}, quarter - 1, undecided, false},
		{"without parent_based the caller is not asked", &Sampling{Ratio: 0.25}, quarter - 1, sampled, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := spanContext{traceID: traceWithRandomness(tc.randomness), parentSampled: tc.parent}
			assert.Equal(t, tc.want, newSampler(tc.sampling).keep(&sc, false))
		})
	}
}

// TestSamplingKeepsRequestsWhole translates both ends of many requests on
// one host at ratio 0.5: each request keeps both its spans and both its log
// records, or none of them, and about half are kept.
func TestSamplingKeepsRequestsWhole(t *testing.T) {
	s := translateSettings(LevelSummary)
	s.Sampling = &Sampling{Ratio: 0.5}
	tr := mustTranslator(t, s, newRandomIDs())
	b := NewBatch()
	const requests = 400
	for seq := uint64(1); seq <= requests; seq++ {
		for _, x := range []tap.Exchange{
			{Conn: stitchClient, Tx: loginTx(), Seq: seq},
			{Conn: stitchServer, Tx: loginTx(), Seq: seq, Peer: stitchClient.ID},
		} {
			var v View
			require.True(t, tr.Describe(x, &v))
			tr.Append(b, x, &v)
		}
	}
	spansOf := map[pcommon.TraceID]int{}
	for _, rs := range b.traces.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, sp := range ss.Spans().All() {
				spansOf[sp.TraceID()]++
				assert.Equal(t, "ot=th:8", sp.TraceState().AsRaw(), "the threshold of 0.5")
			}
		}
	}
	recordsOf := map[pcommon.TraceID]int{}
	for _, rl := range b.logs.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				recordsOf[lr.TraceID()]++
			}
		}
	}
	for id, n := range spansOf {
		assert.Equal(t, 2, n, "spans of trace %v", id)
		assert.Equal(t, 2, recordsOf[id], "log records of trace %v", id)
	}
	assert.Len(t, recordsOf, len(spansOf), "a log record without its span")
	// Binomial(400, 0.5): 0.3 and 0.7 are 8 standard deviations out.
	kept := float64(len(spansOf)) / requests
	assert.InDelta(t, 0.5, kept, 0.2, fmt.Sprintf("%d of %d requests kept", len(spansOf), requests))
}

// TestSamplingFollowsTheCaller: with parent_based, a caller's sampled flag
// keeps a request that ratio 0 would leave out, and its unsampled flag
// leaves one out that ratio 1 would keep.
func TestSamplingFollowsTheCaller(t *testing.T) {
	const (
		sampledParent   = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
		unsampledParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
	)
	for _, tc := range []struct {
		name  string
		ratio float64
		tx    []string
		want  int
	}{
		{"sampled caller, ratio 0", 0, []string{"traceparent", sampledParent}, 1},
		{"no caller, ratio 0", 0, nil, 0},
		{"unsampled caller, ratio 1", 1, []string{"traceparent", unsampledParent}, 0},
		{"no caller, ratio 1", 1, nil, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := translateSettings(LevelSummary)
			s.Sampling = &Sampling{Ratio: tc.ratio, ParentBased: true}
			tr := mustTranslator(t, s, newRandomIDs())
			b := NewBatch()
			x := tap.Exchange{Conn: stitchClient, Tx: loginTx(tc.tx...), Seq: 1}
			var v View
			require.True(t, tr.Describe(x, &v))
			tr.Append(b, x, &v)
			assert.Equal(t, tc.want, b.traces.SpanCount(), "spans")
			assert.Equal(t, tc.want, b.logs.LogRecordCount(), "log records")
		})
	}
}

func TestSamplerThresholdAndRandomness(t *testing.T) {
	for _, tc := range []struct {
		ratio float64
		th    string
	}{
		{0.5, "8"},
		{0.25, "c"},
		{0.1, "e666"},     // as the SDKs write it
		{0.01, "fd70a"},   // a digit more for the leading f
		{0.001, "ffbe77"}, // two more
		{0.9999, "00068dc"},
		{1, "0"},
	} {
		// parent_based, so that ratio 1 is a sampler too.
		assert.Equal(t, tc.th, newSampler(&Sampling{Ratio: tc.ratio, ParentBased: true}).th, "ratio %v", tc.ratio)
	}

	half := newSampler(&Sampling{Ratio: 0.5})
	for _, tc := range []struct {
		name       string
		randomness uint64 // of the trace id
		state      string
		want       bool
		wantState  string // the tracestate after a keep
	}{
		{"trace id above", 1<<55 + 1, "", true, "ot=th:8"},
		{"trace id below", 1<<55 - 1, "", false, ""},
		{"rv above, trace id below", 0, "ot=rv:ffffffffffffff", true, "ot=th:8;rv:ffffffffffffff"},
		{"rv below, trace id above", 1<<56 - 1, "ot=rv:00000000000000", false, ""},
		{"rv not 14 digits: the trace id", 1<<56 - 1, "ot=rv:fffffffffffff", true, "ot=th:8;rv:fffffffffffff"},
		{"the caller's th replaced, other members kept", 1 << 55, "congo=t61rcWkgMzE,ot=th:c;rv:ffffffffffffff", true, "ot=th:8;rv:ffffffffffffff,congo=t61rcWkgMzE"},
		{"another vendor's member", 1 << 55, "rojo=00f067aa0ba902b7", true, "ot=th:8,rojo=00f067aa0ba902b7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := spanContext{traceID: traceWithRandomness(tc.randomness), traceState: tc.state}
			assert.Equal(t, tc.want, half.keep(&sc, false))
			if tc.want {
				assert.Equal(t, tc.wantState, sc.traceState)
			}
		})
	}

	// Kept at ratio 1, a span is no longer one of many: a th the caller
	// wrote becomes 0, and nothing else changes.
	all := newSampler(&Sampling{Ratio: 1})
	for state, want := range map[string]string{
		"congo=t61rcWkgMzE,ot=th:e666;rv:ffffffffffffff": "ot=th:0;rv:ffffffffffffff,congo=t61rcWkgMzE",
		"ot=rv:ffffffffffffff":                           "ot=rv:ffffffffffffff",
		"rojo=00f067aa0ba902b7":                          "rojo=00f067aa0ba902b7",
		"rojo=th:1":                                      "rojo=th:1",
		"ot=rv:ffffffffffffff,ot=th:c":                   "ot=th:0;rv:ffffffffffffff",
		"":                                               "",
	} {
		sc := spanContext{traceID: traceWithRandomness(0), traceState: state}
		require.True(t, all.keep(&sc, false))
		assert.Equal(t, want, sc.traceState, "from %q", state)
	}

	// Two ot members (an invalid list) become one; a member that would
	// outgrow W3C's 256 characters keeps only th.
	sc := spanContext{traceID: traceWithRandomness(0), traceState: "ot=rv:ffffffffffffff,ot=th:c"}
	require.True(t, half.keep(&sc, false))
	assert.Equal(t, "ot=th:8;rv:ffffffffffffff", sc.traceState)
	long := "ot=x:" + strings.Repeat("a", 250)
	assert.Equal(t, "ot=th:8", withThreshold(long, "8"))
	sc = spanContext{traceID: traceWithRandomness(0), traceState: "ot=rv:ffffffffffffff;x:" + strings.Repeat("a", 235)}
	require.True(t, half.keep(&sc, false))
	assert.Equal(t, "ot=th:8;rv:ffffffffffffff", sc.traceState, "the rv that decided stays")

	// Ratio 1 with parent_based adds no th where the caller wrote none,
	// as ratio 1 alone does not.
	sc = spanContext{traceID: traceWithRandomness(0)}
	require.True(t, newSampler(&Sampling{Ratio: 1, ParentBased: true}).keep(&sc, false))
	assert.Empty(t, sc.traceState)

	// A ratio that is not a number keeps nothing.
	nan := newSampler(&Sampling{Ratio: math.NaN()})
	assert.Equal(t, uint64(1<<56), nan.threshold)
	assert.False(t, nan.keep(&spanContext{traceID: traceWithRandomness(1<<56 - 1)}, false))

	// A decision the sampler did not make leaves the caller's tracestate.
	sc = spanContext{traceID: traceWithRandomness(0), parentSampled: sampled, traceState: "rojo=00f067aa0ba902b7"}
	require.True(t, newSampler(&Sampling{Ratio: 0.5, ParentBased: true}).keep(&sc, false))
	assert.Equal(t, "rojo=00f067aa0ba902b7", sc.traceState)

	// A full list makes room for ot by its last member.
	var members []string
	for i := range maxTraceStateMembers {
		members = append(members, fmt.Sprintf("v%d=x", i))
	}
	full := withThreshold(strings.Join(members, ","), "8")
	got := strings.Split(full, ",")
	assert.Len(t, got, maxTraceStateMembers)
	assert.Equal(t, "ot=th:8", got[0])
	assert.Equal(t, fmt.Sprintf("v%d=x", maxTraceStateMembers-2), got[len(got)-1])
}

// TestSamplingKeepsFailures: with KeepFailures, a transaction that failed
// alike on both ends is kept whatever the ratio or the caller decided, and
// its spans weigh one (th:0); one that did not fail, and a client's 4xx, are
// left to the ratio.
func TestSamplingKeepsFailures(t *testing.T) {
	const unsampledParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
	withStatus := func(status int, headers ...string) *httpparse.Transaction {
		tx := loginTx(headers...)
		tx.Response = txResp(status, 2, 3, nil, 0)
		return tx
	}
	noResponse := loginTx()
	noResponse.Response = nil
	grpcFailed := loginTx("content-type", "application/grpc")
	grpcFailed.Response = txResp(200, 2, 3, txHeaders("content-type", "application/grpc", "grpc-status", "14"), 0)
	grpcOK := loginTx("content-type", "application/grpc")
	grpcOK.Response = txResp(200, 2, 3, txHeaders("content-type", "application/grpc", "grpc-status", "0"), 0)
	for _, tc := range []struct {
		name string
		tx   *httpparse.Transaction
		want int // spans, of both ends
	}{
		{"503", withStatus(503), 2},
		{"503, the caller did not sample", withStatus(503, "traceparent", unsampledParent), 2},
		{"no response", noResponse, 2},
		{"gRPC UNAVAILABLE", grpcFailed, 2},
		{"gRPC OK", grpcOK, 0},
		{"200", withStatus(200), 0},
		{"404: an error of the client's span only", withStatus(404), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := translateSettings(LevelSummary)
			s.Sampling = &Sampling{Ratio: 0, ParentBased: true, KeepFailures: true}
			tr := mustTranslator(t, s, newRandomIDs())
			b := NewBatch()
			for _, x := range []tap.Exchange{
				{Conn: stitchClient, Tx: tc.tx, Seq: 1},
				{Conn: stitchServer, Tx: tc.tx, Seq: 1, Peer: stitchClient.ID},
			} {
				var v View
				require.True(t, tr.Describe(x, &v))
				tr.Append(b, x, &v)
			}
			require.Equal(t, tc.want, b.traces.SpanCount(), "spans")
			assert.Equal(t, tc.want, b.logs.LogRecordCount(), "log records")
			for _, rs := range b.traces.ResourceSpans().All() {
				for _, ss := range rs.ScopeSpans().All() {
					for _, sp := range ss.Spans().All() {
						assert.Equal(t, "ot=th:0", sp.TraceState().AsRaw())
					}
				}
			}
		})
	}
}
