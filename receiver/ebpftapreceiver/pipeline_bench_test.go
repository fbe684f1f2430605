package ebpftapreceiver

import (
	"context"
	"math"
	"net/netip"
	"testing"
	"time"

	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/ebpftap/ebpftap/internal/capture"
	"github.com/ebpftap/ebpftap/receiver/ebpftapreceiver/internal/metadata"
)

// BenchmarkPipeline measures the receiver's whole user-space path for one
// request seen on both ends, as the engine would hand it over: the tap parses
// the client's and the server's streams, the receiver describes and counts
// each exchange as it finishes, the flusher translates and hands over two
// spans and (from level summary) two log records, and the consumers marshal
// them to OTLP/protobuf as an exporter would. No kernel is needed, so regressions show without root; the load
// bench (make bench, cmd/ebpftapbench) measures the same path under real traffic.
// summary-logs-only is a receiver in no traces pipeline (an archive of log
// records, as to S3): it builds no spans. summary-sampled-0.1 keeps the spans
// and log records of one request in ten (sampling.ratio), and counts all;
// metrics-only (sampling.ratio 0) keeps none: the cost of the metrics alone.
func BenchmarkPipeline(b *testing.B) {
	for _, bc := range []struct {
		name     string
		level    Level
		noTraces bool
		ratio    float64
	}{
		{"none", LevelNone, false, 1},
		{"summary", LevelSummary, false, 1},
		{"full", LevelFull, false, 1},
		{"summary-logs-only", LevelSummary, true, 1},
		{"summary-sampled-0.1", LevelSummary, false, 0.1},
		{"metrics-only", LevelSummary, false, 0},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := createDefaultConfig().(*Config)
			cfg.Direction = DirectionAll
			cfg.Capture.Level = bc.level
			cfg.Sampling.Ratio = bc.ratio
			r := newReceiver(cfg, receivertest.NewNopSettings(metadata.Type))
			var spans, records int
			r.traces, r.logs, r.metrics = marshalingConsumers(&spans, &records)
			items := &spans
			if bc.noTraces {
				r.traces, items = nil, &records
			}
			if err := r.prepare(); err != nil {
				b.Fatal(err)
			}
			exchange := benchExchange(r)
			ctx := context.Background()

			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				exchange()
				if (i+1)%(flushSize/2) == 0 {
					r.flushTransactions(ctx)
				}
			}
			r.flushTransactions(ctx)
			r.flushMetricsWith(ctx, capture.Stats{}, nil)
			b.StopTimer()
			switch want := 2 * float64(b.N) * bc.ratio; {
			case bc.ratio == 1 && *items != 2*b.N:
				b.Fatalf("%d spans (log records without traces) for %d requests, want two per request", *items, b.N)
			case b.N >= 10000 && math.Abs(float64(*items)-want) > want/5:
				b.Fatalf("%d spans for %d requests at ratio %v, want about %.0f", *items, b.N, bc.ratio, want)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "µs/request")
		})
	}
}

// benchExchange opens a client and a server connection on r and returns a
// function that feeds one request and its response through both, as the
// engine hands them over.
func benchExchange(r *ebpftapReceiver) func() {
	proc := &capture.Process{PID: 7, ExePath: "/usr/bin/client", ExeName: "client", CommandLine: "client -n 1"}
	client := &capture.Conn{ID: 1, Process: proc, Role: capture.RoleClient,
		Local: netip.MustParseAddrPort("10.0.0.5:51000"), Remote: netip.MustParseAddrPort("10.0.0.9:8080")}
	server := &capture.Conn{ID: 2, Process: &capture.Process{PID: 8, ExePath: "/usr/sbin/server", ExeName: "server"},
		Role: capture.RoleServer, Local: client.Remote, Remote: client.Local}
	r.tap.ConnOpened(client)
	r.tap.ConnOpened(server)
	req := []byte("GET /api/items?id=42 HTTP/1.1\r\nHost: api.example.test:8080\r\nUser-Agent: bench/1.0\r\nAccept: */*\r\n\r\n")
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"items\": []}")
	now := time.Now()
	return func() {
		r.tap.Data(client, capture.Segment{Dir: capture.Send, Time: now, Data: req})
		r.tap.Data(server, capture.Segment{Dir: capture.Recv, Time: now, Data: req})
		r.tap.Data(server, capture.Segment{Dir: capture.Send, Time: now, Data: resp})
		r.tap.Data(client, capture.Segment{Dir: capture.Recv, Time: now, Data: resp})
	}
}

// marshalingConsumers are pipelines that do what an OTLP exporter's encoder
// does with each batch, counting spans and log records.
func marshalingConsumers(spans, records *int) (consumer.Traces, consumer.Logs, consumer.Metrics) {
	traces, _ := consumer.NewTraces(func(_ context.Context, td ptrace.Traces) error {
		*spans += td.SpanCount()
		_, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
		return err
	})
	logs, _ := consumer.NewLogs(func(_ context.Context, ld plog.Logs) error {
		*records += ld.LogRecordCount()
		_, err := (&plog.ProtoMarshaler{}).MarshalLogs(ld)
		return err
	})
	metrics, _ := consumer.NewMetrics(func(_ context.Context, md pmetric.Metrics) error {
		_, err := (&pmetric.ProtoMarshaler{}).MarshalMetrics(md)
		return err
	})
	return traces, logs, metrics
}

// BenchmarkPdataFloor measures what any receiver that emits BenchmarkPipeline's
// output at levels none and summary pays in pdata alone: building the same
// two spans (and at summary two log records) a request, copied from the
// receiver's own output so every attribute value is allocated as Put*
// allocates it, and marshaling them to OTLP/protobuf. What BenchmarkPipeline
// takes beyond it is the receiver's own work: parsing, describing, counting
// and choosing attributes.
func BenchmarkPdataFloor(b *testing.B) {
	for _, level := range []Level{LevelNone, LevelSummary} {
		b.Run(string(level), func(b *testing.B) {
			cfg := createDefaultConfig().(*Config)
			cfg.Direction = DirectionAll
			cfg.Capture.Level = level
			r := newReceiver(cfg, receivertest.NewNopSettings(metadata.Type))
			td, ld := ptrace.NewTraces(), plog.NewLogs()
			r.traces, _ = consumer.NewTraces(func(_ context.Context, t ptrace.Traces) error {
				t.ResourceSpans().MoveAndAppendTo(td.ResourceSpans())
				return nil
			})
			r.logs, _ = consumer.NewLogs(func(_ context.Context, l plog.Logs) error {
				l.ResourceLogs().MoveAndAppendTo(ld.ResourceLogs())
				return nil
			})
			r.metrics = nil
			if err := r.prepare(); err != nil {
				b.Fatal(err)
			}
			exchange := benchExchange(r)
			const requests = flushSize / 2
			for range requests {
				exchange()
			}
			r.flushTransactions(context.Background())
			wantRecords := 2 * requests
			if level == LevelNone {
				wantRecords = 0
			}
			if td.SpanCount() != 2*requests || ld.LogRecordCount() != wantRecords {
				b.Fatalf("%d spans and %d log records for %d requests at level %s, want %d and %d",
					td.SpanCount(), ld.LogRecordCount(), requests, level, 2*requests, wantRecords)
			}

			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				t, l := ptrace.NewTraces(), plog.NewLogs()
				td.CopyTo(t)
				ld.CopyTo(l)
				if _, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(t); err != nil {
					b.Fatal(err)
				}
				if _, err := (&plog.ProtoMarshaler{}).MarshalLogs(l); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/requests/1000, "µs/request")
		})
	}
}
