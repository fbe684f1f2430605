package translate

import (
	"encoding/hex"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/ebpftap/ebpftap/internal/capture"
	"github.com/ebpftap/ebpftap/internal/httpparse"
	"github.com/ebpftap/ebpftap/internal/tap"
)

// Append adds a span for x to b and, at capture level summary and above, a
// log record with the same trace and span ids, both under the resource of
// x's process. v is x's view from Describe, which metrics share.
func (t *Translator) Append(b *Batch, x tap.Exchange, v *View) {
	if v == nil {
		return
	}
	c, tx, level := x.Conn, x.Tx, t.level
	var p *capture.Process
	if c != nil {
		p = c.Process
	}

	traceID, spanID := t.ids.NewIDs()
	var parentID pcommon.SpanID
	var traceState string
	if tp, ok := parseTraceparent(&tx.Request.Message); ok {
		traceID, parentID = tp.traceID, tp.parentID
		traceState = tracestate(&tx.Request.Message)
	}

	span := t.spanSlice(b, p).AppendEmpty()
	span.SetTraceID(traceID)
	span.SetSpanID(spanID)
	span.SetParentSpanID(parentID)
	span.TraceState().FromRaw(traceState)
	span.SetName(v.spanName())
	if v.server {
		span.SetKind(ptrace.SpanKindServer)
	} else {
		span.SetKind(ptrace.SpanKindClient)
	}
	span.SetStartTimestamp(timestamp(v.start))
	span.SetEndTimestamp(timestamp(v.end))
	var headers messageHeaders
	if level >= LevelHeaders {
		headers.request = groupHeaders(tx.Request.Header, t.redact, true)
		if tx.Response != nil {
			headers.response = groupHeaders(tx.Response.Header, t.redact, false)
		}
	}
	attrs := t.transactionAttributes(t.attrs[:0], c, tx, v, &headers, level)
	attrs.putTo(span.Attributes())
	if v.isError {
		// No description: error.type already says all that is known.
		span.Status().SetCode(ptrace.StatusCodeError)
	}

	if level >= LevelSummary {
		t.appendLog(b, p, tx, v, attrs, &headers, traceID, spanID, level)
	}
	clear(attrs) // keep no transaction alive
	t.attrs = attrs[:0]
}

// traceparent is a parsed W3C Trace Context traceparent header.
type traceparent struct {
	traceID  pcommon.TraceID
	parentID pcommon.SpanID
}

// parseTraceparent reads the first traceparent header per W3C Trace Context
// level 1, section 3.2: version "-" trace-id "-" parent-id "-" flags, all
// lowercase hex; version ff and all-zero ids are invalid; a future version
// may append fields after another "-".
func parseTraceparent(m *httpparse.Message) (traceparent, bool) {
	var tp traceparent
	h, ok := m.Get("traceparent")
	if !ok {
		return tp, false
	}
	h = strings.TrimSpace(h)
	const size = 55 // 2+1+32+1+16+1+2
	if len(h) < size || h[2] != '-' || h[35] != '-' || h[52] != '-' {
		return tp, false
	}
	version := h[:2]
	if !isLowerHex(version) || version == "ff" {
		return tp, false
	}
	if version == "00" && len(h) != size {
		return tp, false
	}
	if len(h) > size && h[size] != '-' {
		return tp, false
	}
	if !isLowerHex(h[3:35]) || !isLowerHex(h[36:52]) || !isLowerHex(h[53:55]) {
		return tp, false
	}
	if _, err := hex.Decode(tp.traceID[:], []byte(h[3:35])); err != nil {
		return tp, false
	}
	if _, err := hex.Decode(tp.parentID[:], []byte(h[36:52])); err != nil {
		return tp, false
	}
	if tp.traceID.IsEmpty() || tp.parentID.IsEmpty() {
		return tp, false
	}
	return tp, true
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if ('0' > c || c > '9') && ('a' > c || c > 'f') {
			return false
		}
	}
	return true
}

// maxTraceStateMembers is W3C Trace Context's limit on tracestate list
// members; a longer list is not a valid tracestate.
const maxTraceStateMembers = 32

// tracestate joins the request's tracestate headers into one list (they are
// one comma-separated list split across lines, W3C Trace Context section
// 3.3), dropping empty members. A list that cannot be valid is dropped whole,
// as the specification asks.
func tracestate(m *httpparse.Message) string {
	var members []string
	for _, h := range m.Header {
		if !strings.EqualFold(h.Name, "tracestate") {
			continue
		}
		for member := range strings.SplitSeq(h.Value, ",") {
			member = strings.TrimSpace(member)
			if member == "" {
				continue
			}
			if !validTraceStateMember(member) || len(members) == maxTraceStateMembers {
				return ""
			}
			members = append(members, member)
		}
	}
	return strings.Join(members, ",")
}

// validTraceStateMember checks the shape of key "=" value: a non-empty key
// and value of printable ASCII, the value without "," or "=".
func validTraceStateMember(s string) bool {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" || v == "" || len(k) > 256 || len(v) > 256 {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if ('a' > c || c > 'z') && ('0' > c || c > '9') && !strings.ContainsRune("_-*/@", rune(c)) {
			return false
		}
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c > 0x7e || c == ',' || c == '=' {
			return false
		}
	}
	return true
}
