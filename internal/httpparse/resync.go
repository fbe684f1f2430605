package httpparse

// Resynchronising after a capture gap.
//
// When the capture's ring buffer is full, whole syscall pieces are lost. A
// loss that carried framing (inside a header block or a chunk-size line,
// between messages, or past the end of a body of known length) leaves no way
// to tell where the next message starts. Rather than give up on a keep-alive
// connection for good, the Conn emits what it had (unfinished messages
// marked Incomplete, waiting requests without a response), counts
// Stats.CaptureGap, and puts both streams in resync:
//
//   - the ToServer stream skips pieces until one starts with a request line
//     (LooksLikeRequest: a known method and a space), where it resumes;
//   - the ToClient stream skips pieces until one starts with "HTTP/1." while
//     exactly one request parsed since the gap awaits a response; it resumes
//     there and pairs that response with that request.
//
// The ToClient rule never pairs a response with a request it may not
// answer. A response that starts before any request was parsed since the
// gap may answer a request the gap swallowed (or one emitted at the gap), so
// it is discarded, even though it may also be the next request's response
// arriving early (early.go). When two or more requests await, the response
// of the older ones may have been one of those discarded or skipped, so none
// of them can be paired safely: they are given up on (emitted without a
// response) and the piece is skipped too. This costs a transaction or two
// after a gap and gives up on pipelined traffic until it pauses, the price
// of never mislabelling one. Bytes skipped are counted in
// Stats.ResyncSkippedBytes, discarded responses in
// Stats.ResyncDiscardedResponse, and each stream that resumes in
// Stats.Resynced. Losses while a stream resynchronises cost nothing more:
// its framing is lost already.

// resync emits what was in flight and makes both streams look for the next
// message start.
func (c *Conn) resync() {
	c.stats.count(KindCaptureGap)
	c.drain(drainResync)
	c.cli.resync, c.srv.resync = true, true
}

// resumeRequests reports whether p, a piece of the ToServer stream while it
// resynchronises, starts a request; if not, p is skipped.
func (c *Conn) resumeRequests(p []byte) bool {
	if !LooksLikeRequest(p) {
		c.stats.skipped(len(p))
		return false
	}
	c.cli.resync = false
	c.stats.resumed()
	return true
}

// resumeResponses reports whether p, a piece of the ToClient stream while
// it resynchronises, starts the response of the one request awaiting one;
// if not, p is skipped.
func (c *Conn) resumeResponses(p []byte) bool {
	if len(p) < len(statusPrefix) || string(p[:len(statusPrefix)]) != statusPrefix {
		c.stats.skipped(len(p))
		return false
	}
	if waiting := len(c.pending) - c.answered; waiting != 1 || c.owed > 0 {
		if waiting > 0 {
			c.abandon()
		}
		c.stats.count(KindResyncDiscardedResponse)
		c.stats.skipped(len(p))
		return false
	}
	c.srv.resync = false
	c.stats.resumed()
	return true
}

// abandon gives up pairing the requests awaiting a response: each is
// emitted without one as soon as it is complete, and the next response
// pairs with a request parsed after them.
func (c *Conn) abandon() {
	for _, s := range c.pending[c.answered:] {
		s.unanswerable = true
	}
	c.answered, c.owed = len(c.pending), 0
	c.flush()
}
