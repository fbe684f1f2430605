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
// threshold has 4 significant hex digits, as the SDKs and the collector's
// probabilistic_sampler write it by default (more near 0 and 1): the same
// ratio then draws the same line here as there. The decision is the trace's,
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
	// whatever the ratio or the caller decided. Its spans say th:0: each
	// is there for sure, and weighs one.
	KeepFailures bool
}

// sampler is a Sampling ready to decide.
type sampler struct {
	all          bool   // keep every transaction without looking: no Sampling, or ratio 1
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
	t := threshold(min(ratio, 1))
	th := thresholdHex(t)
	return sampler{threshold: t, th: th, member: "ot=th:" + th, parentBased: s.ParentBased, keepFailures: s.KeepFailures}
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
	lead := len(hex) - len(strings.TrimLeft(hex, "0"))
	if f := len(hex) - len(strings.TrimLeft(hex, "f")); f > lead {
		lead = f
	}
	digits := min(thresholdDigits+lead, 14)
	unit := uint64(1) << (4 * (14 - digits))
	rounded := (t + unit/2) / unit * unit
	if rounded >= whole { // rounded up to nothing kept: keep the least
		rounded = whole - unit
	}
	return rounded
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
// gets its span and log record. One it keeps by its own ratio gets the
// threshold in sc's tracestate. One it keeps whatever the ratio (all of
// them, or a failure) has a th the caller wrote set to 0: the span is there
// whatever the caller's sampling, and a th left as it was would have it
// weighed as one of many.
func (s sampler) keep(sc *spanContext, failed bool) bool {
	switch {
	case s.all:
		if strings.Contains(sc.traceState, "th:") {
			if ot, _ := otValue(sc.traceState); hasSubKey(ot, "th") {
				sc.traceState = withThreshold(sc.traceState, "0")
			}
		}
		return true
	case s.keepFailures && failed:
		sc.traceState = withThreshold(sc.traceState, "0")
		return true
	case s.parentBased && sc.parentSampled != undecided:
		return sc.parentSampled == sampled
	}
	randomness, ok := explicitRandomness(sc.traceState)
	if !ok {
		randomness = binary.BigEndian.Uint64(sc.traceID[8:]) & (1<<randomnessBits - 1)
	}
	if randomness < s.threshold {
		return false
	}
	if sc.traceState == "" {
		sc.traceState = s.member // most requests carry none: no allocation
	} else {
		sc.traceState = withThreshold(sc.traceState, s.th)
	}
	return true
}

// otValue returns the value of the OpenTelemetry member (ot=...) of a
// tracestate, the first if there are more, and the list without any.
func otValue(tracestate string) (value, others string) {
	if !strings.Contains(tracestate, "ot=") {
		return "", tracestate
	}
	var rest []string
	found := false
	for member := range strings.SplitSeq(tracestate, ",") {
		if v, ok := strings.CutPrefix(member, "ot="); ok {
			if !found {
				value, found = v, true
			}
			continue
		}
		rest = append(rest, member)
	}
	return value, strings.Join(rest, ",")
}

// hasSubKey reports whether the OpenTelemetry member's value ot has key.
func hasSubKey(ot, key string) bool {
	for sub := range strings.SplitSeq(ot, ";") {
		if k, _, _ := strings.Cut(sub, ":"); k == key {
			return true
		}
	}
	return false
}

// explicitRandomness reads the rv sub-key of a tracestate's OpenTelemetry
// member: exactly 14 lowercase hex digits.
func explicitRandomness(tracestate string) (uint64, bool) {
	ot, _ := otValue(tracestate)
	for sub := range strings.SplitSeq(ot, ";") {
		if rv, ok := strings.CutPrefix(sub, "rv:"); ok && len(rv) == 14 && isLowerHex(rv) {
			r, err := strconv.ParseUint(rv, 16, 64)
			return r, err == nil
		}
	}
	return 0, false
}

// withThreshold returns tracestate with its OpenTelemetry member's th set to
// th, the member first, as W3C Trace Context asks of a member its vendor
// updates; at the list's limit of 32 members the last one makes room. The
// member's other sub-keys stay unless they would make it too long.
func withThreshold(tracestate, th string) string {
	ot, others := otValue(tracestate)
	value := "th:" + th
	for sub := range strings.SplitSeq(ot, ";") {
		if sub != "" && !strings.HasPrefix(sub, "th:") {
			value += ";" + sub
		}
	}
	if len(value) > maxOTValue {
		value = "th:" + th
	}
	if others == "" {
		return "ot=" + value
	}
	members := strings.Split(others, ",")
	if len(members) >= maxTraceStateMembers {
		members = members[:maxTraceStateMembers-1]
	}
	return "ot=" + value + "," + strings.Join(members, ",")
}
