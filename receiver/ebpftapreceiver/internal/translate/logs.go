package translate

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/ebpftap/ebpftap/internal/capture"
	"github.com/ebpftap/ebpftap/internal/httpparse"
)

// appendLog adds the log record of a transaction whose span has attrs and
// the given ids. Its attributes are the span's, with the kept bodies at level
// full; its body is one line for people to read, as an access log's
// (documentation-signals.md). The body used to be a map that repeated the
// attributes (method, URL, status, sizes, and the headers from level
// headers): the line took 24 fewer allocations and 1 KB less per request at
// level summary (BenchmarkPipeline), and a log store keeps each fact once.
func (t *Translator) appendLog(b *Batch, p *capture.Process, tx *httpparse.Transaction, v *View,
	attrs attributeList, traceID pcommon.TraceID, spanID pcommon.SpanID, level Level,
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
	la := lr.Attributes()
	if level >= LevelFull {
		// Room for a body, its coding and a truncation mark, each way.
		la.EnsureCapacity(len(attrs) + 6)
	}
	attrs.putTo(la)
	if level >= LevelFull {
		t.putBody(la, &tx.Request.Message, &requestBodyKeys)
		if tx.Response != nil {
			t.putBody(la, &tx.Response.Message, &responseBodyKeys)
		}
	}
	lr.Body().SetStr(accessLine(tx, v))
}

// accessLine is a transaction in one line: method, URL (built like url.full,
// for SERVER spans too), status or "-" without a response, the gRPC status
// when there is one, and the duration, e.g.
// "GET http://api.example.com/v1/items?id=7 200 25.1ms".
func accessLine(tx *httpparse.Transaction, v *View) string {
	method := validUTF8(tx.Request.Method)
	var rpcStatus string
	if v.rpc != nil {
		rpcStatus = v.rpc.status
	}
	var line strings.Builder
	line.Grow(len(method) + len(v.url) + len(rpcStatus) + 32)
	line.WriteString(method)
	line.WriteByte(' ')
	line.WriteString(v.url)
	line.WriteByte(' ')
	if tx.Response != nil {
		line.WriteString(strconv.Itoa(tx.Response.StatusCode))
	} else {
		line.WriteByte('-')
	}
	if rpcStatus != "" {
		line.WriteString(" grpc ")
		line.WriteString(rpcStatus)
	}
	line.WriteByte(' ')
	line.WriteString(v.end.Sub(v.start).Round(time.Microsecond).String())
	return line.String()
}

// bodyKeys name a message's body attributes in a log record.
type bodyKeys struct {
	body, decodedFrom, truncated string
}

var (
	requestBodyKeys  = bodyKeys{attrRequestBody, attrRequestBodyDecodedFrom, attrRequestBodyTruncated}
	responseBodyKeys = bodyKeys{attrResponseBody, attrResponseBodyDecodedFrom, attrResponseBodyTruncated}
)

// putBody adds to a log record's attributes what was kept of a message's
// body, at level full: decoded when it came in a content coding that can be
// undone, redacted, a string when it is text and bytes otherwise.
func (t *Translator) putBody(m pcommon.Map, msg *httpparse.Message, keys *bodyKeys) {
	if msg.BodySize == 0 && len(msg.Body) == 0 {
		return
	}
	content, truncated := t.bodyOf(msg)
	decoded := false
	if coding := contentCoding(msg); coding != "" {
		// Shown decoded, within the same bound as a plain body; a coding
		// that cannot be undone leaves the bytes as they were.
		if out, cut, err := httpparse.DecodeContent(coding, content, t.maxBodyBytes); err == nil {
			if cut && !truncated {
				// The span's attributes did not say so: the body was
				// whole, its decoding is not.
				m.PutBool(keys.truncated, true)
			}
			content, truncated, decoded = out, truncated || cut, true
			m.PutStr(keys.decodedFrom, coding)
		}
	}
	// Patterns are matched in what a reader sees: the decoded content.
	content = t.redact.Body(content)
	if s, ok := textBody(msg, content, truncated, decoded); ok {
		m.PutStr(keys.body, s)
	} else {
		m.PutEmptyBytes(keys.body).FromRaw(content)
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
