package ebpftapreceiver // import "github.com/ebpftap/ebpftap/receiver/ebpftapreceiver"

import (
	"encoding/binary"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"

	"github.com/ebpftap/ebpftap/internal/capture"
	"github.com/ebpftap/ebpftap/internal/httpparse"
	"github.com/ebpftap/ebpftap/receiver/ebpftapreceiver/internal/metadata"
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

// idSource hands out the ids of new spans. Production ids are random; tests
// use a deterministic source so golden files stay stable.
type idSource interface {
	NewIDs() (pcommon.TraceID, pcommon.SpanID)
}

// randomIDs draws ids from math/rand/v2's global generator, which is seeded
// from the OS and safe for concurrent use; W3C Trace Context asks for random
// trace ids, not unpredictable ones.
type randomIDs struct{}

func (randomIDs) NewIDs() (pcommon.TraceID, pcommon.SpanID) {
	var tid pcommon.TraceID
	var sid pcommon.SpanID
	for tid.IsEmpty() { // an all-zero id is invalid
		binary.LittleEndian.PutUint64(tid[:8], rand.Uint64())
		binary.LittleEndian.PutUint64(tid[8:], rand.Uint64())
	}
	for sid.IsEmpty() {
		binary.LittleEndian.PutUint64(sid[:], rand.Uint64())
	}
	return tid, sid
}

// translator turns transactions into spans and log records. It is not safe
// for concurrent use; the receiver calls it under its lock.
type translator struct {
	level        Level
	maxBodyBytes int
	redact       map[string]struct{} // lowercase header names
	hostName     string
	ids          idSource
	rb           *metadata.ResourceBuilder
}

func newTranslator(cfg *Config, hostName string, ids idSource) *translator {
	if ids == nil {
		ids = randomIDs{}
	}
	return &translator{
		level:        cfg.Capture.Level,
		maxBodyBytes: cfg.Capture.MaxBodyBytes,
		redact:       redactSet(cfg.Capture.RedactHeaders),
		hostName:     hostName,
		ids:          ids,
		rb:           metadata.NewResourceBuilder(cfg.ResourceAttributes),
	}
}

func redactSet(names []string) map[string]struct{} {
	set := make(map[string]struct{}, len(names))
	for _, n := range names {
		set[strings.ToLower(n)] = struct{}{}
	}
	return set
}

// levelRank orders capture levels; an unknown level records the least, so a
// bad value can never leak headers or bodies.
func levelRank(l Level) int {
	switch l {
	case LevelSummary:
		return 1
	case LevelHeaders:
		return 2
	case LevelFull:
		return 3
	}
	return 0
}

// processKey names one process image: pid and start time name the process,
// and the executable tells the images before and after an exec apart.
type processKey struct {
	pid   int
	start uint64
	exe   string
}

func keyOf(p *capture.Process) processKey {
	if p == nil {
		return processKey{pid: -1}
	}
	return processKey{pid: p.PID, start: p.StartTime, exe: p.ExePath}
}

// batch collects the spans and log records of transactions until the
// receiver sends them, with one ResourceSpans and one ResourceLogs per
// process. It is not safe for concurrent use.
type batch struct {
	traces  ptrace.Traces
	logs    plog.Logs
	spans   map[processKey]ptrace.SpanSlice
	records map[processKey]plog.LogRecordSlice
	n       int
}

func newBatch() *batch {
	return &batch{
		traces:  ptrace.NewTraces(),
		logs:    plog.NewLogs(),
		spans:   make(map[processKey]ptrace.SpanSlice),
		records: make(map[processKey]plog.LogRecordSlice),
	}
}

// Len is the number of transactions in the batch.
func (b *batch) Len() int { return b.n }

func (t *translator) spanSlice(b *batch, p *capture.Process) ptrace.SpanSlice {
	k := keyOf(p)
	if s, ok := b.spans[k]; ok {
		return s
	}
	rs := b.traces.ResourceSpans().AppendEmpty()
	rs.SetSchemaUrl(semconv.SchemaURL)
	t.processResource(p).MoveTo(rs.Resource())
	ss := rs.ScopeSpans().AppendEmpty()
	ss.SetSchemaUrl(semconv.SchemaURL)
	ss.Scope().SetName(metadata.ScopeName)
	b.spans[k] = ss.Spans()
	return ss.Spans()
}

func (t *translator) recordSlice(b *batch, p *capture.Process) plog.LogRecordSlice {
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

func (t *translator) processResource(p *capture.Process) pcommon.Resource {
	return buildProcessResource(t.rb, p, t.hostName)
}

// buildProcessResource describes a process through rb, which drops the
// attributes the configuration disabled. Unknown values are left out rather
// than sent empty.
func buildProcessResource(rb *metadata.ResourceBuilder, p *capture.Process, hostName string) pcommon.Resource {
	if hostName != "" {
		rb.SetHostName(validUTF8(hostName))
	}
	if p == nil {
		rb.SetServiceName("unknown_service")
		return rb.Emit()
	}
	rb.SetProcessPid(int64(p.PID))
	rb.SetProcessParentPid(int64(p.ParentPID))
	if p.ExeName != "" {
		rb.SetProcessExecutableName(validUTF8(p.ExeName))
	}
	if p.ExePath != "" {
		rb.SetProcessExecutablePath(validUTF8(p.ExePath))
	}
	if p.CommandLine != "" {
		rb.SetProcessCommandLine(validUTF8(p.CommandLine))
	}
	if len(p.Args) > 0 {
		args := make([]any, len(p.Args))
		for i, a := range p.Args {
			args[i] = validUTF8(a)
		}
		rb.SetProcessCommandArgs(args)
	}
	if p.Owner != "" {
		rb.SetProcessOwner(validUTF8(p.Owner))
	}
	if p.ContainerID != "" {
		rb.SetContainerID(validUTF8(p.ContainerID))
	}
	// The SDK rule: service.name falls back to unknown_service:<executable>.
	// capture already falls back to the executable name, which the
	// architecture asks for; only a process with neither gets the SDK form.
	switch {
	case p.ServiceName != "":
		rb.SetServiceName(validUTF8(p.ServiceName))
	case p.ExeName != "":
		rb.SetServiceName(validUTF8(p.ExeName))
	default:
		rb.SetServiceName("unknown_service")
	}
	return rb.Emit()
}

// validUTF8 makes wire bytes safe for pdata strings: OTLP/protobuf rejects
// invalid UTF-8, which would fail a whole export for one odd header.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// knownMethods are the methods semantic conventions v1.40.0 call known:
// RFC 9110, PATCH (RFC 5789) and QUERY. Matching is case-sensitive.
var knownMethods = map[string]struct{}{
	"CONNECT": {}, "DELETE": {}, "GET": {}, "HEAD": {}, "OPTIONS": {},
	"PATCH": {}, "POST": {}, "PUT": {}, "TRACE": {}, "QUERY": {},
}

// txView is what every signal needs to know about a transaction, derived
// once: spans, log records and metrics describe it the same way.
type txView struct {
	server bool // the observed process served the request

	method         string // http.request.method: a known method or _OTHER
	methodOriginal string // the method as sent, set when it differs from method
	proto          string // network.protocol.version; empty when unknown

	scheme        string
	serverAddress string
	serverPort    int // 0 when unknown
	url           string
	path          string // server side: url.path
	query         string // server side: url.query, redacted
	hasQuery      bool

	peer      netip.AddrPort // unmapped
	userAgent string
	hasUA     bool

	status    int // 0 without a response
	errorType string
	isError   bool
	// httpErrorType is error.type by HTTP's rules alone, for the HTTP
	// duration metrics; errorType is the span's, which gRPC may override.
	httpErrorType string

	rpc *rpcView // set for gRPC requests

	start, end time.Time
}

var methodOther = semconv.HTTPRequestMethodOther.Value.AsString()

func (v *txView) spanName() string {
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

// describe derives the semantic-convention view of tx as seen on c. It
// returns nil when there is no request to describe.
func describe(c *capture.Conn, tx *httpparse.Transaction, redact map[string]struct{}) *txView {
	if tx == nil || tx.Request == nil {
		return nil
	}
	if c == nil {
		c = &capture.Conn{}
	}
	req := tx.Request
	v := &txView{
		server: c.Role == capture.RoleServer,
		peer:   unmap(c.Remote),
		start:  req.Start,
		end:    req.End,
	}

	orig := validUTF8(req.Method)
	if _, ok := knownMethods[orig]; ok {
		v.method = orig
	} else {
		v.method = methodOther
		v.methodOriginal = orig
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

	if ua, ok := req.Get("User-Agent"); ok {
		v.userAgent, v.hasUA = headerValue("user-agent", ua, redact), true
	}

	// RFC 9112 section 3.2.2: with an absolute-form target the Host header
	// is ignored, and semantic conventions follow the target.
	tgt := parseTarget(req.Method, validUTF8(req.Target))
	v.scheme = firstNonEmpty(tgt.scheme, requestScheme(req), connScheme(c))
	authority := firstNonEmpty(tgt.authority, host(req), sniAuthority(c, v.scheme))
	if v.server {
		// Semantic conventions prefer what a reverse proxy says the client
		// asked for over what the proxy asked this server.
		fwdHost, fwdProto := forwardedHostProto(&req.Message)
		v.scheme = firstNonEmpty(fwdProto, v.scheme)
		authority = firstNonEmpty(fwdHost, authority, addrAuthority(unmap(c.Local), v.scheme))
		v.path = tgt.path
		v.query, v.hasQuery = redactQuery(tgt.query), tgt.hasQuery
	} else {
		authority = firstNonEmpty(authority, addrAuthority(v.peer, v.scheme))
	}
	hostPart, port := splitHostPort(stripUserinfo(authority))
	v.serverAddress = hostPart
	if port == 0 {
		port = defaultPort(v.scheme)
	}
	v.serverPort = port
	v.url = buildURL(v.scheme, authority, tgt)

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
	if isGRPC(req) {
		v.rpc = describeGRPC(tx, v.server)
		if v.rpc.status != "" {
			v.errorType, v.isError = "", false
			if grpcStatusIsError(v.rpc.status, v.server) {
				v.errorType, v.isError = v.rpc.status, true
			}
		}
	}
	return v
}

// connScheme is the URL scheme of the connection's plaintext: https when it
// came from a TLS library.
func connScheme(c *capture.Conn) string {
	if c.TLS {
		return "https"
	}
	return "http"
}

// sniAuthority is the server name the TLS client sent, with the server's
// port unless it is the scheme's default: the name of last resort when the
// request names no host.
func sniAuthority(c *capture.Conn, scheme string) string {
	if c.TLSServerName == "" {
		return ""
	}
	port := int(c.Remote.Port())
	if c.Role == capture.RoleServer {
		port = int(c.Local.Port())
	}
	if port == defaultPort(scheme) {
		return c.TLSServerName
	}
	return net.JoinHostPort(c.TLSServerName, strconv.Itoa(port))
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
// Host header; trimmed, empty when absent.
func host(r *httpparse.Request) string {
	// HTTP/2 clients send :authority "instead of the Host header field"
	// (RFC 9113 section 8.3.1).
	h := r.Authority
	if h == "" {
		h, _ = r.Get("Host")
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

// addrAuthority writes an address as a URL authority, leaving out the port
// the scheme implies.
func addrAuthority(ap netip.AddrPort, scheme string) string {
	if !ap.Addr().IsValid() {
		return ""
	}
	h := ap.Addr().String()
	if ap.Addr().Is6() {
		h = "[" + h + "]"
	}
	if p := int(ap.Port()); p != 0 && p != defaultPort(scheme) {
		h += ":" + strconv.Itoa(p)
	}
	return h
}

// target is a request-target split per RFC 9112 section 3.2.
type target struct {
	scheme    string // absolute-form only, lowercase
	authority string // absolute-form and authority-form
	path      string
	query     string
	hasQuery  bool
	asterisk  bool
}

func parseTarget(method, t string) target {
	var tg target
	switch {
	case t == "*":
		tg.asterisk = true
		tg.path = "*"
		return tg
	case method == "CONNECT" && !strings.HasPrefix(t, "/"):
		tg.authority = t
		return tg
	}
	if i := strings.Index(t, "://"); i > 0 && !strings.HasPrefix(t, "/") && isScheme(t[:i]) {
		tg.scheme = strings.ToLower(t[:i])
		rest := t[i+3:]
		end := strings.IndexAny(rest, "/?#")
		if end < 0 {
			end = len(rest)
		}
		tg.authority, t = rest[:end], rest[end:]
	}
	if i := strings.IndexByte(t, '#'); i >= 0 {
		t = t[:i] // fragments are not sent; a target with one is malformed
	}
	tg.path, tg.query, tg.hasQuery = strings.Cut(t, "?")
	if tg.path == "" && tg.authority != "" {
		tg.path = "/"
	}
	return tg
}

// isScheme checks RFC 3986 section 3.1: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
func isScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return s != ""
}

func stripUserinfo(authority string) string {
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		return authority[i+1:]
	}
	return authority
}

// redactUserinfo follows url.full's rule: credentials become
// REDACTED:REDACTED, keeping the shape of what was there.
func redactUserinfo(authority string) string {
	i := strings.LastIndexByte(authority, '@')
	if i < 0 {
		return authority
	}
	if strings.Contains(authority[:i], ":") {
		return redacted + ":" + redacted + authority[i:]
	}
	return redacted + authority[i:]
}

// splitHostPort splits an authority's host and port ("h", "h:p", "[v6]",
// "[v6]:p"). The port is 0 when absent or not a valid port number.
func splitHostPort(a string) (string, int) {
	if strings.HasPrefix(a, "[") {
		end := strings.IndexByte(a, ']')
		if end < 0 {
			return a, 0
		}
		h, rest := a[1:end], a[end+1:]
		if p, ok := strings.CutPrefix(rest, ":"); ok {
			return h, parsePort(p)
		}
		return h, 0
	}
	i := strings.LastIndexByte(a, ':')
	if i < 0 || strings.IndexByte(a[:i], ':') >= 0 {
		return a, 0 // no port, or a bare IPv6 address
	}
	return a[:i], parsePort(a[i+1:])
}

func parsePort(s string) int {
	p, err := strconv.Atoi(s)
	if err != nil || p < 1 || p > 65535 || s[0] == '+' {
		return 0
	}
	return p
}

// sensitiveQueryKeys are the query keys whose values semantic conventions
// v1.40.0 say to redact by default (matched case-sensitively).
var sensitiveQueryKeys = map[string]struct{}{
	"AWSAccessKeyId": {}, "Signature": {}, "sig": {}, "X-Goog-Signature": {},
}

func redactQuery(q string) string {
	if q == "" {
		return q
	}
	parts := strings.Split(q, "&")
	changed := false
	for i, p := range parts {
		k, _, hasValue := strings.Cut(p, "=")
		if _, ok := sensitiveQueryKeys[k]; ok && hasValue {
			parts[i] = k + "=" + redacted
			changed = true
		}
	}
	if !changed {
		return q
	}
	return strings.Join(parts, "&")
}

// buildURL reconstructs the absolute URL of a request, redacted as url.full
// requires.
func buildURL(scheme, authority string, tg target) string {
	var sb strings.Builder
	sb.WriteString(scheme)
	sb.WriteString("://")
	sb.WriteString(redactUserinfo(authority))
	if tg.asterisk || (tg.authority != "" && tg.scheme == "") {
		// "OPTIONS *" asks about the server itself (RFC 9112 section 3.2.4),
		// and CONNECT names only an authority: the URL has no path.
		return sb.String()
	}
	if !strings.HasPrefix(tg.path, "/") {
		sb.WriteByte('/')
	}
	sb.WriteString(tg.path)
	if tg.hasQuery {
		sb.WriteByte('?')
		sb.WriteString(redactQuery(tg.query))
	}
	return sb.String()
}

// forwardedHostProto returns the original host and scheme a reverse proxy
// passed on, from Forwarded (RFC 7239) or else X-Forwarded-Host and
// X-Forwarded-Proto: semantic conventions prefer them for server spans.
func forwardedHostProto(m *httpparse.Message) (host, proto string) {
	if f, ok := m.Get("Forwarded"); ok {
		host, proto = parseForwarded(f)
	}
	if host == "" {
		if h, ok := m.Get("X-Forwarded-Host"); ok {
			host, _, _ = strings.Cut(h, ",")
			host = strings.TrimSpace(host)
		}
	}
	if proto == "" {
		if p, ok := m.Get("X-Forwarded-Proto"); ok {
			proto, _, _ = strings.Cut(p, ",")
			proto = strings.TrimSpace(proto)
		}
	}
	if !isScheme(proto) {
		proto = ""
	}
	return validUTF8(host), strings.ToLower(proto)
}

// parseForwarded reads the host and proto parameters of the first
// forwarded-element (the one the first proxy added), RFC 7239 section 4:
// elements split by ",", pairs by ";", values tokens or quoted-strings.
func parseForwarded(f string) (host, proto string) {
	for len(f) > 0 {
		var pair string
		pair, f = nextForwardedPair(f)
		k, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok {
			continue
		}
		val = unquote(strings.TrimSpace(val))
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "host":
			host = val
		case "proto":
			proto = val
		}
		if strings.HasPrefix(f, ",") {
			break
		}
		f = strings.TrimPrefix(f, ";")
	}
	return host, proto
}

// nextForwardedPair returns the text up to the next ";" or "," outside a
// quoted-string and the rest, starting at that separator.
func nextForwardedPair(s string) (string, string) {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case (c == ';' || c == ',') && !quoted:
			return s[:i], s[i:]
		}
	}
	return s, ""
}

func unquote(s string) string {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return s
	}
	s = s[1 : len(s)-1]
	if !strings.Contains(s, `\`) {
		return s
	}
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		sb.WriteByte(s[i])
	}
	return sb.String()
}

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
func (t *translator) bodyOf(m *httpparse.Message) ([]byte, bool) {
	body, truncated := m.Body, m.BodyTruncated || int64(len(m.Body)) < m.BodySize
	limit := max(t.maxBodyBytes, 0)
	if len(body) > limit {
		body, truncated = body[:limit], true
	}
	return body, truncated
}

// putTransactionAttributes writes the attributes spans and log records share.
func (t *translator) putTransactionAttributes(attrs pcommon.Map, c *capture.Conn, tx *httpparse.Transaction, v *txView, level Level) {
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
	if v.peer.Addr().IsValid() {
		attrs.PutStr(string(semconv.NetworkPeerAddressKey), v.peer.Addr().String())
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
		if v.peer.Addr().IsValid() {
			attrs.PutStr(string(semconv.ClientAddressKey), v.peer.Addr().String())
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
	rank := levelRank(level)
	if rank >= levelRank(LevelFull) {
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
	if rank >= levelRank(LevelHeaders) {
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
