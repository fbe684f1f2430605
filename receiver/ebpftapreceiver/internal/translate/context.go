package translate

import (
	"encoding/hex"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/ebpftap/ebpftap/internal/httpparse"
	"github.com/ebpftap/ebpftap/internal/tap"
)

// A span's place in a trace comes from two sources, in this order:
//
//  1. A context the request carries: W3C traceparent (with its tracestate),
//     else B3 (the single b3 header, else the X-B3-* set). It names the
//     caller's own span, made by its SDK.
//  2. The other end of the connection, when this host captured it too: a
//     client and a server on one host.
//
// The rule for the spans of one request, which never breaks the caller's
// trace:
//
//   - our CLIENT span is a child of the span the context names, in its trace;
//     without a context it starts a trace;
//   - our SERVER span is a child of our CLIENT span when the client end was
//     captured here, in the same trace; else a child of the span the context
//     names; else it starts a trace.
//
// The server application's own SDK span (if it has one) reads the same
// header, so it stays a child of the caller's span, a sibling of our CLIENT
// span: every span of the request is in one trace, none is orphaned.
//
// The two ends are captured as two exchanges that may reach translation in
// either order, so neither waits for the other: the client span's ids are
// derived from what both ends know alike (the client connection's id, the
// transaction's number on it or its HTTP/2 stream, its method and target),
// and the server end derives the same ids to name its parent.

// spanContext is where a span goes: its trace, its own id, its parent, and
// whether the caller sampled its own span.
type spanContext struct {
	traceID       pcommon.TraceID
	spanID        pcommon.SpanID
	parentID      pcommon.SpanID
	traceState    string
	parentSampled decision
}

// decision is a caller's sampling decision, as its trace context says it.
type decision uint8

const (
	undecided  decision = iota // no context, or one that does not say
	sampled                    // traceparent flag 01, b3 "1" or "d", X-B3-Sampled: 1, X-B3-Flags: 1
	notSampled                 // traceparent flag 00, b3 "0", X-B3-Sampled: 0
)

// spanContext places the span of exchange x, whose view v holds the
// context its request carries.
func (t *Translator) spanContext(x tap.Exchange, v *View) spanContext {
	sc, server := v.place, v.server
	if key, ok := stitchKeyOf(x, server); ok {
		// The client span's ids, as both ends derive them.
		clientTrace, clientSpan := t.ids.Derived(key)
		if sc.traceID.IsEmpty() {
			sc.traceID = clientTrace
		}
		if server {
			sc.parentID = clientSpan
		} else {
			sc.spanID = clientSpan
		}
	}
	if sc.traceID.IsEmpty() || sc.spanID.IsEmpty() {
		traceID, spanID := t.ids.NewIDs()
		if sc.traceID.IsEmpty() {
			sc.traceID = traceID
		}
		if sc.spanID.IsEmpty() {
			sc.spanID = spanID
		}
	}
	return sc
}

// stitchKey names one request on one connection alike on both its ends.
type stitchKey struct {
	client uint64 // the client end's connection id
	seq    uint64 // the HTTP/2 stream, else the transaction's number
	method string
	target string // with the method, guards against numbers that disagree
}

// stitchKeyOf returns the key of x when its span's ids are derived: on the
// client end when x is numbered (its server end may be captured here too,
// and cannot tell the client end whether it is), on the server end when the
// client end is captured here as well.
func stitchKeyOf(x tap.Exchange, server bool) (stitchKey, bool) {
	k := stitchKey{seq: uint64(x.Tx.StreamID), method: x.Tx.Request.Method, target: x.Tx.Request.Target}
	if k.seq == 0 {
		k.seq = x.Seq
	}
	if k.seq == 0 || x.Conn == nil {
		return k, false
	}
	if server {
		k.client = x.Peer
	} else {
		k.client = x.Conn.ID
	}
	return k, k.client != 0
}

// requestContext reads the trace context request m carries (traceparent,
// else b3, else X-B3-TraceId and X-B3-SpanId), from its fields f, as the
// trace and parent of the span; its own id is left to the caller.
func requestContext(f *requestFields, m *httpparse.Message) (spanContext, bool) {
	if h, ok := f.get(fieldTraceparent); ok {
		if tp, ok := parseTraceparent(h); ok {
			tp.traceState = tracestate(m)
			return tp, true
		}
	}
	if h, ok := f.get(fieldB3); ok {
		return parseB3Single(h)
	}
	tid, ok1 := f.get(fieldXB3TraceID)
	sid, ok2 := f.get(fieldXB3SpanID)
	var sc spanContext
	ok := false
	if ok1 && ok2 {
		sc, ok = b3IDs(strings.TrimSpace(tid), strings.TrimSpace(sid))
	}
	if state, found := f.get(fieldXB3Sampled); found {
		// A decision without ids is still one: "X-B3-Sampled: 0" alone
		// asks that nothing be sampled.
		sc.parentSampled = b3Decision(strings.TrimSpace(state))
	}
	if flags, found := f.get(fieldXB3Flags); found && strings.TrimSpace(flags) == "1" {
		sc.parentSampled = sampled // debug, which implies accept and is sent without X-B3-Sampled
	}
	return sc, ok
}

// parseB3Single reads the b3 header: TraceId "-" SpanId, optionally followed
// by "-" SamplingState and "-" ParentSpanId (openzipkin/b3-propagation). A
// header with only a sampling state ("0", "1", "d") names no span, but
// still decides.
func parseB3Single(h string) (spanContext, bool) {
	parts := strings.Split(strings.TrimSpace(h), "-")
	switch {
	case len(parts) == 1:
		return spanContext{parentSampled: b3Decision(parts[0])}, false
	case len(parts) > 4:
		return spanContext{}, false
	}
	sc, ok := b3IDs(parts[0], parts[1])
	if ok && len(parts) >= 3 {
		sc.parentSampled = b3Decision(parts[2])
	}
	return sc, ok
}

// b3Decision reads a B3 sampling state: "1" accepts, "d" (debug) accepts,
// "0" denies; B3's X-B3-Sampled also allows "true" and "false".
func b3Decision(s string) decision {
	switch s {
	case "1", "d", "true":
		return sampled
	case "0", "false":
		return notSampled
	}
	return undecided
}

// b3IDs decodes a B3 trace id (16 or 32 lowercase hex digits; a 64-bit id
// takes the low half of the 128-bit one) and span id (16).
func b3IDs(traceHex, spanHex string) (spanContext, bool) {
	var pc spanContext
	if len(traceHex) != 16 && len(traceHex) != 32 || len(spanHex) != 16 || !isLowerHex(traceHex) || !isLowerHex(spanHex) {
		return pc, false
	}
	if _, err := hex.Decode(pc.traceID[16-len(traceHex)/2:], []byte(traceHex)); err != nil {
		return pc, false
	}
	if _, err := hex.Decode(pc.parentID[:], []byte(spanHex)); err != nil {
		return pc, false
	}
	return pc, !pc.traceID.IsEmpty() && !pc.parentID.IsEmpty()
}

// parseTraceparent reads the value h of the first traceparent header per
// W3C Trace Context level 1, section 3.2: version "-" trace-id "-"
// parent-id "-" flags, all lowercase hex; version ff and all-zero ids are
// invalid; a future version may append fields after another "-".
func parseTraceparent(h string) (spanContext, bool) {
	var tp spanContext
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
	// trace-flags bit 0 is "sampled" (section 3.2.2.5); the others are
	// not ours to read.
	tp.parentSampled = notSampled
	if unhex(h[54])&1 == 1 {
		tp.parentSampled = sampled
	}
	return tp, true
}

// unhex is the value of a lowercase hex digit.
func unhex(c byte) byte {
	if c >= 'a' {
		return c - 'a' + 10
	}
	return c - '0'
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
