package main

import (
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/grpc"
	// The collector's OTLP exporter compresses with gzip by default.
	_ "google.golang.org/grpc/encoding/gzip"
)

// droppedMetric is the receiver's cumulative count of what its bounds threw
// away, with the reason in droppedReason.
const (
	droppedMetric = "ebpftap.capture.dropped"
	droppedReason = "ebpftap.drop.reason"
)

// spanKey counts spans by the process that made them and their kind.
type spanKey struct {
	pid  int64
	kind ptrace.SpanKind
}

// dropKey is one drop counter: a reason, for one resource (its attributes).
type dropKey struct{ reason, resource string }

// sink is the OTLP gRPC server the collector exports to. It listens on a
// unix socket: the export is not a TCP connection, so the receiver neither
// captures it nor spends anything on it, and what it counts is the
// scenario's traffic only. It keeps counts, not data.
type sink struct {
	server *grpc.Server

	mu    sync.Mutex
	spans map[spanKey]int64
	logs  int64
	drops map[dropKey]int64 // the latest cumulative value
	last  time.Time         // when spans or logs last arrived
	// metricsAt is when metrics last arrived: drop counts are as of then.
	metricsAt time.Time
}

func startSink(socket string) (*sink, error) {
	_ = os.Remove(socket)
	ln, err := net.Listen("unix", socket)
	if err != nil {
		return nil, fmt.Errorf("listening on %s for the collector's export: %w", socket, err)
	}
	// The full level's batches pass gRPC's default 4 MiB limit once
	// decompressed; a sink that refused them would show as lost spans.
	s := &sink{
		server: grpc.NewServer(grpc.MaxRecvMsgSize(1<<30), grpc.ForceServerCodecV2(rawCodec{})),
		spans:  map[spanKey]int64{}, drops: map[dropKey]int64{},
	}
	s.server.RegisterService(exportService("opentelemetry.proto.collector.trace.v1.TraceService", s.addTraces), nil)
	s.server.RegisterService(exportService("opentelemetry.proto.collector.logs.v1.LogsService", s.addLogs), nil)
	s.server.RegisterService(exportService("opentelemetry.proto.collector.metrics.v1.MetricsService", s.addMetrics), nil)
	go func() { _ = s.server.Serve(ln) }()
	return s, nil
}

func (s *sink) stop() { s.server.Stop() }

// reset forgets everything counted: a round starts from zero.
func (s *sink) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.spans)
	clear(s.drops)
	s.logs = 0
	s.last = time.Time{}
	s.metricsAt = time.Time{}
}

// spansOf counts the spans of one kind made by any of pids.
func (s *sink) spansOf(kind ptrace.SpanKind, pids ...int) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for _, pid := range pids {
		n += s.spans[spanKey{int64(pid), kind}]
	}
	return n
}

// logCount is the log records received since the last reset.
func (s *sink) logCount() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logs
}

// dropsNow is the latest drop counts by reason, summed over resources.
func (s *sink) dropsNow() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int64{}
	for k, n := range s.drops {
		out[k.reason] += n
	}
	return out
}

// quietFor reports whether no spans or logs arrived for d.
func (s *sink) quietFor(d time.Duration) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return time.Since(s.last) >= d
}

// addTraces counts the spans of an ExportTraceServiceRequest by process
// and kind.
func (s *sink) addTraces(req []byte) error {
	counts := map[spanKey]int64{}
	if err := countSpans(req, func(k spanKey) { counts[k]++ }); err != nil {
		return err // refused whole: the exporter may send it again
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, n := range counts {
		s.spans[k] += n
	}
	s.last = time.Now()
	return nil
}

// addLogs counts the log records of an ExportLogsServiceRequest.
func (s *sink) addLogs(req []byte) error {
	n, err := countLogRecords(req)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logs += n
	s.last = time.Now()
	return nil
}

// addMetrics keeps the drop counters. They are cumulative sums, one data
// point per reason for each resource that reports them, so a reason's
// total is the sum over resources of each one's latest, and the latest is
// the largest. One export may hold several emissions of the same counter
// (the batch processor merges them): summing those would count twice.
// Metrics come once a second: they are decoded whole.
func (s *sink) addMetrics(req []byte) error {
	md, err := (&pmetric.ProtoUnmarshaler{}).UnmarshalMetrics(req)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rm := range md.ResourceMetrics().All() {
		resource := fmt.Sprint(rm.Resource().Attributes().AsRaw())
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				if m.Name() != droppedMetric || m.Type() != pmetric.MetricTypeSum {
					continue
				}
				for _, dp := range m.Sum().DataPoints().All() {
					reason, _ := dp.Attributes().Get(droppedReason)
					k := dropKey{reason.AsString(), resource}
					s.drops[k] = max(s.drops[k], dp.IntValue())
				}
			}
		}
	}
	s.metricsAt = time.Now()
	return nil
}

// metricsSince reports whether metrics arrived after t.
func (s *sink) metricsSince(t time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.metricsAt.After(t)
}
