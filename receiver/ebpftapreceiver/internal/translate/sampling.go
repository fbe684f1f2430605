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
// request carried one, else the low 56 bits of its trace id, is at least the
// threshold (1 - Ratio) x 2^56; a span it keeps says that threshold in its
// tracestate (ot=th:...), so that what comes after can weigh it. The
// decision is the trace's, so the two ends of a request captured on one
// host, which share a trace, are kept or left out together, and so are the
// spans of one trace that other consistent samplers keep at the same or a
// lower ratio (the SDKs', the collector's probabilistic_sampler in its
// proportional mode).
type Sampling struct {
	// Ratio is the share of transactions kept, from 0 to 1.
	Ratio float64
	// ParentBased follows the caller's decision when the request's trace
	// context says one (traceparent's sampled flag, B3's sampling state),
	// as the SDKs' parentbased samplers do, and leaves its tracestate as
	// the caller wrote it; Ratio decides the rest.
	ParentBased bool
}

// sampler is a Sampling ready to decide.
type sampler struct {
	all         bool   // keep every transaction, without looking or writing th
	threshold   uint64 // kept when the randomness is at least this
	th          string // the threshold as the th sub-key writes it
	member      string // "ot=th:" + th, a tracestate of its own
	parentBased bool
}

// randomnessBits are the bits of a trace id samplers read: W3C Trace Context
// level 2 makes the low 56 random.
const randomnessBits = 56

func newSampler(s *Sampling) sampler {
	if s == nil || (s.Ratio >= 1 && !s.ParentBased) {
		return sampler{all: true}
	}
	ratio := min(max(s.Ratio, 0), 1)
	// At ratio 0 the threshold is 2^56, above every randomness: nothing is
	// kept, and th is never written.
	threshold := uint64(math.Round((1 - ratio) * (1 << randomnessBits)))
	th := thresholdHex(threshold)
	return sampler{
		threshold:   threshold,
		th:          th,
		member:      "ot=th:" + th,
		parentBased: s.ParentBased,
	}
}

// thresholdHex writes a threshold below 2^56 as th does: 14 hex digits less
// their trailing zeros, "0" for a threshold of 0 (keep all).
func thresholdHex(t uint64) string {
	if h := strings.TrimRight(fmt.Sprintf("%014x", t), "0"); h != "" {
		return h
	}
	return "0"
}

// keep decides whether the transaction placed at sc gets its span and log
// record. A transaction it keeps by its own ratio gets the threshold in
// sc's tracestate.
func (s sampler) keep(sc *spanContext) bool {
	switch {
	case s.all:
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
// tracestate, and the list without it.
func otValue(tracestate string) (value, others string) {
	if !strings.Contains(tracestate, "ot=") {
		return "", tracestate
	}
	var rest []string
	for member := range strings.SplitSeq(tracestate, ",") {
		if v, ok := strings.CutPrefix(member, "ot="); ok && value == "" {
			value = v
			continue
		}
		rest = append(rest, member)
	}
	return value, strings.Join(rest, ",")
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
// updates; at the list's limit of 32 members the last one makes room.
func withThreshold(tracestate, th string) string {
	ot, others := otValue(tracestate)
	value := "th:" + th
	for sub := range strings.SplitSeq(ot, ";") {
		if sub != "" && !strings.HasPrefix(sub, "th:") {
			value += ";" + sub
		}
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
