package ebpftapreceiver

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/ebpftap/ebpftap/internal/capture"
	"github.com/ebpftap/ebpftap/receiver/ebpftapreceiver/internal/metadata"
	"github.com/ebpftap/ebpftap/receiver/ebpftapreceiver/internal/translate"
)

// TestPendingBytesBound: while the flusher is away, transactions with large
// bodies wait only up to maxPendingBytes; the rest are dropped and counted
// as pipeline_busy, and the flusher hands over those that waited.
func TestPendingBytesBound(t *testing.T) {
	traces, metrics := new(consumertest.TracesSink), new(consumertest.MetricsSink)
	r, c := preparedReceiver(t, LevelFull, traces, nil, metrics)

	const body = 512 << 10
	const uploads = 2 * maxPendingBytes / body // twice what may wait
	req := []byte("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 524288\r\n\r\n" + strings.Repeat("a", body))
	resp := []byte("HTTP/1.1 204 No Content\r\n\r\n")
	now := time.Now()
	for range uploads {
		r.tap.Data(c, capture.Segment{Dir: capture.Send, Time: now, Data: req})
		r.tap.Data(c, capture.Segment{Dir: capture.Recv, Time: now, Data: resp})
	}
	r.mu.Lock()
	waiting, held := len(r.pending), r.held
	r.mu.Unlock()
	if held > maxPendingBytes || waiting >= uploads || waiting < uploads/2-1 {
		t.Errorf("%d of %d transactions wait, holding %d bytes; want about half, within %d bytes", waiting, uploads, held, maxPendingBytes)
	}

	ctx := context.Background()
	r.flushTransactions(ctx)
	r.flushMetricsWith(ctx, capture.Stats{}, nil)
	if n := traces.SpanCount(); n != waiting {
		t.Errorf("handed over %d spans; want the %d that waited", n, waiting)
	}
	if n := droppedFor(metrics.AllMetrics(), metadata.AttributeEbpftapDropReasonPipelineBusy.String()); n != int64(uploads-waiting) {
		t.Errorf("pipeline_busy drops %d; want %d", n, uploads-waiting)
	}
}

// droppedFor sums the ebpftap.capture.dropped points with the given reason.
func droppedFor(all []pmetric.Metrics, reason string) int64 {
	var n int64
	for _, md := range all {
		eachSumPoint(md, "ebpftap.capture.dropped", func(_ pcommon.Resource, dp pmetric.NumberDataPoint) {
			if v, ok := dp.Attributes().Get("ebpftap.drop.reason"); ok && v.Str() == reason {
				n += dp.IntValue()
			}
		})
	}
	return n
}

// preparedReceiver is a receiver at level with the given consumers, ready
// to be fed by its tap (no engine), and a client connection opened on it.
func preparedReceiver(t *testing.T, level Level, traces consumer.Traces, logs consumer.Logs, metrics consumer.Metrics) (*ebpftapReceiver, *capture.Conn) {
	t.Helper()
	return preparedReceiverSet(t, receivertest.NewNopSettings(metadata.Type), level, traces, logs, metrics)
}

// preparedReceiverSet is preparedReceiver with the given settings.
func preparedReceiverSet(t *testing.T, set receiver.Settings, level Level, traces consumer.Traces, logs consumer.Logs, metrics consumer.Metrics) (*ebpftapReceiver, *capture.Conn) {
	t.Helper()
	return preparedReceiverWith(t, set, func(cfg *Config) { cfg.Capture.Level = level }, traces, logs, metrics)
}

// preparedReceiverWith is preparedReceiverSet with a config edit instead of
// a level.
func preparedReceiverWith(t *testing.T, set receiver.Settings, edit func(*Config), traces consumer.Traces, logs consumer.Logs, metrics consumer.Metrics) (*ebpftapReceiver, *capture.Conn) {
	t.Helper()
	cfg := createDefaultConfig().(*Config)
	cfg.Direction = DirectionAll
	cfg.Capture.MaxBodyBytes = 1 << 20
	edit(cfg)
	r := newReceiver(cfg, set)
	r.traces, r.logs, r.metrics = traces, logs, metrics
	if err := r.prepare(); err != nil {
		t.Fatal(err)
	}
	c := &capture.Conn{ID: 1, Process: &capture.Process{PID: 7, ExePath: "/usr/bin/client"}, Role: capture.RoleClient,
		Local: netip.MustParseAddrPort("10.0.0.5:51000"), Remote: netip.MustParseAddrPort("10.0.0.9:80")}
	r.tap.ConnOpened(c)
	return r, c
}

// TestRefusedItemsCounted: spans and log records a consumer refuses are
// counted as pipeline_refused.
func TestRefusedItemsCounted(t *testing.T) {
	metrics := new(consumertest.MetricsSink)
	r, c := preparedReceiver(t, LevelSummary, consumertest.NewErr(errors.New("over the memory limit")), new(consumertest.LogsSink), metrics)
	now := time.Now()
	const exchanges = 5
	for range exchanges {
		r.tap.Data(c, capture.Segment{Dir: capture.Send, Time: now, Data: []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")})
		r.tap.Data(c, capture.Segment{Dir: capture.Recv, Time: now, Data: []byte("HTTP/1.1 204 No Content\r\n\r\n")})
	}
	ctx := context.Background()
	r.flushTransactions(ctx)
	r.flushMetricsWith(ctx, capture.Stats{}, nil)
	if n := droppedFor(metrics.AllMetrics(), metadata.AttributeEbpftapDropReasonPipelineRefused.String()); n != exchanges {
		t.Errorf("pipeline_refused %d; want the %d refused spans (the log records were taken)", n, exchanges)
	}
}

// TestOnlyConsumedSignalsBuilt: a receiver in no traces pipeline builds no
// spans, one in no logs pipeline no log records; what is built is handed over.
func TestOnlyConsumedSignalsBuilt(t *testing.T) {
	exchange := func(r *ebpftapReceiver, c *capture.Conn) *translate.Batch {
		now := time.Now()
		r.tap.Data(c, capture.Segment{Dir: capture.Send, Time: now, Data: []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")})
		r.tap.Data(c, capture.Segment{Dir: capture.Recv, Time: now, Data: []byte("HTTP/1.1 204 No Content\r\n\r\n")})
		r.mu.Lock()
		defer r.mu.Unlock()
		if len(r.pending) != 1 {
			t.Fatalf("%d transactions pending, want 1", len(r.pending))
		}
		b := translate.NewBatch()
		r.translator.Append(b, r.pending[0].x, r.pending[0].view())
		return b
	}

	logs := new(consumertest.LogsSink)
	r, c := preparedReceiver(t, LevelSummary, nil, logs, nil)
	b := exchange(r, c)
	if b.Traces().SpanCount() != 0 || b.Logs().LogRecordCount() != 1 {
		t.Errorf("logs only: built %d spans and %d log records, want 0 and 1", b.Traces().SpanCount(), b.Logs().LogRecordCount())
	}
	r.flushTransactions(context.Background())
	if logs.LogRecordCount() != 1 {
		t.Errorf("logs only: handed over %d log records, want 1", logs.LogRecordCount())
	}

	traces := new(consumertest.TracesSink)
	r, c = preparedReceiver(t, LevelSummary, traces, nil, nil)
	b = exchange(r, c)
	if b.Traces().SpanCount() != 1 || b.Logs().LogRecordCount() != 0 {
		t.Errorf("traces only: built %d spans and %d log records, want 1 and 0", b.Traces().SpanCount(), b.Logs().LogRecordCount())
	}
	r.flushTransactions(context.Background())
	if traces.SpanCount() != 1 {
		t.Errorf("traces only: handed over %d spans, want 1", traces.SpanCount())
	}
}

// TestSamplingCountsEveryTransaction: at sampling.ratio 0 no transaction
// waits for the flusher or gets a span or a log record, and the metrics
// count every one.
func TestSamplingCountsEveryTransaction(t *testing.T) {
	traces, logs, metrics := new(consumertest.TracesSink), new(consumertest.LogsSink), new(consumertest.MetricsSink)
	r, c := preparedReceiverWith(t, receivertest.NewNopSettings(metadata.Type), func(cfg *Config) {
		cfg.Capture.Level = LevelSummary
		cfg.Sampling.Ratio = 0
	}, traces, logs, metrics)
	const exchanges = 3
	now := time.Now()
	for range exchanges {
		r.tap.Data(c, capture.Segment{Dir: capture.Send, Time: now, Data: []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")})
		r.tap.Data(c, capture.Segment{Dir: capture.Recv, Time: now, Data: []byte("HTTP/1.1 204 No Content\r\n\r\n")})
	}
	r.mu.Lock()
	waiting := len(r.pending)
	r.mu.Unlock()
	if waiting != 0 {
		t.Errorf("%d transactions wait for the flusher, want none", waiting)
	}
	ctx := context.Background()
	r.flushTransactions(ctx)
	r.flushMetricsWith(ctx, capture.Stats{}, nil)
	if traces.SpanCount() != 0 || logs.LogRecordCount() != 0 {
		t.Errorf("%d spans and %d log records, want none", traces.SpanCount(), logs.LogRecordCount())
	}
	var counted uint64
	for _, md := range metrics.AllMetrics() {
		eachHistogramPoint(md, "http.client.request.duration", func(_ pcommon.Resource, dp pmetric.HistogramDataPoint) {
			counted += dp.Count()
		})
	}
	if counted != exchanges {
		t.Errorf("http.client.request.duration counted %d requests, want %d", counted, exchanges)
	}
}
