package main

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding/gzip"
)

// spansFrom is traces with, for each pid, spans of the kinds given.
func spansFrom(byPid map[int64][]ptrace.SpanKind) ptrace.Traces {
	td := ptrace.NewTraces()
	for pid, kinds := range byPid {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutInt("process.pid", pid)
		ss := rs.ScopeSpans().AppendEmpty()
		for _, k := range kinds {
			ss.Spans().AppendEmpty().SetKind(k)
		}
	}
	return td
}

// dropsOf is the receiver's drop metric, once for each emission given (as
// the batch processor merges emissions into one export), with one data
// point per reason.
func dropsOf(emissions ...map[string]int64) pmetric.Metrics {
	md := pmetric.NewMetrics()
	ms := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics()
	for _, totals := range emissions {
		m := ms.AppendEmpty()
		m.SetName(droppedMetric)
		sum := m.SetEmptySum()
		sum.SetIsMonotonic(true)
		for reason, n := range totals {
			dp := sum.DataPoints().AppendEmpty()
			dp.Attributes().PutStr(droppedReason, reason)
			dp.SetIntValue(n)
		}
		ms.AppendEmpty().SetName("http.server.request.duration")
	}
	return md
}

// TestSink exports to the sink as the collector's OTLP exporter does
// (gRPC, gzip, over a unix socket) and reads its counts.
func TestSink(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "sink.sock")
	s, err := startSink(socket)
	require.NoError(t, err)
	defer s.stop()
	conn, err := grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.UseCompressor(gzip.Name)))
	require.NoError(t, err)
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	server, client := ptrace.SpanKindServer, ptrace.SpanKindClient
	traces := ptraceotlp.NewGRPCClient(conn)
	_, err = traces.Export(ctx, ptraceotlp.NewExportRequestFromTraces(spansFrom(map[int64][]ptrace.SpanKind{
		100: {server, server}, 101: {server}, 200: {client, client, client},
	})))
	require.NoError(t, err)
	_, err = traces.Export(ctx, ptraceotlp.NewExportRequestFromTraces(spansFrom(map[int64][]ptrace.SpanKind{100: {server}, 300: {server}})))
	require.NoError(t, err)
	assert.Equal(t, int64(4), s.spansOf(server, 100, 101))
	assert.Equal(t, int64(3), s.spansOf(client, 200))
	assert.Zero(t, s.spansOf(client, 100))
	assert.False(t, s.quietFor(time.Minute))

	logs := plog.NewLogs()
	logs.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	_, err = plogotlp.NewGRPCClient(conn).Export(ctx, plogotlp.NewExportRequestFromLogs(logs))
	require.NoError(t, err)
	assert.Equal(t, int64(1), s.logCount())

	// Cumulative: the latest totals stand, and two emissions merged into
	// one export are not added up.
	before := time.Now()
	assert.False(t, s.metricsSince(before))
	metrics := pmetricotlp.NewGRPCClient(conn)
	for _, md := range []pmetric.Metrics{
		dropsOf(map[string]int64{"pipeline_busy": 5}),
		dropsOf(map[string]int64{"pipeline_busy": 9, "ring_buffer_full": 1}, map[string]int64{"pipeline_busy": 9, "ring_buffer_full": 1}),
	} {
		_, err = metrics.Export(ctx, pmetricotlp.NewExportRequestFromMetrics(md))
		require.NoError(t, err)
	}
	assert.Equal(t, map[string]int64{"pipeline_busy": 9, "ring_buffer_full": 1}, s.dropsNow())
	// A second resource's counters add to the first's.
	other := dropsOf(map[string]int64{"pipeline_busy": 3})
	other.ResourceMetrics().At(0).Resource().Attributes().PutInt("process.pid", 7)
	_, err = metrics.Export(ctx, pmetricotlp.NewExportRequestFromMetrics(other))
	require.NoError(t, err)
	assert.Equal(t, map[string]int64{"pipeline_busy": 12, "ring_buffer_full": 1}, s.dropsNow())
	assert.True(t, s.metricsSince(before))

	s.reset()
	assert.Zero(t, s.spansOf(server, 100))
	assert.Empty(t, s.dropsNow())
	assert.Zero(t, s.logCount())
	assert.True(t, s.quietFor(time.Minute))
	assert.False(t, s.metricsSince(before))
}
