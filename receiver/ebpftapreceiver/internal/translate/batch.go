package translate

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"

	"github.com/ebpftap/ebpftap/internal/capture"
	"github.com/ebpftap/ebpftap/receiver/ebpftapreceiver/internal/metadata"
)

// Batch collects the spans and log records of transactions until the
// receiver sends them, with one ResourceSpans and one ResourceLogs per
// process. It is not safe for concurrent use.
type Batch struct {
	traces  ptrace.Traces
	logs    plog.Logs
	spans   map[processKey]ptrace.ResourceSpans
	records map[processKey]plog.LogRecordSlice
}

// NewBatch returns an empty batch.
func NewBatch() *Batch {
	return &Batch{
		traces:  ptrace.NewTraces(),
		logs:    plog.NewLogs(),
		spans:   make(map[processKey]ptrace.ResourceSpans),
		records: make(map[processKey]plog.LogRecordSlice),
	}
}

// Traces are the batch's spans.
func (b *Batch) Traces() ptrace.Traces { return b.traces }

// Logs are the batch's log records.
func (b *Batch) Logs() plog.Logs { return b.logs }

// spanScope returns where p's spans go in b: its resource and its one scope.
func (t *Translator) spanScope(b *Batch, p *capture.Process) (ptrace.ResourceSpans, ptrace.ScopeSpans) {
	k := keyOf(p)
	if rs, ok := b.spans[k]; ok {
		return rs, rs.ScopeSpans().At(0)
	}
	rs := b.traces.ResourceSpans().AppendEmpty()
	rs.SetSchemaUrl(semconv.SchemaURL)
	t.processResource(p).MoveTo(rs.Resource())
	ss := rs.ScopeSpans().AppendEmpty()
	ss.SetSchemaUrl(semconv.SchemaURL)
	ss.Scope().SetName(metadata.ScopeName)
	b.spans[k] = rs
	return rs, ss
}

func (t *Translator) recordSlice(b *Batch, p *capture.Process) plog.LogRecordSlice {
	k := keyOf(p)
	if s, ok := b.records[k]; ok {
		return s
	}
	rl := b.logs.ResourceLogs().AppendEmpty()
	rl.SetSchemaUrl(semconv.SchemaURL)
	t.processResource(p).MoveTo(rl.Resource())
	sl := rl.ScopeLogs().AppendEmpty()
	sl.SetSchemaUrl(semconv.SchemaURL)
	sl.Scope().SetName(metadata.ScopeName)
	b.records[k] = sl.LogRecords()
	return sl.LogRecords()
}

func (t *Translator) processResource(p *capture.Process) pcommon.Resource {
	return buildProcessResource(t.rb, p, t.hostName, t.redact)
}
