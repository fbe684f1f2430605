package httpparse

import (
	"bytes"
	"time"
)

// readHead consumes bytes of a header block from p and returns how many it
// used. A block that arrives whole in p is parsed straight from p; one split
// across Writes accumulates in r.buf, which never holds more than
// MaxHeaderBytes.
func (c *Conn) readHead(r *reader, ts time.Time, p []byte) int {
	r.last = ts
	limit := c.cfg.MaxHeaderBytes
	if len(r.buf) == 0 && c.proto == ProtocolHTTP1 {
		if e := headEnd(p, 0); e > 0 && e <= limit {
			c.head(r, ts, p[:e])
			return e
		}
	}
	old := len(r.buf)
	n := min(len(p), limit-old)
	r.buf = append(growBounded(r.buf, n, 0, limit), p[:n]...)

	if r.stream == ToServer && c.proto == ProtocolUnknown {
		switch c.det.step(r.buf) {
		case verdictNotHTTP:
			c.fail(ToServer, KindNotHTTP, errNotRequestLine)
			return len(p)
		case verdictHTTP:
			c.proto = ProtocolHTTP1
		}
	} else if err := r.plausible(); err != nil {
		if c.proto == ProtocolHTTP1 {
			c.fail(r.stream, KindMalformed, err)
		} else {
			c.fail(r.stream, KindNotHTTP, err)
		}
		return len(p)
	}

	if e := headEnd(r.buf, r.scan); e > 0 {
		c.head(r, ts, r.buf[:e])
		r.resetBuf()
		return e - old
	}
	r.scan = len(r.buf)
	if len(r.buf) >= limit {
		if c.proto == ProtocolUnknown && r.stream == ToServer && c.det.sp > 0 {
			// A known method and a printable line: HTTP, with a request
			// line too long to keep.
			c.proto = ProtocolHTTP1
		}
		c.fail(r.stream, KindHeaderTooLarge, errHeaderTooLarge)
		return len(p)
	}
	return n
}

// headEnd returns the index just past the empty line that ends the header
// block in b, or -1. Only line ends at or after from are considered, so a
// search can resume where the last one stopped.
func headEnd(b []byte, from int) int {
	for i := from; i < len(b); {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return -1
		}
		i += j
		// A line end preceded by an empty line: LF LF or LF CR LF.
		if i >= 1 && b[i-1] == '\n' || i >= 2 && b[i-1] == '\r' && b[i-2] == '\n' {
			return i + 1
		}
		i++
	}
	return -1
}

// plausible checks the first bytes of a block still accumulating, so that a
// stream of garbage is rejected at once instead of after MaxHeaderBytes.
func (r *reader) plausible() error {
	if r.startOK {
		return nil
	}
	if r.stream == ToClient {
		const prefix = "HTTP/1."
		n := min(len(r.buf), len(prefix))
		if string(r.buf[:n]) != prefix[:n] {
			return errNotStatusLine
		}
		r.checked = n
		r.startOK = n == len(prefix)
		return nil
	}
	for ; r.checked < len(r.buf); r.checked++ {
		ch := r.buf[r.checked]
		if ch == ' ' && r.checked > 0 {
			r.startOK = true
			return nil
		}
		if !tchar[ch] {
			return errBadRequestLine
		}
	}
	return nil
}

func (c *Conn) head(r *reader, ts time.Time, block []byte) {
	if r.stream == ToServer {
		c.requestHead(r, ts, block, false)
	} else {
		c.responseHead(r, ts, block, false)
	}
}

// requestHead parses a request's header block and starts reading its body.
// A partial block (see finish) only records the request.
func (c *Conn) requestHead(r *reader, ts time.Time, block []byte, partial bool) {
	s := newSlot()
	f, err := parseRequestHead(string(block), &s.req, partial)
	if err != nil {
		c.fail(ToServer, KindMalformed, err)
		return
	}
	s.req.Start = r.start
	r.slot, r.msg = s, &s.req.Message
	overflow := c.push(s)
	if partial {
		return
	}
	if overflow != nil {
		defer c.fail(ToServer, KindPendingOverflow, overflow)
	}
	// Message body length of a request (RFC 9112 §6.3).
	switch {
	case f.te && !f.chunked:
		// Rule 4: "If a Transfer-Encoding header field is present in a
		// request and the chunked transfer coding is not the final encoding,
		// the message body length cannot be determined reliably".
		c.fail(ToServer, KindMalformed, errRequestCoding)
	case f.te:
		// Rule 4: Transfer-Encoding overrides Content-Length.
		c.beginChunked(r)
	case f.clInvalid:
		// Rule 5: "If a message is received without Transfer-Encoding and
		// with an invalid Content-Length header field, then the message
		// framing is invalid and the recipient MUST treat it as an
		// unrecoverable error".
		c.fail(ToServer, KindMalformed, errBadContentLength)
	case f.contentLength > 0:
		r.state, r.remain, r.sizeHint = stLength, f.contentLength, f.contentLength
	default:
		// Rule 7: "If this is a request message and none of the above are
		// true, then the message body length is zero".
		c.endMessage(r, ts)
	}
}

// responseHead parses a response's header block, pairs it with the oldest
// request still awaiting one and starts reading its body.
func (c *Conn) responseHead(r *reader, ts time.Time, block []byte, partial bool) {
	var (
		s    *slot
		resp *Response
	)
	if c.owed == 0 && c.answered < len(c.pending) {
		s = c.pending[c.answered]
		resp = &s.resp
	} else {
		resp = new(Response) // parsed for its framing, then dropped
	}
	f, err := parseResponseHead(string(block), resp, partial)
	if err != nil {
		if s != nil {
			s.resp = Response{}
		}
		c.fail(ToClient, KindMalformed, err)
		return
	}
	code := resp.StatusCode
	if code < 200 && code != 101 {
		// Interim responses precede the final one: "A client MUST be able to
		// parse one or more 1xx responses received prior to a final response,
		// even if the client does not expect one" (RFC 9110 §15.2).
		if s != nil {
			s.resp = Response{}
		}
		r.state = stIdle
		return
	}
	resp.Start = r.start
	switch {
	case s != nil:
		c.answered++
		s.hasResp = true
	case c.owed > 0:
		c.owed--
	default:
		c.stats.count(KindUnmatchedResponse)
	}
	r.slot, r.msg = s, &resp.Message
	if partial {
		return
	}
	method := ""
	if s != nil {
		method = s.req.Method
	}
	// Message body length of a response (RFC 9112 §6.3).
	switch {
	case code == 101 || method == "CONNECT" && code/100 == 2:
		// Rule 2: "Any 2xx (Successful) response to a CONNECT request
		// implies that the connection will become a tunnel immediately after
		// the empty line that concludes the header fields."
		c.endMessage(r, ts)
		c.upgrade()
	case method == "HEAD" || code == 204 || code == 304:
		// Rule 1: "Any response to a HEAD request and any response with a
		// 1xx (Informational), 204 (No Content), or 304 (Not Modified) status
		// code is always terminated by the first empty line after the header
		// fields, regardless of the header fields present in the message".
		c.endMessage(r, ts)
	case f.te && f.chunked:
		c.beginChunked(r)
	case f.te:
		// Rule 4: "If a Transfer-Encoding header field is present in a
		// response and the chunked transfer coding is not the final encoding,
		// the message body length is determined by reading the connection
		// until it is closed by the server."
		r.state = stUntilClose
	case f.clInvalid:
		c.fail(ToClient, KindMalformed, errBadContentLength)
	case f.contentLength > 0:
		r.state, r.remain, r.sizeHint = stLength, f.contentLength, f.contentLength
	case f.contentLength == 0:
		c.endMessage(r, ts)
	default:
		// Rule 8: "Otherwise, this is a response message without a declared
		// message body length, so the message body length is determined by
		// the number of octets received prior to the server closing the
		// connection."
		r.state = stUntilClose
	}
}
