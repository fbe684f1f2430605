package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// richTraces has what the receiver's spans have around the fields the sink
// reads: resource attributes of every kind before and after process.pid,
// several scopes, span attributes, events and links.
func richTraces() ptrace.Traces {
	td := ptrace.NewTraces()
	for _, pid := range []int64{41, 42, 0} {
		rs := td.ResourceSpans().AppendEmpty()
		attrs := rs.Resource().Attributes()
		attrs.PutStr("host.name", "h")
		attrs.PutDouble("x.double", 1.5)
		attrs.PutEmptySlice("process.command_args").AppendEmpty().SetStr("curl")
		if pid != 0 {
			attrs.PutInt("process.pid", pid)
		}
		attrs.PutInt("process.parent_pid", 1)
		for scope := range 2 {
			ss := rs.ScopeSpans().AppendEmpty()
			ss.Scope().SetName("ebpftap")
			for i, kind := range []ptrace.SpanKind{ptrace.SpanKindServer, ptrace.SpanKindClient, ptrace.SpanKindClient} {
				sp := ss.Spans().AppendEmpty()
				sp.SetKind(kind)
				sp.SetName("GET")
				sp.SetTraceID(pcommon.TraceID{1, byte(i), byte(scope)})
				sp.SetStartTimestamp(1)
				sp.SetEndTimestamp(2)
				sp.Attributes().PutInt("process.pid", 999) // a span's attribute is not the resource's
				sp.Events().AppendEmpty().SetName("e")
				sp.Links().AppendEmpty().SetTraceID(pcommon.TraceID{2})
			}
		}
	}
	return td
}

func TestCountSpansAgreesWithPdata(t *testing.T) {
	td := richTraces()
	want := map[spanKey]int64{}
	for _, rs := range td.ResourceSpans().All() {
		pid, _ := rs.Resource().Attributes().Get("process.pid")
		for _, ss := range rs.ScopeSpans().All() {
			for _, sp := range ss.Spans().All() {
				want[spanKey{pid.Int(), sp.Kind()}]++
			}
		}
	}
	req, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	require.NoError(t, err)
	got := map[spanKey]int64{}
	require.NoError(t, countSpans(req, func(k spanKey) { got[k]++ }))
	assert.Equal(t, want, got)
	assert.Equal(t, int64(2), got[spanKey{41, ptrace.SpanKindServer}])
	assert.Equal(t, int64(4), got[spanKey{0, ptrace.SpanKindClient}])

	// Cut anywhere, the bytes give an error or fewer spans, never a panic
	// nor more spans.
	for n := range len(req) {
		var spans int64
		if err := countSpans(req[:n], func(spanKey) { spans++ }); err == nil {
			assert.Less(t, spans, int64(td.SpanCount()+1), "prefix of %d bytes", n)
		}
	}
	assert.ErrorIs(t, countSpans([]byte{0x0a, 0x05, 0x01}, func(spanKey) {}), errTruncated)
}

func TestCountLogRecords(t *testing.T) {
	ld := plog.NewLogs()
	for range 2 {
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutInt("process.pid", 7)
		sl := rl.ScopeLogs().AppendEmpty()
		for range 3 {
			lr := sl.LogRecords().AppendEmpty()
			lr.Body().SetEmptyMap().PutStr("method", "GET")
			lr.Attributes().PutStr("url.full", "http://x/")
		}
	}
	req, err := (&plog.ProtoMarshaler{}).MarshalLogs(ld)
	require.NoError(t, err)
	n, err := countLogRecords(req)
	require.NoError(t, err)
	assert.Equal(t, int64(6), n)
}
