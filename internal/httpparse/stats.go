package httpparse

import "sync/atomic"

// Stats counts what the parser gave up on or threw away. One Stats is meant to
// be shared by all the Conns of a caller (Config.Stats); each field is updated
// atomically and only ever grows.
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
	// CaptureGap counts losses of captured bytes at a place where message
	// framing depends on them. Each makes the Conn emit what it had and
	// resynchronise both streams (see Resynced), or give up on a connection
	// not yet recognised as HTTP/1.x. Losses while already resynchronising
	// are not counted again.
	CaptureGap atomic.Uint64
	// UnmatchedResponse counts connections that ended with response bytes
	// still held back for a request never seen (a server that spoke first,
	// or requests the capture missed): once per connection, however many
	// responses those bytes hold.
	UnmatchedResponse atomic.Uint64
	// PendingOverflow counts requests thrown away unreported because
	// Config.MaxPending requests were already awaiting responses.
	PendingOverflow atomic.Uint64
	// NoResponse counts transactions emitted with Response == nil.
	NoResponse atomic.Uint64
	// EarlyResponseTooLarge counts connections given up because more
	// response bytes arrived ahead of the request they answer than
	// Config.MaxEarlyResponseBytes allows, or in more than 256 pieces with
	// a loss between the last two (so that they cannot be merged).
	EarlyResponseTooLarge atomic.Uint64
	// ResyncDiscardedResponse counts responses thrown away after a capture
	// gap because they might answer a request other than the one they would
	// be paired with: one per response start skipped, and one for response
	// bytes held for a request (see EarlyResponseTooLarge) when the gap hit.
	ResyncDiscardedResponse atomic.Uint64
	// ResyncSkippedBytes counts captured bytes thrown away while a stream
	// looked for the next message start after a capture gap (bytes of
	// discarded responses included). It is not a Kind: it counts bytes.
	ResyncSkippedBytes atomic.Uint64
	// Resynced counts streams that resumed parsing at a message start after
	// a capture gap; a gap recovered from in full counts two, one per
	// stream. It is not a Kind: nothing is thrown away.
	Resynced atomic.Uint64

	// HTTP/2 (h2.go). CaptureGap, ResyncSkippedBytes and Resynced count
	// HTTP/2 streams too: a loss anywhere but inside a DATA payload breaks
	// the framing of its direction, which resumes at a plausible frame
	// header; UnmatchedResponse counts, per HTTP/2 stream, responses whose
	// request was never seen; NoResponse counts HTTP/2 transactions without
	// a response as well.

	// H2FrameTooLarge counts frames other than DATA longer than the frame
	// buffer (the larger of Config.MaxHeaderBytes and 16 KiB), skipped
	// unread. A header block they carried is lost: its message is
	// HeadersPartial and the direction's HPACK state starts over.
	H2FrameTooLarge atomic.Uint64
	// H2TooManyStreams counts streams not followed because
	// Config.MaxStreams streams were open, and streams emitted early, as
	// they were, to make room for new ones after a capture gap may have
	// swallowed their end.
	H2TooManyStreams atomic.Uint64
	// H2HpackError counts header blocks whose HPACK decoding failed,
	// mostly after a capture gap left the decoder without entries its
	// peer still refers to. The message keeps the fields decoded before
	// the failure and is HeadersPartial; the decoder starts over.
	H2HpackError atomic.Uint64
	// H2HeaderTooLarge counts header blocks and trailer sections whose
	// fields exceeded Config.MaxHeaderBytes; the fields beyond are dropped
	// and the message is HeadersPartial.
	H2HeaderTooLarge atomic.Uint64
	// H2BadFrame counts frames that break RFC 9113 (a CONTINUATION out of
	// sequence, a wrong length for the type, padding longer than the
	// payload, a stream id where none may be), skipped. One that cut a
	// header block short leaves its message HeadersPartial.
	H2BadFrame atomic.Uint64

	// BodyOverBudget counts messages whose body stopped being kept because
	// Config.BodyBudget was spent: the body keeps the prefix it had and is
	// marked Message.BodyOverBudget. Its size is still counted.
	BodyOverBudget atomic.Uint64
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
	case KindEarlyResponseTooLarge:
		s.EarlyResponseTooLarge.Add(1)
	case KindResyncDiscardedResponse:
		s.ResyncDiscardedResponse.Add(1)
	case KindH2FrameTooLarge:
		s.H2FrameTooLarge.Add(1)
	case KindH2TooManyStreams:
		s.H2TooManyStreams.Add(1)
	case KindH2HpackError:
		s.H2HpackError.Add(1)
	case KindH2HeaderTooLarge:
		s.H2HeaderTooLarge.Add(1)
	case KindH2BadFrame:
		s.H2BadFrame.Add(1)
	case KindBodyOverBudget:
		s.BodyOverBudget.Add(1)
	}
}

func (s *Stats) skipped(n int) {
	if s != nil && n > 0 {
		s.ResyncSkippedBytes.Add(uint64(n))
	}
}

func (s *Stats) resumed() {
	if s != nil {
		s.Resynced.Add(1)
	}
}
