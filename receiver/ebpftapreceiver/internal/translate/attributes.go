package translate

import (
	"net/textproto"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"

	"github.com/ebpftap/ebpftap/internal/httpparse"
	"github.com/ebpftap/ebpftap/internal/tap"
	"github.com/ebpftap/ebpftap/receiver/ebpftapreceiver/internal/redact"
)

// Names this receiver defines where semantic conventions v1.40.0 have none;
// documentation-signals.md describes each.
const (
	attrConnectionID = "ebpftap.connection.id"
	// metricConnectionDuration is a histogram, which mdatagen cannot build.
	metricConnectionDuration  = "ebpftap.connection.duration"
	attrTLSLibrary            = "ebpftap.tls.library"
	attrRequestBodyTruncated  = "ebpftap.http.request.body.truncated"
	attrResponseBodyTruncated = "ebpftap.http.response.body.truncated"
	// What was kept of the bodies, on log records at level full, and the
	// content codings undone to show them.
	attrRequestBody             = "ebpftap.http.request.body"
	attrResponseBody            = "ebpftap.http.response.body"
	attrRequestBodyDecodedFrom  = "ebpftap.http.request.body.decoded_from"
	attrResponseBodyDecodedFrom = "ebpftap.http.response.body.decoded_from"
	// The body was cut because capture.max_buffered_body_bytes was spent.
	attrRequestBodyOverBudget  = "ebpftap.http.request.body.over_budget"
	attrResponseBodyOverBudget = "ebpftap.http.response.body.over_budget"
	attrRequestIncomplete      = "ebpftap.http.request.incomplete"
	attrResponseIncomplete     = "ebpftap.http.response.incomplete"
	attrRequestBodyLost        = "ebpftap.http.request.body.lost"
	attrResponseBodyLost       = "ebpftap.http.response.body.lost"

	// gRPC message counts and payload sizes, read from the length-prefixed
	// framing of bodies captured whole; semantic conventions v1.40.0 dropped
	// the rpc.message.* attributes.
	attrRPCRequestMessageCount  = "ebpftap.rpc.request.message.count"
	attrRPCRequestMessageBytes  = "ebpftap.rpc.request.message.bytes"
	attrRPCResponseMessageCount = "ebpftap.rpc.response.message.count"
	attrRPCResponseMessageBytes = "ebpftap.rpc.response.message.bytes"

	// errorTypeNoResponse is error.type when the connection (or the capture)
	// ended before a response to the request was seen.
	errorTypeNoResponse = "ebpftap.no_response"

	eventNameTransaction = "ebpftap.http.transaction"
)

// headerValue returns a header's value ready for telemetry: redacted when
// its name is listed, valid UTF-8 otherwise.
func headerValue(lowerName, value string, policy *redact.Policy) string {
	if policy.Header(lowerName) {
		return redact.Redacted
	}
	return validUTF8(value)
}

// headerGroup is one header name with all its values, in wire order, and
// the attribute key they are exported under.
type headerGroup struct {
	name   string // lowercase
	key    string // http.request.header.<name> or http.response.header.<name>
	values []string
}

// messageHeaders are the grouped headers of a transaction's messages, made
// once for its span and its log record.
type messageHeaders struct {
	request, response []headerGroup
}

// headerNames are a header's lowercase name and attribute keys.
type headerNames struct {
	lower, requestKey, responseKey string
}

const (
	requestHeaderPrefix  = "http.request.header."
	responseHeaderPrefix = "http.response.header."
)

// commonHeaders holds the names of common headers under their lowercase
// and canonical spellings, made once: lowering and prefixing every name of
// every message took 12 of the 320 allocations per request at level full
// (BenchmarkPipeline).
var commonHeaders = func() map[string]*headerNames {
	common := []string{
		"accept", "accept-encoding", "accept-language", "authorization", "cache-control",
		"connection", "content-encoding", "content-length", "content-type", "cookie", "date",
		"etag", "host", "last-modified", "location", "referer", "server", "set-cookie",
		"traceparent", "tracestate", "transfer-encoding", "user-agent", "vary",
		"x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-request-id",
	}
	m := make(map[string]*headerNames, 2*len(common))
	for _, lower := range common {
		n := &headerNames{lower: lower, requestKey: requestHeaderPrefix + lower, responseKey: responseHeaderPrefix + lower}
		m[lower] = n
		m[textproto.CanonicalMIMEHeaderKey(lower)] = n
	}
	return m
}()

// headerNameKey returns the lowercase form of a header name from the wire
// and its attribute key in a request or a response.
func headerNameKey(wire string, request bool) (lower, key string) {
	n, ok := commonHeaders[wire]
	if !ok {
		lower = validUTF8(strings.ToLower(wire))
		if request {
			return lower, requestHeaderPrefix + lower
		}
		return lower, responseHeaderPrefix + lower
	}
	if request {
		return n.lower, n.requestKey
	}
	return n.lower, n.responseKey
}

// indexedGroups is the header count above which groupHeaders finds a
// name's group through a map instead of a linear search.
const indexedGroups = 16

// groupHeaders merges repeated header lines by lowercase name, keeping the
// order names first appeared in, with values redacted as configured. The
// values of names sent once share one backing array: a slice per name was
// most of the allocations at level headers (BenchmarkPipeline).
func groupHeaders(hs []httpparse.HeaderField, policy *redact.Policy, request bool) []headerGroup {
	if len(hs) == 0 {
		return nil
	}
	groups := make([]headerGroup, 0, len(hs))
	backing := make([]string, len(hs))
	var index map[string]int
	if len(hs) > indexedGroups {
		index = make(map[string]int, len(hs))
	}
	for i, h := range hs {
		name, key := headerNameKey(h.Name, request)
		value := headerValue(name, h.Value, policy)
		if g := findGroup(groups, index, name); g >= 0 {
			// A repeated name outgrows its one-element slice: rare.
			groups[g].values = append(groups[g].values, value)
			continue
		}
		if index != nil {
			index[name] = len(groups)
		}
		backing[i] = value
		groups = append(groups, headerGroup{name: name, key: key, values: backing[i : i+1 : i+1]})
	}
	return groups
}

// findGroup returns the index of name's group, or -1.
func findGroup(groups []headerGroup, index map[string]int, name string) int {
	if index != nil {
		if g, ok := index[name]; ok {
			return g
		}
		return -1
	}
	for g := range groups {
		if groups[g].name == name {
			return g
		}
	}
	return -1
}

func putStrings(m pcommon.Map, key string, values []string) {
	s := m.PutEmptySlice(key)
	s.EnsureCapacity(len(values))
	for _, v := range values {
		s.AppendEmpty().SetStr(v)
	}
}

// bodyOf returns the part of a message's body this receiver may export and
// whether the exported part is less than the whole body.
func (t *Translator) bodyOf(m *httpparse.Message) ([]byte, bool) {
	body, truncated := m.Body, m.BodyTruncated || int64(len(m.Body)) < m.BodySize
	limit := max(t.maxBodyBytes, 0)
	if len(body) > limit {
		body, truncated = body[:limit], true
	}
	return body, truncated
}

// attribute is one attribute of a transaction. The attributes are gathered
// before any pdata map is made, so that the span's map and the log record's
// are each allocated once at their exact size and the log record's is built
// directly instead of copied from the span's: a fixed capacity of 24 wasted
// about 700 B per request at level summary and grew at level headers
// (BenchmarkPipeline).
type attribute struct {
	key  string
	kind pcommon.ValueType // Str, Int, Bool (true) or Slice (of strs)
	str  string
	num  int64
	strs []string
}

// attributeList gathers attributes in the order they are exported.
type attributeList []attribute

func (l *attributeList) str(key, v string) {
	*l = append(*l, attribute{key: key, kind: pcommon.ValueTypeStr, str: v})
}

func (l *attributeList) int(key string, v int64) {
	*l = append(*l, attribute{key: key, kind: pcommon.ValueTypeInt, num: v})
}

// flag adds a boolean attribute, which this receiver only ever sets true.
func (l *attributeList) flag(key string) {
	*l = append(*l, attribute{key: key, kind: pcommon.ValueTypeBool})
}

func (l *attributeList) strings(key string, vs []string) {
	*l = append(*l, attribute{key: key, kind: pcommon.ValueTypeSlice, strs: vs})
}

// putTo adds the attributes to m.
func (l attributeList) putTo(m pcommon.Map) {
	m.EnsureCapacity(m.Len() + len(l))
	for i := range l {
		a := &l[i]
		switch a.kind {
		case pcommon.ValueTypeStr:
			m.PutStr(a.key, a.str)
		case pcommon.ValueTypeInt:
			m.PutInt(a.key, a.num)
		case pcommon.ValueTypeBool:
			m.PutBool(a.key, true)
		case pcommon.ValueTypeSlice:
			putStrings(m, a.key, a.strs)
		}
	}
}

// transactionAttributes gathers the attributes spans and log records share
// into attrs, which it returns.
func (t *Translator) transactionAttributes(attrs attributeList, c *tap.Conn, tx *httpparse.Transaction, v *View,
	headers *messageHeaders, level Level,
) attributeList {
	req, resp := tx.Request, tx.Response
	attrs.str(string(semconv.HTTPRequestMethodKey), v.method)
	if v.methodOriginal != "" {
		attrs.str(string(semconv.HTTPRequestMethodOriginalKey), v.methodOriginal)
	}
	if resp != nil {
		attrs.int(string(semconv.HTTPResponseStatusCodeKey), int64(v.status))
	}
	if v.errorType != "" {
		attrs.str(string(semconv.ErrorTypeKey), v.errorType)
	}
	if v.proto != "" {
		attrs.str(string(semconv.NetworkProtocolVersionKey), v.proto)
	}
	if v.peerAddress != "" {
		attrs.str(string(semconv.NetworkPeerAddressKey), v.peerAddress)
		attrs.int(string(semconv.NetworkPeerPortKey), int64(v.peer.Port()))
	}
	if v.serverAddress != "" {
		attrs.str(string(semconv.ServerAddressKey), v.serverAddress)
		if v.serverPort != 0 {
			attrs.int(string(semconv.ServerPortKey), int64(v.serverPort))
		}
	}
	if v.server {
		attrs.str(string(semconv.URLSchemeKey), v.scheme)
		if v.target.path != "" { // CONNECT names no path
			attrs.str(string(semconv.URLPathKey), v.target.path)
		}
		if v.target.hasQuery {
			attrs.str(string(semconv.URLQueryKey), v.target.query)
		}
		if v.peerAddress != "" {
			attrs.str(string(semconv.ClientAddressKey), v.peerAddress)
			attrs.int(string(semconv.ClientPortKey), int64(v.peer.Port()))
		}
	} else {
		attrs.str(string(semconv.URLFullKey), v.url)
	}
	if v.hasUA {
		attrs.str(string(semconv.UserAgentOriginalKey), v.userAgent)
	}
	if v.rpc != nil {
		attrs.str(string(semconv.RPCSystemNameKey), rpcSystemGRPC)
		attrs.str(string(semconv.RPCMethodKey), v.rpc.method)
		if v.rpc.methodOriginal != "" {
			attrs.str(string(semconv.RPCMethodOriginalKey), v.rpc.methodOriginal)
		}
		if v.rpc.status != "" {
			attrs.str(string(semconv.RPCResponseStatusCodeKey), v.rpc.status)
		}
	}
	if req.BodySize > 0 {
		attrs.int(string(semconv.HTTPRequestBodySizeKey), req.BodySize)
	}
	if resp != nil && resp.BodySize > 0 {
		attrs.int(string(semconv.HTTPResponseBodySizeKey), resp.BodySize)
	}
	if c != nil {
		attrs.int(attrConnectionID, toInt64(c.ID))
		if c.TLSVersion != "" {
			attrs.str(string(semconv.TLSProtocolNameKey), "tls")
			attrs.str(string(semconv.TLSProtocolVersionKey), c.TLSVersion)
		}
		if c.TLSLibrary != "" {
			attrs.str(attrTLSLibrary, c.TLSLibrary)
		}
	}
	if req.Incomplete {
		attrs.flag(attrRequestIncomplete)
	}
	if resp != nil && resp.Incomplete {
		attrs.flag(attrResponseIncomplete)
	}
	// At every level: the sizes are right, but not every byte was seen.
	if req.BodyLost > 0 {
		attrs.int(attrRequestBodyLost, req.BodyLost)
	}
	if resp != nil && resp.BodyLost > 0 {
		attrs.int(attrResponseBodyLost, resp.BodyLost)
	}
	if level >= LevelFull {
		// Only bodies that are exported can be exported truncated.
		if _, truncated := t.bodyOf(&req.Message); truncated && req.BodySize > 0 {
			attrs.flag(attrRequestBodyTruncated)
		}
		if req.BodyOverBudget {
			attrs.flag(attrRequestBodyOverBudget)
		}
		if resp != nil {
			if _, truncated := t.bodyOf(&resp.Message); truncated && resp.BodySize > 0 {
				attrs.flag(attrResponseBodyTruncated)
			}
			if resp.BodyOverBudget {
				attrs.flag(attrResponseBodyOverBudget)
			}
		}
		if v.rpc != nil {
			if n, size, ok := grpcMessages(&req.Message); ok {
				attrs.int(attrRPCRequestMessageCount, n)
				attrs.int(attrRPCRequestMessageBytes, size)
			}
			if resp != nil {
				if n, size, ok := grpcMessages(&resp.Message); ok {
					attrs.int(attrRPCResponseMessageCount, n)
					attrs.int(attrRPCResponseMessageBytes, size)
				}
			}
		}
	}
	for _, g := range headers.request {
		attrs.strings(g.key, g.values)
	}
	for _, g := range headers.response {
		attrs.strings(g.key, g.values)
	}
	return attrs
}
