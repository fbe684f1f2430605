package translate

import (
	"encoding/binary"
	"math"
)

// Sampling keeps the span and the log record of a share of the transactions.
// Metrics count every transaction whatever it decides: they are aggregated
// before translation.
//
// It is what the OpenTelemetry SDKs call TraceIdRatioBased, in its
// consistent form (OpenTelemetry specification, "TraceIdRatioBased" and
// "Sampling with consistent probability"): a transaction is kept when the
// low 56 bits of its trace id, read as a number, are at least
// (1 - Ratio) x 2^56. The decision is the trace id's, so the two ends of a
// request captured on one host, which share a trace, are kept or left out
// together, and so are spans of one trace on other hosts and in samplers of
// the same kind downstream (the collector's probabilistic_sampler in its
// proportional mode) at the same or a lower ratio.
type Sampling struct {
	// Ratio is the share of transactions kept, from 0 to 1.
	Ratio float64
	// ParentBased follows the caller's decision when the request's trace
	// context says one (traceparent's sampled flag, B3's sampling state),
	// as the SDKs' parentbased samplers do; Ratio decides the rest.
	ParentBased bool
}

// sampler is a Sampling ready to decide.
type sampler struct {
	all         bool   // keep every transaction without looking
	threshold   uint64 // kept when the trace id's randomness is at least this
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
	return sampler{
		threshold:   uint64(math.Round((1 - ratio) * (1 << randomnessBits))),
		parentBased: s.ParentBased,
	}
}

// keep decides whether the transaction placed at sc gets its span and log
// record.
func (s sampler) keep(sc *spanContext) bool {
	switch {
	case s.all:
		return true
	case s.parentBased && sc.parentSampled != undecided:
		return sc.parentSampled == sampled
	}
	randomness := binary.BigEndian.Uint64(sc.traceID[8:]) & (1<<randomnessBits - 1)
	return randomness >= s.threshold
}
