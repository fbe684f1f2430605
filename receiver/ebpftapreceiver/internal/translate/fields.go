package translate

import "github.com/ebpftap/ebpftap/internal/httpparse"

// requestField names a request header field translation reads.
type requestField uint8

const (
	fieldUserAgent requestField = iota
	fieldHost
	fieldContentType
	fieldForwarded
	fieldXForwardedHost
	fieldXForwardedProto
	fieldTraceparent
	fieldB3
	fieldXB3TraceID
	fieldXB3SpanID
	fieldXB3Sampled
	fieldXB3Flags
	requestFieldCount
)

// requestFields are the values of the request header fields translation
// reads, each the first field of its name (case-insensitive), as
// httpparse.Message.Get finds it. They are found in one pass over the
// header, which tells most names apart by their length alone: a Get per
// name scanned a request's header 17 times at its two ends, where 4 passes
// do (5% of BenchmarkDescribe).
type requestFields struct {
	values [requestFieldCount]string
	found  uint16 // bit f is set when field f was present
}

// readRequestFields finds the fields of m's header that translation reads.
func readRequestFields(m *httpparse.Message) requestFields {
	var f requestFields
	for _, h := range m.Header {
		n, ok := requestFieldOf(h.Name)
		if ok && f.found&(1<<n) == 0 {
			f.values[n] = h.Value
			f.found |= 1 << n
		}
	}
	return f
}

// get returns the value of field n and whether it was present.
func (f *requestFields) get(n requestField) (string, bool) {
	return f.values[n], f.found&(1<<n) != 0
}

// requestFieldOf returns the field a header name is, if translation reads it.
func requestFieldOf(name string) (requestField, bool) {
	var n requestField
	switch len(name) {
	case len("b3"):
		n = fieldB3
	case len("host"):
		n = fieldHost
	case len("forwarded"):
		n = fieldForwarded
	case len("user-agent"): // and x-b3-flags; tracestate is read whole (tracestate)
		if equalLower(name, "x-b3-flags") {
			return fieldXB3Flags, true
		}
		n = fieldUserAgent
	case len("traceparent"): // and x-b3-spanid
		if equalLower(name, "x-b3-spanid") {
			return fieldXB3SpanID, true
		}
		n = fieldTraceparent
	case len("content-type"): // and x-b3-traceid, x-b3-sampled
		if equalLower(name, "x-b3-traceid") {
			return fieldXB3TraceID, true
		}
		if equalLower(name, "x-b3-sampled") {
			return fieldXB3Sampled, true
		}
		n = fieldContentType
	case len("x-forwarded-host"):
		n = fieldXForwardedHost
	case len("x-forwarded-proto"):
		n = fieldXForwardedProto
	default:
		return 0, false
	}
	return n, equalLower(name, requestFieldNames[n])
}

// requestFieldNames are the fields' names in lower case.
var requestFieldNames = [requestFieldCount]string{
	fieldUserAgent:       "user-agent",
	fieldHost:            "host",
	fieldContentType:     "content-type",
	fieldForwarded:       "forwarded",
	fieldXForwardedHost:  "x-forwarded-host",
	fieldXForwardedProto: "x-forwarded-proto",
	fieldTraceparent:     "traceparent",
	fieldB3:              "b3",
	fieldXB3TraceID:      "x-b3-traceid",
	fieldXB3SpanID:       "x-b3-spanid",
	fieldXB3Sampled:      "x-b3-sampled",
	fieldXB3Flags:        "x-b3-flags",
}

// equalLower reports whether name is lower, a lower-case name, in any ASCII
// case, as httpparse.Message.Get compares names.
func equalLower(name, lower string) bool {
	if len(name) != len(lower) {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}
