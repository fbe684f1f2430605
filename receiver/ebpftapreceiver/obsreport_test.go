package ebpftapreceiver

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/ebpftap/ebpftap/internal/capture"
	"github.com/ebpftap/ebpftap/receiver/ebpftapreceiver/internal/metadata"
)

// TestObsReportCountsAcceptedAndRefused: the collector's own receiver
// telemetry counts the spans a consumer took as accepted and the log
// records one refused as refused.
func TestObsReportCountsAcceptedAndRefused(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	set := receivertest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	traces := new(consumertest.TracesSink)
	refusing := consumertest.NewErr(consumererror.NewPermanent(errors.New("over the limit")))
	r, c := preparedReceiverSet(t, set, LevelSummary, traces, refusing, new(consumertest.MetricsSink))
	now := time.Now()
	const exchanges = 4
	for range exchanges {
		r.tap.Data(c, capture.Segment{Dir: capture.Send, Time: now, Data: []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")})
		r.tap.Data(c, capture.Segment{Dir: capture.Recv, Time: now, Data: []byte("HTTP/1.1 204 No Content\r\n\r\n")})
	}
	r.flushTransactions(context.Background())
	if n := traces.SpanCount(); n != exchanges {
		t.Fatalf("the pipeline got %d spans; want %d", n, exchanges)
	}
	for name, want := range map[string]int64{
		"otelcol_receiver_accepted_spans":       exchanges,
		"otelcol_receiver_refused_log_records":  exchanges,
		"otelcol_receiver_accepted_log_records": 0,
	} {
		if got := telemetrySumOr0(t, tel, name); got != want {
			t.Errorf("%s %d; want %d", name, got, want)
		}
	}
}

// telemetrySumOr0 is telemetrySum, 0 for a counter never recorded.
func telemetrySumOr0(t *testing.T, tel *componenttest.Telemetry, name string) int64 {
	t.Helper()
	if _, err := tel.GetMetric(name); err != nil {
		return 0
	}
	return telemetrySum(t, tel, name)
}
