package translate

import (
	"strings"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/ebpftap/ebpftap/internal/capture"
	"github.com/ebpftap/ebpftap/internal/httpparse"
)

// appendLog adds the log record of a transaction whose span has attrs and
// the given ids. The body's shape is documented in documentation-signals.md.
func (t *Translator) appendLog(b *Batch, p *capture.Process, tx *httpparse.Transaction, v *View,
	attrs attributeList, headers *messageHeaders, traceID pcommon.TraceID, spanID pcommon.SpanID, level Level,
) {
	lr := t.recordSlice(b, p).AppendEmpty()
	lr.SetEventName(eventNameTransaction)
	lr.SetTimestamp(timestamp(v.start))
	lr.SetObservedTimestamp(timestamp(v.end))
	lr.SetTraceID(traceID)
	lr.SetSpanID(spanID)
	if tx.Response == nil || v.status >= 400 || (v.rpc != nil && v.isError) {
		lr.SetSeverityNumber(plog.SeverityNumberWarn)
		lr.SetSeverityText("WARN")
	} else {
		lr.SetSeverityNumber(plog.SeverityNumberInfo)
		lr.SetSeverityText("INFO")
	}
	attrs.putTo(lr.Attributes())

	body := lr.Body().SetEmptyMap()
	// Sized exactly: growing the map key by key took 3 more allocations per
	// record (BenchmarkPipeline).
	body.EnsureCapacity(6)
	body.PutStr("method", validUTF8(tx.Request.Method))
	body.PutStr("url", v.url)
	if tx.Response != nil {
		body.PutInt("status", int64(tx.Response.StatusCode))
	}
	body.PutDouble("duration_ms", float64(v.end.Sub(v.start))/float64(time.Millisecond))
	t.putMessage(body.PutEmptyMap("request"), &tx.Request.Message, headers.request, level)
	if tx.Response != nil {
		t.putMessage(body.PutEmptyMap("response"), &tx.Response.Message, headers.response, level)
	}
}

// putMessage describes a request or response in a log body: its size always,
// its headers from level headers, its body from level full.
func (t *Translator) putMessage(m pcommon.Map, msg *httpparse.Message, headers []headerGroup, level Level) {
	// Room for every key at once: growing the map key by key took 2 more
	// allocations per message at level full (BenchmarkPipeline).
	hasBody := level >= LevelFull && (msg.BodySize > 0 || len(msg.Body) > 0)
	n := 1 // body_size
	if msg.Incomplete {
		n++
	}
	if level >= LevelHeaders {
		n++
	}
	if hasBody {
		n += 3 // body_decoded_from, body, body_truncated
	}
	m.EnsureCapacity(n)
	m.PutInt("body_size", msg.BodySize)
	if msg.Incomplete {
		m.PutBool("incomplete", true)
	}
	if level >= LevelHeaders {
		hm := m.PutEmptyMap("headers")
		hm.EnsureCapacity(len(headers))
		for _, g := range headers {
			putStrings(hm, g.name, g.values)
		}
	}
	if hasBody {
		content, truncated := t.bodyOf(msg)
		decoded := false
		if coding := contentCoding(msg); coding != "" {
			// Shown decoded, within the same bound as a plain body; a
			// coding that cannot be undone leaves the bytes as they were.
			if out, cut, err := httpparse.DecodeContent(coding, content, t.maxBodyBytes); err == nil {
				content, truncated, decoded = out, truncated || cut, true
				m.PutStr("body_decoded_from", coding)
			}
		}
		// Patterns are matched in what a reader sees: the decoded content.
		content = t.redact.Body(content)
		if s, ok := textBody(msg, content, truncated, decoded); ok {
			m.PutStr("body", s)
		} else {
			m.PutEmptyBytes("body").FromRaw(content)
		}
		m.PutBool("body_truncated", truncated)
	}
}

// textMediaTypes are the non-text/* media types whose content is text.
var textMediaTypes = map[string]struct{}{
	"application/json":                  {},
	"application/xml":                   {},
	"application/javascript":            {},
	"application/ecmascript":            {},
	"application/x-www-form-urlencoded": {},
	"application/graphql":               {},
	"application/x-ndjson":              {},
	"application/yaml":                  {},
	"application/x-yaml":                {},
	"application/sql":                   {},
}

// contentCoding is the message's Content-Encoding when it names a coding
// other than identity, else "".
func contentCoding(msg *httpparse.Message) string {
	enc, _ := msg.Get("Content-Encoding")
	if enc = strings.TrimSpace(enc); strings.EqualFold(enc, "identity") {
		return ""
	}
	return enc
}

// textBody returns content as a string when the message declares a text
// media type, the content is not (or no longer: decoded) in a content
// coding, and the bytes are UTF-8; pdata strings must be valid UTF-8, so
// anything else stays bytes. A truncated body may end inside a character,
// which is cut off.
func textBody(msg *httpparse.Message, content []byte, truncated, decoded bool) (string, bool) {
	if !decoded && contentCoding(msg) != "" {
		return "", false
	}
	ct, _ := msg.Get("Content-Type")
	media, _, _ := strings.Cut(ct, ";")
	media = strings.ToLower(strings.TrimSpace(media))
	_, known := textMediaTypes[media]
	if !known && !strings.HasPrefix(media, "text/") &&
		!strings.HasSuffix(media, "+json") && !strings.HasSuffix(media, "+xml") {
		return "", false
	}
	if truncated {
		content = trimPartialRune(content)
	}
	if !utf8.Valid(content) {
		return "", false
	}
	return string(content), true
}

// trimPartialRune drops an incomplete UTF-8 sequence at the end of b.
func trimPartialRune(b []byte) []byte {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				return b[:i]
			}
			return b
		}
	}
	return b
}

// timestamp converts a time, leaving the zero time as the zero timestamp
// instead of a date before 1970 that wraps around.
func timestamp(t time.Time) pcommon.Timestamp {
	if t.IsZero() || t.UnixNano() < 0 {
		return 0
	}
	return pcommon.NewTimestampFromTime(t)
}
