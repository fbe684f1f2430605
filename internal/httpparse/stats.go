package httpparse

import "sync/atomic"

// Stats counts what the parser gave up on or threw away. One Stats is meant to
// be shared by every Conn of a receiver; each field is updated atomically and
// only ever grows.
type Stats struct {
	// NotHTTP counts connections whose client stream did not start with an
	// HTTP/1.x request line (or whose server spoke first with something that is
	// not an HTTP/1.x status line). Their further bytes are ignored.
	NotHTTP atomic.Uint64
	// HeaderTooLarge counts connections given up because a header block or a
	// trailer section exceeded Config.MaxHeaderBytes.
	HeaderTooLarge atomic.Uint64
	// Malformed counts connections given up on a syntax or framing error.
	Malformed atomic.Uint64
	// CaptureGap counts connections given up because the capture lost bytes at
	// a place where message framing depends on them.
	CaptureGap atomic.Uint64
	// UnmatchedResponse counts final responses that arrived when no request
	// was awaiting one; they are parsed (to keep framing) and thrown away.
	UnmatchedResponse atomic.Uint64
	// PendingOverflow counts requests thrown away unreported because
	// Config.MaxPending requests were already awaiting responses.
	PendingOverflow atomic.Uint64
	// NoResponse counts transactions emitted with Response == nil.
	NoResponse atomic.Uint64
}

func (s *Stats) count(k Kind) {
	if s == nil {
		return
	}
	switch k {
	case KindNotHTTP:
		s.NotHTTP.Add(1)
	case KindHeaderTooLarge:
		s.HeaderTooLarge.Add(1)
	case KindMalformed:
		s.Malformed.Add(1)
	case KindCaptureGap:
		s.CaptureGap.Add(1)
	case KindUnmatchedResponse:
		s.UnmatchedResponse.Add(1)
	case KindPendingOverflow:
		s.PendingOverflow.Add(1)
	case KindNoResponse:
		s.NoResponse.Add(1)
	}
}
