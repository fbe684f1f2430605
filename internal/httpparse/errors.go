package httpparse

import (
	"errors"
	"fmt"
)

// Kind classifies why the parser gave up on, or threw away, part of a
// connection. Each Kind is counted in the Stats field of the same name.
type Kind uint8

const (
	KindNotHTTP Kind = iota + 1
	KindHeaderTooLarge
	KindMalformed
	KindCaptureGap
	KindUnmatchedResponse
	KindPendingOverflow
	KindNoResponse
	KindEarlyResponseTooLarge
	KindResyncDiscardedResponse
	KindH2FrameTooLarge
	KindH2TooManyStreams
	KindH2HpackError
	KindH2HeaderTooLarge
	KindH2BadFrame
	KindBodyOverBudget
)

func (k Kind) String() string {
	switch k {
	case KindNotHTTP:
		return "not HTTP"
	case KindHeaderTooLarge:
		return "header too large"
	case KindMalformed:
		return "malformed"
	case KindCaptureGap:
		return "capture gap"
	case KindUnmatchedResponse:
		return "unmatched response"
	case KindPendingOverflow:
		return "pending overflow"
	case KindNoResponse:
		return "no response"
	case KindEarlyResponseTooLarge:
		return "early response too large"
	case KindResyncDiscardedResponse:
		return "response discarded while resynchronising"
	case KindH2FrameTooLarge:
		return "HTTP/2 frame too large"
	case KindH2TooManyStreams:
		return "too many HTTP/2 streams"
	case KindH2HpackError:
		return "HPACK decoding error"
	case KindH2HeaderTooLarge:
		return "HTTP/2 header block too large"
	case KindH2BadFrame:
		return "bad HTTP/2 frame"
	case KindBodyOverBudget:
		return "body over budget"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Error says why a Conn stopped parsing its connection as HTTP.
type Error struct {
	Stream Stream // the stream whose bytes made the parser give up
	Kind   Kind   // also names the Stats counter it was counted in
	Err    error  // the rule that was broken
}

func (e *Error) Error() string {
	return fmt.Sprintf("httpparse: %s stream: %s: %v", e.Stream, e.Kind, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Sentinel causes. They are static so that detecting a problem never
// allocates; the Conn wraps one in an *Error when it gives up.
var (
	errNotRequestLine        = errors.New("stream does not start with an HTTP/1.x request-line")
	errNotStatusLine         = errors.New("stream does not start with an HTTP/1.x status-line")
	errBadRequestLine        = errors.New("invalid request-line")
	errBadStatusLine         = errors.New("invalid status-line")
	errBadVersion            = errors.New("unsupported HTTP-version")
	errBadFieldLine          = errors.New("invalid field line")
	errBadFieldName          = errors.New("invalid field name")
	errBadFieldValue         = errors.New("invalid field value")
	errBadContentLength      = errors.New("invalid Content-Length")
	errRequestCoding         = errors.New("request Transfer-Encoding does not end in chunked")
	errBadChunkSize          = errors.New("invalid chunk-size")
	errChunkTooLarge         = errors.New("chunk-size too large")
	errChunkLineTooLong      = errors.New("chunk-size line too long")
	errBadChunkEnd           = errors.New("chunk-data not followed by CRLF")
	errBadTrailer            = errors.New("invalid trailer field line")
	errHeaderTooLarge        = errors.New("header block exceeds MaxHeaderBytes")
	errTrailerTooLarge       = errors.New("trailer section exceeds MaxHeaderBytes")
	errGapInFraming          = errors.New("bytes lost outside a body of known length")
	errEarlyResponseTooLarge = errors.New("response bytes ahead of their request exceed MaxEarlyResponseBytes")
	errDroppedSpecialMethod  = errors.New("dropped a request whose response framing depends on its method")
	errShortFrame            = errors.New("HTTP/2 frame shorter than its header says")
)
