package translate

import (
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/ebpftap/ebpftap/internal/capture"
	"github.com/ebpftap/ebpftap/internal/tap"
)

// Append adds a span for x to b and, at capture level summary and above, a
// log record with the same trace and span ids, both under the resource of
// x's process; not the signals Settings.SkipSpans and SkipLogs leave out,
// nor the transactions Settings.Sampling leaves out. v is x's view from
// Describe, which metrics share.
func (t *Translator) Append(b *Batch, x tap.Exchange, v *View) {
	if v == nil || !v.sampled {
		return // left out by sampling: its metrics counted it
	}
	ids := v.place
	// With rules, the span is built at the highest level any source gives,
	// for the conditions to see, then cut to the level the rules decide.
	c, tx := x.Conn, x.Tx
	level := t.levels.forServer(v.serverAddress)
	if t.levels.hasRules() {
		level = t.levels.max
	}
	var p *capture.Process
	if c != nil {
		p = c.Process
	}

	var headers messageHeaders
	if level >= LevelHeaders {
		headers.request = groupHeaders(tx.Request.Header, t.redact, true)
		if tx.Response != nil {
			headers.response = groupHeaders(tx.Response.Header, t.redact, false)
		}
	}
	attrs := t.transactionAttributes(t.attrs[:0], c, tx, v, &headers, level)
	// Rules see the span: it is built for them even when no pipeline
	// takes spans, and then never sent.
	if !t.skipSpans || t.levels.hasRules() {
		attrs, level = t.appendSpan(b, p, x, v, &ids, &headers, attrs, level)
	}
	if level >= LevelSummary && !t.skipLogs {
		t.appendLog(b, p, tx, v, attrs, ids.traceID, ids.spanID, level)
	}
	clear(attrs) // keep no transaction alive
	t.attrs = attrs[:0]
}

// appendSpan adds x's span, with attrs at level, to b under p's resource.
// It returns the attributes and level the rules decide, or attrs and level
// without rules.
func (t *Translator) appendSpan(b *Batch, p *capture.Process, x tap.Exchange, v *View, ids *spanContext,
	headers *messageHeaders, attrs attributeList, level Level,
) (attributeList, Level) {
	rs, ss := t.spanScope(b, p)
	span := ss.Spans().AppendEmpty()
	span.SetTraceID(ids.traceID)
	span.SetSpanID(ids.spanID)
	span.SetParentSpanID(ids.parentID)
	span.TraceState().FromRaw(ids.traceState)
	span.SetName(v.spanName())
	if v.server {
		span.SetKind(ptrace.SpanKindServer)
	} else {
		span.SetKind(ptrace.SpanKindClient)
	}
	span.SetStartTimestamp(timestamp(v.start))
	span.SetEndTimestamp(timestamp(v.end))
	attrs.putTo(span.Attributes())
	if v.isError {
		// No description: error.type already says all that is known.
		span.Status().SetCode(ptrace.StatusCodeError)
	}
	if t.levels.hasRules() {
		own := t.levels.of(rs, ss, span, v.serverAddress)
		if attributesAt(own) != attributesAt(level) {
			if own < LevelHeaders {
				*headers = messageHeaders{}
			}
			clear(attrs)
			attrs = t.transactionAttributes(attrs[:0], x.Conn, x.Tx, v, headers, own)
			span.Attributes().Clear()
			attrs.putTo(span.Attributes())
		}
		level = own
	}
	return attrs, level
}

// attributesAt is the level whose span attributes a span at level l has:
// none and summary differ only in the log record.
func attributesAt(l Level) Level { return max(l, LevelSummary) }
