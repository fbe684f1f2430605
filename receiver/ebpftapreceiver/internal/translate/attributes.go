package translate

import (
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"

	"github.com/ebpftap/ebpftap/internal/httpparse"
	"github.com/ebpftap/ebpftap/internal/tap"
)

// Names this receiver defines where semantic conventions v1.40.0 have none;
// documentation-signals.md describes each.
const (
	attrConnectionID          = "ebpftap.connection.id"
	attrTLSLibrary            = "ebpftap.tls.library"
	attrRequestBodyTruncated  = "ebpftap.http.request.body.truncated"
	attrResponseBodyTruncated = "ebpftap.http.response.body.truncated"
	attrRequestIncomplete     = "ebpftap.http.request.incomplete"
	attrResponseIncomplete    = "ebpftap.http.response.incomplete"

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

	// redacted replaces secrets, the value semantic conventions use for
	// url.full credentials and sensitive query values.
	redacted = "REDACTED"
)

// headerValue returns a header's value ready for telemetry: redacted when
// its name is listed, valid UTF-8 otherwise.
func headerValue(lowerName, value string, redact map[string]struct{}) string {
	if _, ok := redact[lowerName]; ok {
		return redacted
	}
	return validUTF8(value)
}

// headerGroup is one header name with all its values, in wire order.
type headerGroup struct {
	name   string // lowercase
	values []string
}

// groupHeaders merges repeated header lines by lowercase name, keeping the
// order names first appeared in, with values redacted as configured.
func groupHeaders(hs []httpparse.HeaderField, redact map[string]struct{}) []headerGroup {
	var groups []headerGroup
	index := make(map[string]int, len(hs))
	for _, h := range hs {
		name := validUTF8(strings.ToLower(h.Name))
		i, ok := index[name]
		if !ok {
			i = len(groups)
			index[name] = i
			groups = append(groups, headerGroup{name: name})
		}
		groups[i].values = append(groups[i].values, headerValue(name, h.Value, redact))
	}
	return groups
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

// putTransactionAttributes writes the attributes spans and log records share.
func (t *Translator) putTransactionAttributes(attrs pcommon.Map, c *tap.Conn, tx *httpparse.Transaction, v *View, level Level) {
	// Room for the usual attributes at once: growing the map one Put at a
	// time was a fifth of the receiver's CPU under load.
	attrs.EnsureCapacity(24)
	req, resp := tx.Request, tx.Response
	attrs.PutStr(string(semconv.HTTPRequestMethodKey), v.method)
	if v.methodOriginal != "" {
		attrs.PutStr(string(semconv.HTTPRequestMethodOriginalKey), v.methodOriginal)
	}
	if resp != nil {
		attrs.PutInt(string(semconv.HTTPResponseStatusCodeKey), int64(v.status))
	}
	if v.errorType != "" {
		attrs.PutStr(string(semconv.ErrorTypeKey), v.errorType)
	}
	if v.proto != "" {
		attrs.PutStr(string(semconv.NetworkProtocolVersionKey), v.proto)
	}
	if v.peerAddress != "" {
		attrs.PutStr(string(semconv.NetworkPeerAddressKey), v.peerAddress)
		attrs.PutInt(string(semconv.NetworkPeerPortKey), int64(v.peer.Port()))
	}
	if v.serverAddress != "" {
		attrs.PutStr(string(semconv.ServerAddressKey), v.serverAddress)
		if v.serverPort != 0 {
			attrs.PutInt(string(semconv.ServerPortKey), int64(v.serverPort))
		}
	}
	if v.server {
		attrs.PutStr(string(semconv.URLSchemeKey), v.scheme)
		if v.path != "" { // CONNECT names no path
			attrs.PutStr(string(semconv.URLPathKey), v.path)
		}
		if v.hasQuery {
			attrs.PutStr(string(semconv.URLQueryKey), v.query)
		}
		if v.peerAddress != "" {
			attrs.PutStr(string(semconv.ClientAddressKey), v.peerAddress)
			attrs.PutInt(string(semconv.ClientPortKey), int64(v.peer.Port()))
		}
	} else {
		attrs.PutStr(string(semconv.URLFullKey), v.url)
	}
	if v.hasUA {
		attrs.PutStr(string(semconv.UserAgentOriginalKey), v.userAgent)
	}
	if v.rpc != nil {
		attrs.PutStr(string(semconv.RPCSystemNameKey), rpcSystemGRPC)
		attrs.PutStr(string(semconv.RPCMethodKey), v.rpc.method)
		if v.rpc.methodOriginal != "" {
			attrs.PutStr(string(semconv.RPCMethodOriginalKey), v.rpc.methodOriginal)
		}
		if v.rpc.status != "" {
			attrs.PutStr(string(semconv.RPCResponseStatusCodeKey), v.rpc.status)
		}
	}
	if req.BodySize > 0 {
		attrs.PutInt(string(semconv.HTTPRequestBodySizeKey), req.BodySize)
	}
	if resp != nil && resp.BodySize > 0 {
		attrs.PutInt(string(semconv.HTTPResponseBodySizeKey), resp.BodySize)
	}
	if c != nil {
		attrs.PutInt(attrConnectionID, toInt64(c.ID))
		if c.TLSVersion != "" {
			attrs.PutStr(string(semconv.TLSProtocolNameKey), "tls")
			attrs.PutStr(string(semconv.TLSProtocolVersionKey), c.TLSVersion)
		}
		if c.TLSLibrary != "" {
			attrs.PutStr(attrTLSLibrary, c.TLSLibrary)
		}
	}
	if req.Incomplete {
		attrs.PutBool(attrRequestIncomplete, true)
	}
	if resp != nil && resp.Incomplete {
		attrs.PutBool(attrResponseIncomplete, true)
	}
	if level >= LevelFull {
		// Only bodies that are exported can be exported truncated.
		if _, truncated := t.bodyOf(&req.Message); truncated && req.BodySize > 0 {
			attrs.PutBool(attrRequestBodyTruncated, true)
		}
		if resp != nil {
			if _, truncated := t.bodyOf(&resp.Message); truncated && resp.BodySize > 0 {
				attrs.PutBool(attrResponseBodyTruncated, true)
			}
		}
		if v.rpc != nil {
			if n, size, ok := grpcMessages(&req.Message); ok {
				attrs.PutInt(attrRPCRequestMessageCount, n)
				attrs.PutInt(attrRPCRequestMessageBytes, size)
			}
			if resp != nil {
				if n, size, ok := grpcMessages(&resp.Message); ok {
					attrs.PutInt(attrRPCResponseMessageCount, n)
					attrs.PutInt(attrRPCResponseMessageBytes, size)
				}
			}
		}
	}
	if level >= LevelHeaders {
		for _, g := range groupHeaders(req.Header, t.redact) {
			putStrings(attrs, "http.request.header."+g.name, g.values)
		}
		if resp != nil {
			for _, g := range groupHeaders(resp.Header, t.redact) {
				putStrings(attrs, "http.response.header."+g.name, g.values)
			}
		}
	}
}
