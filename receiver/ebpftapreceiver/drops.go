package ebpftapreceiver // import "github.com/ebpftap/ebpftap/receiver/ebpftapreceiver"

import (
	"github.com/ebpftap/ebpftap/internal/capture"
	"github.com/ebpftap/ebpftap/internal/httpparse"
	"github.com/ebpftap/ebpftap/receiver/ebpftapreceiver/internal/metadata"
)

// dropTotal is one counter of what was thrown away, under its reason.
type dropTotal struct {
	reason metadata.AttributeEbpftapDropReason
	total  uint64
}

// dropTotals pairs every counter of what the engine's and the parsers'
// bounds threw away with its ebpftap.drop.reason: the one table of them.
// Two reasons are counted where they happen: pipeline_busy (Exchange) and
// metric_series_limit (translate). documentation-signals.md says what each
// reason means.
func dropTotals(e *capture.Stats, p *httpparse.Stats) []dropTotal {
	return []dropTotal{
		{metadata.AttributeEbpftapDropReasonRingBufferFull, e.RingBufferFull},
		{metadata.AttributeEbpftapDropReasonSyscallsInFlight, e.CallsMapFull},
		{metadata.AttributeEbpftapDropReasonIovecLimit, e.IovLimit},
		{metadata.AttributeEbpftapDropReasonBadEvent, e.BadEvents},
		{metadata.AttributeEbpftapDropReasonLateEvent, e.LateEvents},
		{metadata.AttributeEbpftapDropReasonConnectionLimit, e.ConnsOverflowed},
		{metadata.AttributeEbpftapDropReasonProcessLimit, e.ProcessesEvicted},
		{metadata.AttributeEbpftapDropReasonTLSCallsInFlight, e.TLSCallsFull},
		{metadata.AttributeEbpftapDropReasonTLSNoSocket, e.TLSNoSocket},
		{metadata.AttributeEbpftapDropReasonTLSUnbound, e.TLSUnboundDropped},
		{metadata.AttributeEbpftapDropReasonTLSExecQueueFull, e.TLSExecsSkipped},
		{metadata.AttributeEbpftapDropReasonTLSFileNotProbed, e.TLSFilesFailed},
		{metadata.AttributeEbpftapDropReasonTLSProcessNotInspected, e.TLSProcessesDenied},
		{metadata.AttributeEbpftapDropReasonDNSCacheFull, e.DNSNamesEvicted},
		{metadata.AttributeEbpftapDropReasonDNSAnswerCut, e.DNSAnswersCut},
		{metadata.AttributeEbpftapDropReasonHTTPHeaderTooLarge, p.HeaderTooLarge.Load()},
		{metadata.AttributeEbpftapDropReasonHTTPMalformed, p.Malformed.Load()},
		{metadata.AttributeEbpftapDropReasonHTTPCaptureGap, p.CaptureGap.Load()},
		{metadata.AttributeEbpftapDropReasonHTTPUnmatchedResponse, p.UnmatchedResponse.Load()},
		{metadata.AttributeEbpftapDropReasonHTTPPendingOverflow, p.PendingOverflow.Load()},
		{metadata.AttributeEbpftapDropReasonHTTPEarlyResponseTooLarge, p.EarlyResponseTooLarge.Load()},
		{metadata.AttributeEbpftapDropReasonHTTPResyncDiscardedResponse, p.ResyncDiscardedResponse.Load()},
		{metadata.AttributeEbpftapDropReasonHTTP2FrameTooLarge, p.H2FrameTooLarge.Load()},
		{metadata.AttributeEbpftapDropReasonHTTP2TooManyStreams, p.H2TooManyStreams.Load()},
		{metadata.AttributeEbpftapDropReasonHTTP2HpackError, p.H2HpackError.Load()},
		{metadata.AttributeEbpftapDropReasonHTTP2HeaderTooLarge, p.H2HeaderTooLarge.Load()},
		{metadata.AttributeEbpftapDropReasonHTTP2BadFrame, p.H2BadFrame.Load()},
		{metadata.AttributeEbpftapDropReasonHTTPBodyOverBudget, p.BodyOverBudget.Load()},
	}
}

// recordDrops passes on what the engine's and the parsers' bounds threw away
// since the last call. Callers hold r.mu.
func (r *ebpftapReceiver) recordDrops(es *capture.Stats) {
	for _, d := range dropTotals(es, r.tap.ParserStats()) {
		if n := d.total - r.dropped[d.reason]; n > 0 {
			r.aggregate.RecordDrops(d.reason, n)
			r.dropped[d.reason] = d.total
		}
	}
}
