package translate

import (
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"

	"github.com/ebpftap/ebpftap/internal/capture"
	"github.com/ebpftap/ebpftap/internal/httpparse"
	"github.com/ebpftap/ebpftap/internal/tap"
	"github.com/ebpftap/ebpftap/receiver/ebpftapreceiver/internal/redact"
)

// knownMethod reports whether m is one of the methods semantic conventions
// v1.40.0 call known: RFC 9110, PATCH (RFC 5789) and QUERY. Matching is
// case-sensitive. A switch, not a map: hashing the method was 7% of
// BenchmarkDescribe.
func knownMethod(m string) bool {
	switch m {
	case "CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE", "QUERY":
		return true
	}
	return false
}

// View is what every signal needs to know about a transaction, derived
// once: spans, log records and metrics describe it the same way.
type View struct {
	server bool // the observed process served the request

	method         string // http.request.method: a known method or _OTHER
	methodOriginal string // the method as sent, set when it differs from method
	proto          string // network.protocol.version; empty when unknown

	scheme        string
	serverAddress string
	serverPort    int // 0 when unknown
	// authority and target are the request's, for url.full; the server's
	// url.path and url.query are the target's, its query redacted once
	// describeSpan ran.
	authority string
	target    target
	url       string // empty on server spans at level none, where nothing exports it

	peer netip.AddrPort // unmapped
	// peerAddress is peer's address as text, empty when unknown, as the tap
	// made it once for the connection (tap.Conn.RemoteAddr).
	peerAddress string
	userAgent   string // as sent until describeSpan redacts it
	hasUA       bool

	status    int // 0 without a response
	errorType string
	isError   bool
	// httpErrorType is error.type by HTTP's rules alone, for the HTTP
	// duration metrics; errorType is the span's, which gRPC may override.
	httpErrorType string

	rpc *rpcView // set for gRPC requests

	// place is where the span goes. describe sets the trace context the
	// request carries, read with the other fields (a second pass over the
	// header for it was 6% of the collector's CPU under Go HTTPS with
	// sampling 0.1, pprof); Describe completes it with the span's ids.
	place spanContext
	// sampled: the transaction gets its span and log record (Sampling).
	sampled bool

	start, end time.Time
}

var methodOther = semconv.HTTPRequestMethodOther.Value.AsString()

func (v *View) spanName() string {
	if v.rpc != nil {
		// RPC span name: {rpc.method}, or {rpc.system.name} when the method
		// is not known.
		if v.rpc.method == rpcMethodOther {
			return rpcSystemGRPC
		}
		return v.rpc.method
	}
	if v.method == methodOther {
		return "HTTP"
	}
	return v.method
}

// Describe derives into v the semantic-convention view of an exchange,
// which its span, its log record and the metrics share. It reports false,
// leaving v zero, when there is no request to describe. The caller owns v,
// so that the receiver can keep it beside the exchange instead of in an
// allocation of its own (2 allocations per request, BenchmarkPipeline).
// It also places the span (its trace and ids) and decides whether sampling
// keeps it, so that what is left out need not wait for the flusher (see
// Sampled). Unlike the rest of a Translator, it is safe for concurrent use:
// it reads only the redaction set and the sampler, and draws ids from a
// source that is.
func (t *Translator) Describe(x tap.Exchange, v *View) bool {
	if !describe(x.Conn, x.Tx, &t.describing, v) {
		return false
	}
	v.place = t.spanContext(x, v)
	v.sampled = t.sampler.keep(&v.place, v.failed())
	if v.sampled {
		describeSpan(&t.describing, v)
	}
	return true
}

// failed reports a failure that both ends of a request see alike, so that
// sampling that keeps failures keeps both: no response, a status of 500 or
// more or one that is not HTTP's, a gRPC status other than OK. A client's
// 4xx, an error on its span only, is not one.
func (v *View) failed() bool {
	return v.status < 100 || v.status >= 500 || (v.rpc != nil && v.rpc.status != "" && v.rpc.status != "OK")
}

// Sampled reports whether the transaction gets its span and log record;
// its metrics count it either way.
func (v *View) Sampled() bool { return v.sampled }

// describeSettings are what describe follows of the configuration.
type describeSettings struct {
	policy *redact.Policy
	level  Level // the highest any source gives
	// redactUserAgent: the policy redacts user-agent, looked up once
	// instead of for each transaction (5% of BenchmarkDescribe).
	redactUserAgent bool
}

func newDescribeSettings(policy *redact.Policy, level Level) describeSettings {
	return describeSettings{policy: policy, level: level, redactUserAgent: policy != nil && policy.Header("user-agent")}
}

func describe(c *tap.Conn, tx *httpparse.Transaction, s *describeSettings, v *View) bool {
	if tx == nil || tx.Request == nil {
		*v = View{}
		return false
	}
	if c == nil {
		c = &tap.Conn{}
	}
	req := tx.Request
	*v = View{
		server: c.Role == capture.RoleServer,
		peer:   unmap(c.Remote),
		start:  req.Start,
		end:    req.End,
	}
	v.peerAddress = c.RemoteAddr()

	if knownMethod(req.Method) { // valid UTF-8 then
		v.method = req.Method
	} else {
		v.method = methodOther
		v.methodOriginal = validUTF8(req.Method)
	}

	// The request's version bounds the exchange: a server writes the highest
	// version it conforms to in its status line (RFC 9110 section 6.2), even
	// when answering HTTP/1.0.
	v.proto = req.Proto
	if resp := tx.Response; resp != nil {
		v.end = resp.End
		v.status = resp.StatusCode
		if v.proto == "" {
			v.proto = resp.Proto
		}
	}
	v.proto = validUTF8(v.proto)
	if v.end.Before(v.start) {
		v.end = v.start
	}

	fields := readRequestFields(&req.Message)
	v.place, _ = requestContext(&fields, &req.Message)
	v.userAgent, v.hasUA = fields.get(fieldUserAgent)

	// RFC 9112 section 3.2.2: with an absolute-form target the Host header
	// is ignored, and semantic conventions follow the target.
	// The fallbacks below are computed only when needed: building the
	// address authority of every request eagerly cost 2 allocations per
	// request (BenchmarkPipeline).
	tgt := parseTarget(req.Method, validUTF8(req.Target))
	v.scheme = firstNonEmpty(tgt.scheme, requestScheme(req), connScheme(c))
	authority := firstNonEmpty(tgt.authority, host(req, &fields))
	if authority == "" {
		// The connection's names, when the request has none: the one its
		// TLS client asked for, else the one DNS answered its address for
		// (a client's only: see tap.Conn.ServerName).
		authority = nameAuthority(c, firstNonEmpty(c.TLSServerName, c.ServerName), v.scheme)
	}
	if v.server {
		// Semantic conventions prefer what a reverse proxy says the client
		// asked for over what the proxy asked this server.
		fwdHost, fwdProto := forwardedHostProto(&fields)
		v.scheme = firstNonEmpty(fwdProto, v.scheme)
		authority = firstNonEmpty(fwdHost, authority)
		if authority == "" {
			authority = addrAuthority(unmap(c.Local), v.scheme)
		}
	} else if authority == "" {
		authority = addrAuthority(v.peer, v.scheme)
	}
	hostPart, port := splitHostPort(stripUserinfo(authority))
	v.serverAddress = hostPart
	if port == 0 {
		port = defaultPort(v.scheme)
	}
	v.serverPort = port
	v.authority, v.target = authority, tgt

	switch {
	case tx.Response == nil:
		v.errorType, v.isError = errorTypeNoResponse, true
	case v.status < 100 || v.status > 599:
		// Semantic conventions: a code the client failed to interpret is an
		// error on both sides.
		v.errorType, v.isError = strconv.Itoa(v.status), true
	case v.status >= 500, v.status >= 400 && !v.server:
		v.errorType, v.isError = strconv.Itoa(v.status), true
	}
	v.httpErrorType = v.errorType
	if isGRPC(&fields) {
		v.rpc = describeGRPC(tx, v.server)
		if v.rpc.status != "" {
			v.errorType, v.isError = "", false
			if grpcStatusIsError(v.rpc.status, v.server) {
				v.errorType, v.isError = v.rpc.status, true
			}
		}
	}
	return true
}

// describeSpan adds to v what only the span and the log record show: the
// URL, the redacted query and the user agent. Describe leaves it out for
// what sampling leaves out: it was 6% of the receiver's CPU a request at
// sampling 0.1 (BenchmarkPipeline, pprof), for nothing the metrics use.
func describeSpan(s *describeSettings, v *View) {
	if v.hasUA {
		if s.redactUserAgent {
			v.userAgent = redact.Redacted
		} else {
			v.userAgent = validUTF8(v.userAgent)
		}
	}
	v.target.query = s.policy.Query(v.target.query)
	if !v.server || s.level >= LevelSummary {
		// Server spans have no url.full; only the log record's line shows
		// their URL. Not building it saved an allocation per request at
		// level none (BenchmarkPipeline).
		v.url = buildURL(v.scheme, v.authority, v.target)
	}
}

// connScheme is the URL scheme of the connection's plaintext: https when it
// came from a TLS library.
func connScheme(c *tap.Conn) string {
	if c.TLS {
		return "https"
	}
	return "http"
}

// nameAuthority is name, a name of the connection's server, with the
// server's port unless it is the scheme's default: a name of last resort
// when the request names no host.
func nameAuthority(c *tap.Conn, name, scheme string) string {
	if name == "" {
		return ""
	}
	port := int(c.Remote.Port())
	if c.Role == capture.RoleServer {
		port = int(c.Local.Port())
	}
	if port == defaultPort(scheme) {
		return name
	}
	return net.JoinHostPort(name, strconv.Itoa(port))
}

func defaultPort(scheme string) int {
	switch scheme {
	case "http":
		return 80
	case "https":
		return 443
	}
	return 0
}

func unmap(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// host is the authority the request names: :authority for HTTP/2, else the
// Host header (from f, the request's fields); trimmed, empty when absent.
func host(r *httpparse.Request, f *requestFields) string {
	// HTTP/2 clients send :authority "instead of the Host header field"
	// (RFC 9113 section 8.3.1).
	h := r.Authority
	if h == "" {
		h, _ = f.get(fieldHost)
	}
	return validUTF8(strings.TrimSpace(h))
}

// requestScheme is HTTP/2's :scheme, lowercase; empty when absent or not a
// scheme.
func requestScheme(r *httpparse.Request) string {
	if !isScheme(r.Scheme) {
		return ""
	}
	return strings.ToLower(r.Scheme)
}
