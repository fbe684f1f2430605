package translate

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Sampling keeps the span and the log record of a share of the transactions.
// Metrics count every transaction whatever it decides: they are aggregated
// before translation.
//
// It is the OpenTelemetry SDKs' TraceIdRatioBased sampler in its consistent
// form (specification: trace/sdk.md "TraceIdRatioBased", and
// trace/tracestate-probability-sampling.md): a transaction is kept when its
// randomness, the rv sub-key of the OpenTelemetry tracestate member if the
// request carried one, else the low 56 bits of its trace id, is at least a
// threshold, the rejected share of 2^56; a span it keeps says that threshold
// in its tracestate (ot=th:...), so that what comes after can weigh it. The
// threshold has 4 significant hex digits, as OpenTelemetry Go's sampler and
// the collector's probabilistic_sampler write it by default (more near 0 and
// 1): the same ratio then draws the same line here as there. The decision is the trace's,
// so the two ends of a request captured on one host, which share a trace,
// are kept or left out together, and so are the spans of one trace that
// other consistent samplers keep at the same or a lower ratio.
type Sampling struct {
	// Ratio is the share of transactions kept, from 0 to 1.
	Ratio float64
	// ParentBased follows the caller's decision when the request's trace
	// context says one (traceparent's sampled flag, B3's sampling state or
	// debug flag), as the SDKs' parentbased samplers do, and leaves its
	// tracestate as the caller wrote it; Ratio decides the rest.
	ParentBased bool
	// KeepFailures keeps every transaction that failed (View.failed),
	// whatever the ratio or the caller decided. Below ratio 1 its spans
	// say th:0: each is there for sure, and weighs one.
	KeepFailures bool
}

// sampler is a Sampling ready to decide.
type sampler struct {
	all          bool   // keep every transaction without looking: no Sampling, or ratio 1 alone
	threshold    uint64 // kept when the randomness is at least this; 2^56 keeps none
	th           string // the threshold as the th sub-key writes it
	member       string // "ot=th:" + th, a tracestate of its own
	parentBased  bool
	keepFailures bool
}

const (
	// randomnessBits are the bits of a trace id samplers read: W3C Trace
	// Context level 2 makes the low 56 random.
	randomnessBits = 56
	// thresholdDigits are the significant hex digits of a threshold.
	thresholdDigits = 4
	// maxOTValue is W3C's bound on a tracestate member's value.
	maxOTValue = 256
)

func newSampler(s *Sampling) sampler {
	if s == nil || (s.Ratio >= 1 && !s.ParentBased) {
		return sampler{all: true}
	}
	ratio := s.Ratio
	if !(ratio > 0) { // NaN too: Config.Validate refuses it, the API need not
		ratio = 0
	}
	out := sampler{threshold: threshold(min(ratio, 1)), parentBased: s.ParentBased, keepFailures: s.KeepFailures}
	if out.threshold < 1<<randomnessBits { // else nothing is kept by ratio, and no th written
		out.th = thresholdHex(out.threshold)
		out.member = "ot=th:" + out.th
	}
	return out
}

// threshold is the rejected share of 2^56 at ratio, rounded to
// thresholdDigits significant hex digits, and one more for each leading 0
// or f, which carry no precision of their own.
func threshold(ratio float64) uint64 {
	const whole = 1 << randomnessBits
	t := whole - uint64(math.Round(ratio*whole)) // exact in integers
	if t == 0 || t == whole {
		return t
	}
	hex := fmt.Sprintf("%014x", t)
	lead := max(len(hex)-len(strings.TrimLeft(hex, "0")), len(hex)-len(strings.TrimLeft(hex, "f")))
	digits := min(thresholdDigits+lead, 14)
	unit := uint64(1) << (4 * (14 - digits))
	// No carry past 2^56: the first digit kept after leading fs is not f.
	return (t + unit/2) / unit * unit
}

// thresholdHex writes a threshold below 2^56 as th does: 14 hex digits less
// their trailing zeros, "0" for a threshold of 0 (keep all).
func thresholdHex(t uint64) string {
	if h := strings.TrimRight(fmt.Sprintf("%014x", t), "0"); h != "" {
		return h
	}
	return "0"
}

// keep decides whether the transaction placed at sc, which failed or not,
// gets its span and log record, and says in sc's tracestate how it was
// kept (stamp). A decision the caller made leaves the caller's tracestate.
func (s sampler) keep(sc *spanContext, failed bool) bool {
	th := "0" // kept for sure
	switch {
	case s.all, s.keepFailures && failed:
	case s.parentBased && sc.parentSampled != undecided:
		return sc.parentSampled == sampled
	case s.randomness(sc) < s.threshold:
		return false
	default:
		th = s.th
	}
	sc.traceState = s.stamp(sc.traceState, th)
	return true
}

// randomness is the trace's: the rv sub-key of its OpenTelemetry tracestate
// member, exactly 14 lowercase hex digits, else its id's low 56 bits.
func (s sampler) randomness(sc *spanContext) uint64 {
	if rv, ok := otSubKey(otValue(sc.traceState), "rv"); ok && len(rv) == 14 && isLowerHex(rv) {
		r, _ := strconv.ParseUint(rv, 16, 64) // 56 bits of hex: cannot fail
		return r
	}
	return binary.BigEndian.Uint64(sc.traceID[8:]) & (1<<randomnessBits - 1)
}

// stamp returns tracestate saying th, the threshold a span was kept at, so
// that what comes after can weigh it. Below ratio 1 every span kept says
// one (0 for a failure, kept for sure). At ratio 1 none is added, and a th
// the caller wrote becomes 0: the span is there whatever the caller
// sampled, and would otherwise be weighed as one of many.
func (s sampler) stamp(tracestate, th string) string {
	switch {
	case s.threshold == 0:
		if _, ok := otSubKey(otValue(tracestate), "th"); ok {
			return withThreshold(tracestate, "0")
		}
		return tracestate
	case tracestate == "" && th == s.th:
		return s.member // most requests carry none: no allocation
	}
	return withThreshold(tracestate, th)
}

// otValue returns the value of a tracestate's OpenTelemetry member (ot=...),
// the values of all of them joined by ";" if a list has more than one.
func otValue(tracestate string) string {
	if !strings.Contains(tracestate, "ot=") {
		return ""
	}
	var value string
	for member := range strings.SplitSeq(tracestate, ",") {
		if v, ok := strings.CutPrefix(member, "ot="); ok {
			if value != "" {
				v = value + ";" + v
			}
			value = v
		}
	}
	return value
}

// otSubKey returns the first value of key in an OpenTelemetry member's
// value (key:value pairs separated by ";").
func otSubKey(ot, key string) (string, bool) {
	for sub := range strings.SplitSeq(ot, ";") {
		if k, v, ok := strings.Cut(sub, ":"); ok && k == key {
			return v, true
		}
	}
	return "", false
}

// withThreshold returns tracestate with one OpenTelemetry member, whose th
// is th, first in the list, as W3C Trace Context asks of a member its vendor
// updates; at the list's limit of 32 members the last one makes room. The
// member keeps the other sub-keys, the first of each key; past W3C's 256
// characters only rv stays beside th, since a decision made with it must
// keep it.
func withThreshold(tracestate, th string) string {
	ot := otValue(tracestate)
	value := "th:" + th
	for sub := range strings.SplitSeq(ot, ";") {
		k, _, _ := strings.Cut(sub, ":")
		if _, dup := otSubKey(value, k); sub != "" && !dup {
			value += ";" + sub
		}
	}
	if len(value) > maxOTValue {
		value = "th:" + th
		if rv, ok := otSubKey(ot, "rv"); ok {
			value += ";rv:" + rv
		}
	}
	var others []string
	for member := range strings.SplitSeq(tracestate, ",") {
		if member != "" && !strings.HasPrefix(member, "ot=") {
			others = append(others, member)
		}
	}
	if len(others) >= maxTraceStateMembers {
		others = others[:maxTraceStateMembers-1]
	}
	return strings.Join(append([]string{"ot=" + value}, others...), ",")
}
