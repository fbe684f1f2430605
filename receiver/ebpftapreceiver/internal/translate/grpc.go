package translate

import (
	"encoding/binary"
	"strconv"
	"strings"

	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"

	"github.com/ebpftap/ebpftap/internal/httpparse"
)

// gRPC is recognised among HTTP/2 transactions and described per the RPC
// semantic conventions.

var (
	rpcSystemGRPC  = semconv.RPCSystemNameGRPC.Value.AsString()
	rpcMethodOther = "_OTHER" // semantic conventions' rpc.method for an unknown method
)

// rpcView is what a gRPC exchange adds to a transaction's description.
type rpcView struct {
	method         string // rpc.method: "package.Service/Method", or _OTHER
	methodOriginal string // the :path's method when method is _OTHER
	status         string // rpc.response.status_code; empty when unknown
}

// isGRPC reports whether a request whose fields are f is gRPC: gRPC
// requests carry content-type application/grpc, optionally
// followed by "+proto", "+json", ... or parameters (gRPC over HTTP/2
// protocol, "Requests").
func isGRPC(f *requestFields) bool {
	ct, ok := f.get(fieldContentType)
	if !ok {
		return false
	}
	ct = strings.ToLower(strings.TrimSpace(ct))
	rest, ok := strings.CutPrefix(ct, "application/grpc")
	return ok && (rest == "" || rest[0] == '+' || rest[0] == ';')
}

func describeGRPC(tx *httpparse.Transaction, server bool) *rpcView {
	rv := &rpcView{status: grpcStatus(tx)}
	path := validUTF8(tx.Request.Target)
	svc, method, ok := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	// :path is "/" Service-Name "/" Method-Name. A server that answers
	// UNIMPLEMENTED did not know the method; naming it would let a scanner
	// blow up rpc.method's cardinality.
	if !strings.HasPrefix(path, "/") || !ok || svc == "" || method == "" ||
		strings.ContainsAny(method, "/?") || rv.status == "UNIMPLEMENTED" {
		rv.method, rv.methodOriginal = rpcMethodOther, path
		return rv
	}
	rv.method = svc + "/" + method
	return rv
}

// grpcCodeNames are the names of gRPC status codes 0-16, the string form
// rpc.response.status_code takes.
var grpcCodeNames = [...]string{
	"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
	"NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
	"FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
	"INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
}

// grpcStatus is the exchange's status as the client saw it: grpc-status from
// the trailers, or from the headers of a trailers-only response; else what
// a gRPC client makes of a reset stream or a non-200 HTTP status (gRPC's
// PROTOCOL-HTTP2 and http-grpc-status-mapping documents). Empty when
// nothing tells.
func grpcStatus(tx *httpparse.Transaction) string {
	if resp := tx.Response; resp != nil {
		for _, hs := range [][]httpparse.HeaderField{resp.Trailer, resp.Header} {
			for _, h := range hs {
				if strings.EqualFold(h.Name, "grpc-status") {
					return grpcCodeName(strings.TrimSpace(h.Value))
				}
			}
		}
	}
	if tx.ResetBy != 0 {
		switch tx.ResetCode {
		case 0x7: // REFUSED_STREAM
			return "UNAVAILABLE"
		case 0x8: // CANCEL
			return "CANCELLED"
		case 0xb: // ENHANCE_YOUR_CALM
			return "RESOURCE_EXHAUSTED"
		case 0xc: // INADEQUATE_SECURITY
			return "PERMISSION_DENIED"
		}
		return "INTERNAL"
	}
	if tx.Response == nil || tx.Response.StatusCode == 0 || tx.Response.StatusCode == 200 {
		return ""
	}
	switch tx.Response.StatusCode {
	case 400:
		return "INTERNAL"
	case 401:
		return "UNAUTHENTICATED"
	case 403:
		return "PERMISSION_DENIED"
	case 404:
		return "UNIMPLEMENTED"
	case 429, 502, 503, 504:
		return "UNAVAILABLE"
	}
	return "UNKNOWN"
}

// grpcCodeName names a grpc-status value; a number outside the known codes
// keeps its decimal form, and a value that is no number is what a gRPC
// client reports for it, UNKNOWN.
func grpcCodeName(v string) string {
	n, err := strconv.ParseUint(v, 10, 32)
	switch {
	case err != nil:
		return "UNKNOWN"
	case n < uint64(len(grpcCodeNames)):
		return grpcCodeNames[n]
	}
	return strconv.FormatUint(n, 10)
}

// grpcServerErrors are the codes semantic conventions count as errors on a
// server span; the other codes describe the client's request. On a client
// span every code but OK is an error.
var grpcServerErrors = map[string]struct{}{
	"UNKNOWN": {}, "DEADLINE_EXCEEDED": {}, "UNIMPLEMENTED": {},
	"INTERNAL": {}, "UNAVAILABLE": {}, "DATA_LOSS": {},
}

func grpcStatusIsError(status string, server bool) bool {
	if !server {
		return status != "OK"
	}
	_, ok := grpcServerErrors[status]
	return ok
}

// grpcMessages counts the length-prefixed messages of a gRPC body and sums
// their payload sizes (compressed ones as sent). Each message is a
// compressed-flag byte, a 4-byte big-endian length and the payload (gRPC
// over HTTP/2, "Length-Prefixed-Message"). It reports false unless the
// parser kept the whole body and the framing accounts for every byte.
func grpcMessages(m *httpparse.Message) (count, size int64, ok bool) {
	b := m.Body
	if m.BodyTruncated || int64(len(b)) != m.BodySize {
		return 0, 0, false
	}
	for len(b) > 0 {
		if len(b) < 5 {
			return 0, 0, false
		}
		n := int64(binary.BigEndian.Uint32(b[1:5]))
		if n > int64(len(b)-5) {
			return 0, 0, false
		}
		count++
		size += n
		b = b[5+n:]
	}
	return count, size, true
}
