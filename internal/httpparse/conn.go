package httpparse

import (
	"sync"
	"time"
)

// Config bounds the parser. Zero values mean defaults.
type Config struct {
	// MaxHeaderBytes bounds one header block (start line and fields) and one
	// trailer section; default DefaultMaxHeaderBytes. A larger block makes the
	// Conn give up, counted in Stats.HeaderTooLarge.
	MaxHeaderBytes int
	// MaxBodyBytes is how many bytes of each body to keep in Message.Body; 0
	// keeps none (sizes are still counted); negative means 0.
	MaxBodyBytes int
	// MaxPending bounds the requests awaiting a response (pipelining); default
	// DefaultMaxPending. Beyond it the oldest is dropped, counted in
	// Stats.PendingOverflow.
	MaxPending int
	// MaxEarlyResponseBytes bounds the response bytes held back because they
	// arrived before the request they answer (see early.go); default twice
	// MaxHeaderBytes, room for a header block and as much body. A value below
	// MaxHeaderBytes is raised to it, so that any response header block the
	// Conn accepts can also be held. Beyond it the Conn gives up, counted in
	// Stats.EarlyResponseTooLarge. Each held piece keeps its time, up to 256
	// pieces; later ones merge into the last (see early.go).
	MaxEarlyResponseBytes int
	// MaxStreams bounds the HTTP/2 streams followed at once on a
	// connection; default DefaultMaxStreams. Beyond it new streams are not
	// followed, counted in Stats.H2TooManyStreams. Each keeps up to
	// MaxBodyBytes per message.
	MaxStreams int
	// BodyBudget bounds the body bytes kept by all the Conns that share it,
	// on top of MaxBodyBytes per message; nil bounds none.
	BodyBudget *BodyBudget
	// Stats receives the counters; it may be shared by many Conns, or be nil.
	Stats *Stats
}

const (
	DefaultMaxHeaderBytes = 64 << 10
	DefaultMaxPending     = 64
	DefaultMaxStreams     = 1000
)

func (c Config) withDefaults() Config {
	if c.MaxHeaderBytes <= 0 {
		c.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if c.MaxBodyBytes < 0 {
		c.MaxBodyBytes = 0
	}
	if c.MaxPending <= 0 {
		c.MaxPending = DefaultMaxPending
	}
	if c.MaxStreams <= 0 {
		c.MaxStreams = DefaultMaxStreams
	}
	if c.MaxEarlyResponseBytes <= 0 {
		c.MaxEarlyResponseBytes = 2 * c.MaxHeaderBytes
	}
	c.MaxEarlyResponseBytes = max(c.MaxEarlyResponseBytes, c.MaxHeaderBytes)
	return c
}

func (s Stream) String() string {
	switch s {
	case ToServer:
		return "to-server"
	case ToClient:
		return "to-client"
	}
	return "unknown"
}

type connState uint8

const (
	stateActive   connState = iota
	stateUpgraded           // 101 or a tunnel: the rest is another protocol
	stateFailed             // gave up; c.err says why
	stateClosed
)

// slot is one HTTP/1.x transaction on its way out. Its request, response
// and the Transaction pointing at them share one allocation, which
// Transaction.Release gives back for the next request.
type slot struct {
	txn      Transaction
	req      Request
	resp     Response
	reqDone  bool
	respDone bool
	hasResp  bool // a final response was assigned (possibly still being read)
	// unanswerable: after a capture gap its response may have been skipped,
	// so it is emitted without one as soon as the request is complete.
	unanswerable bool
	h2cNoted     bool // checked, once complete, for an h2c upgrade (h2c.go)
}

// owner is the memory a Transaction lives in: an HTTP/1.x slot or an
// HTTP/2 stream, pooled for the next transaction once released.
type owner interface{ release() }

// Release gives a transaction's memory back for the parsing of later ones:
// t, its Request and its Response must not be used after it, Release
// included, since the memory may already hold another transaction.
// Strings and bodies they hold stay valid: they are not reused. Calling it
// is optional: what is not released is garbage collected. The slot or
// stream and its header slices were half of the bytes the receiver
// allocated per request when sampling left the request out
// (BenchmarkPipeline, sampling 0.1).
func (t *Transaction) Release() {
	if t != nil && t.owner != nil {
		t.owner.release()
	}
}

// slots holds the slots of released transactions.
var slots = sync.Pool{New: func() any { return new(slot) }}

// newSlot takes a slot with no transaction in it, keeping the capacity of
// a released one's header slices.
func newSlot() *slot {
	s := slots.Get().(*slot)
	s.txn.owner = s
	s.txn.Request = &s.req
	return s
}

func (s *slot) release() {
	reqHeader, respHeader := s.req.Header, s.resp.Header
	clear(reqHeader) // so that they keep no head alive
	clear(respHeader)
	*s = slot{}
	s.req.Header, s.resp.Header = reqHeader[:0], respHeader[:0]
	slots.Put(s)
}

// Conn parses the two byte streams of one connection. It is not safe for
// concurrent use: its caller feeds each connection from one goroutine.
type Conn struct {
	cfg    Config
	stats  *Stats
	out    func(*Transaction)
	budget *BodyBudget
	held   int // bytes of the budget charged for bodies not yet emitted

	proto Protocol
	state connState
	err   error
	det   detector

	cli reader // ToServer: requests
	srv reader // ToClient: responses

	// pending holds requests in wire order whose transaction was not emitted
	// yet; pending[:answered] have been assigned their (final) response, or
	// marked unanswerable after a capture gap.
	pending  []*slot
	answered int
	// owed counts responses still to come for requests dropped by MaxPending
	// before their response started; they are parsed and thrown away so that
	// later responses still pair with the right requests.
	owed int

	// early holds response bytes that arrived before their request.
	early earlyBuffer

	// HTTP/2 (h2.go, h2c.go): the client preface matcher, the upgrade
	// request waiting to become stream 1, and the frame readers once
	// either stream speaks HTTP/2.
	pre prefaceMatch
	h2c *slot
	h2  *h2Conn
}

// NewConn returns a parser for one connection. emit receives each
// transaction synchronously from Write or Close: in request order for
// HTTP/1.x, as each stream closes for HTTP/2. The Conn never touches a
// Transaction again once emitted, so emit may keep it.
func NewConn(cfg Config, emit func(*Transaction)) *Conn {
	cfg = cfg.withDefaults()
	return &Conn{
		cfg:    cfg,
		stats:  cfg.Stats,
		out:    emit,
		budget: cfg.BodyBudget,
		cli:    reader{stream: ToServer},
		srv:    reader{stream: ToClient},
		pre:    prefaceMatch{want: true},
	}
}

// emit passes on a finished transaction: its bodies belong to the caller
// from now on, so the budget they were charged to gets them back.
func (c *Conn) emit(t *Transaction) {
	c.unhold(&t.Request.Message)
	if t.Response != nil {
		c.unhold(&t.Response.Message)
	}
	c.out(t)
}

// Protocol reports what the parser decided so far.
func (c *Conn) Protocol() Protocol { return c.proto }

// Err returns why the Conn gave up on its connection (an *Error), or nil
// while it is parsing (resynchronising after a capture gap included), after
// a protocol upgrade, or after Close. A Conn that gave up before it could
// decide (bytes lost in the first request line) stays ProtocolUnknown, so
// Err is how a caller tells it to stop waiting.
func (c *Conn) Err() error { return c.err }

// Write feeds the next piece of stream s: p are the bytes, and lost bytes
// followed p on the wire but were not captured. ts is when the piece was
// seen. p is only used during the call.
//
// The two streams need not arrive in wire order relative to each other: a
// response may arrive before the request it answers (see early.go).
func (c *Conn) Write(s Stream, ts time.Time, p []byte, lost int) {
	if c.state != stateActive {
		return
	}
	if c.isH2(s) {
		c.h2.write(s, ts, p, lost)
		return
	}
	switch s {
	case ToServer:
		c.writeRequests(ts, p, lost)
	case ToClient:
		c.writeResponses(ts, p, lost)
	}
}

func (c *Conn) writeRequests(ts time.Time, p []byte, lost int) {
	r := &c.cli
	if r.resync && !c.resumeRequests(p) {
		return
	}
	// lostDone: the preface matcher took the loss, or the stream became
	// HTTP/2 and took it.
	lostDone := false
	for c.state == stateActive && !c.isH2(ToServer) {
		if c.pre.want && r.state == stIdle {
			var more bool
			if p, more = c.preface(ts, p, lost); !more {
				lostDone = true
				break
			}
		}
		if len(p) == 0 {
			break
		}
		// feed stops early where an h2c upgrade request ends.
		if p = p[c.feed(r, ts, p):]; len(p) == 0 {
			break
		}
	}
	// Responses held for these requests go first: the lost bytes come
	// after the requests, and a gap may make the Conn resynchronise, which
	// throws held responses away.
	if c.early.holding() && c.awaited() {
		c.release()
	}
	if lost > 0 && !lostDone && c.state == stateActive && !c.isH2(ToServer) {
		c.gap(r, ts, int64(lost))
	}
}

func (c *Conn) writeResponses(ts time.Time, p []byte, lost int) {
	r := &c.srv
	if r.resync && !c.resumeResponses(p) {
		return
	}
	if c.early.holding() {
		// Whatever follows held bytes is held after them.
		c.hold(ts, p, lost)
		return
	}
	n := 0
	if len(p) > 0 {
		n = c.feed(r, ts, p)
	}
	if c.state != stateActive {
		return
	}
	if c.isH2(ToClient) {
		// An h2c upgrade: HTTP/2 follows the 101.
		c.h2.write(ToClient, ts, p[n:], lost)
		return
	}
	if n < len(p) {
		c.hold(ts, p[n:], lost)
		return
	}
	if lost > 0 {
		c.gap(r, ts, int64(lost))
	}
}

// awaited reports whether the next response has a request to answer: one
// parsed and not yet answered, or one dropped by MaxPending.
func (c *Conn) awaited() bool {
	return c.owed > 0 || c.answered < len(c.pending)
}

// Close ends both streams: a body delimited by the end of the connection
// completes, anything else still in progress is emitted marked Incomplete,
// and requests that never got a response are emitted with Response == nil.
// Response bytes still held for a request that never came are counted in
// Stats.UnmatchedResponse.
func (c *Conn) Close(ts time.Time) {
	// ts is unused on purpose: a message ends with its last byte, not with
	// the close.
	_ = ts
	if c.state != stateActive {
		return
	}
	if c.early.holding() && !c.early.blank() {
		c.stats.count(KindUnmatchedResponse)
	}
	c.state = stateClosed
	c.drain(drainClose)
	if c.h2 != nil {
		c.h2.close()
	}
	c.settle()
}

// feed parses p on stream r and returns how many bytes it used: all of
// them, unless the Conn stopped, or a response is about to start that no
// parsed request awaits yet (the caller holds the rest, see early.go).
func (c *Conn) feed(r *reader, ts time.Time, p []byte) int {
	used := 0
	for used < len(p) && c.state == stateActive && !c.isH2(r.stream) &&
		(r.stream == ToClient || !c.pre.want || r.state != stIdle) {
		q := p[used:]
		var n int
		switch r.state {
		case stIdle:
			if r.stream == ToClient && c.proto == ProtocolUnknown && !c.awaited() {
				// Until the client's first bytes tell, these may be an
				// HTTP/2 server's first frame, CRs and LFs included:
				// held as they are.
				return used
			}
			// "a server that is expecting to receive and parse a request-line
			// SHOULD ignore at least one empty line (CRLF) received prior to
			// the request-line" (RFC 9112 §2.2); stray CRLFs after a body
			// are skipped on responses too.
			for n < len(q) && (q[n] == '\r' || q[n] == '\n') {
				n++
			}
			if n < len(q) {
				if r.stream == ToClient && !c.awaited() {
					return used + n
				}
				r.beginHead(ts)
			}
		case stHead:
			n = c.readHead(r, ts, q)
		case stLength:
			n = c.readLength(r, ts, q)
		case stUntilClose:
			n = len(q)
			c.keep(r, q)
			r.last = ts
		default:
			n = c.readChunked(r, ts, q)
		}
		used += n
	}
	return used
}

// gap handles bytes the capture lost right after what was fed. Inside a body
// of known length (or a chunk's data, or a body that ends with the
// connection) only the body's content is missing, so its size stays right
// and the message is kept, truncated. Anywhere else the lost bytes carried
// framing: guessing where the next message starts could pin bytes on the
// wrong message, so the Conn resynchronises both streams (resync.go), or
// gives up if the client stream was not even recognised as HTTP yet.
func (c *Conn) gap(r *reader, ts time.Time, lost int64) {
	switch r.state {
	case stLength, stChunkData:
		if lost > r.remain {
			if r.state == stLength {
				// The body is whole; only what follows it lost its framing.
				c.skip(r, r.remain)
				c.endMessage(r, ts)
			}
			break
		}
		c.skip(r, lost)
		r.remain -= lost
		r.last = ts
		if r.remain == 0 {
			if r.state == stLength {
				c.endMessage(r, ts)
			} else {
				r.state = stChunkDataEnd
			}
		}
		return
	case stUntilClose:
		c.skip(r, lost)
		r.last = ts
		return
	}
	if c.proto != ProtocolHTTP1 {
		c.fail(r.stream, KindCaptureGap, errGapInFraming)
		return
	}
	c.resync()
}

// fail gives up on the connection: it counts why, emits what it can and
// ignores the rest of the connection.
func (c *Conn) fail(s Stream, k Kind, err error) {
	if c.state != stateActive {
		return
	}
	if k == KindNotHTTP && c.proto == ProtocolHTTP2 {
		// After an h2c upgrade's 101, HTTP/1.x rules found no preface:
		// the connection was HTTP all the same.
		k = KindMalformed
	}
	c.stats.count(k)
	c.err = &Error{Stream: s, Kind: k, Err: err}
	c.state = stateFailed
	if k == KindNotHTTP {
		c.proto = ProtocolOther
	}
	c.drain(drainFail)
	if c.h2 != nil {
		c.h2.close()
	}
	c.settle()
}

// upgrade stops parsing after a 101 (Switching Protocols) or a successful
// CONNECT: "the server ... will switch to the protocol(s) defined by the
// response's Upgrade header field immediately after the empty line that
// terminates the 101 (Switching Protocols) response" (RFC 9110 §7.8).
//
// A 101 that accepts an h2c upgrade switches to HTTP/2 instead (h2c.go).
func (c *Conn) upgrade() {
	if c.upgradeH2C() {
		return
	}
	c.state = stateUpgraded
	c.drain(drainUpgrade)
	if c.h2 != nil {
		c.h2.close()
	}
	c.settle()
}

type drainMode uint8

const (
	drainClose drainMode = iota
	drainFail
	drainUpgrade
	drainResync // a capture gap broke framing; parsing goes on afterwards
)

// drain finishes whatever each stream was in the middle of and emits every
// pending transaction.
func (c *Conn) drain(mode drainMode) {
	// Responses first: a partial response can only answer a request whose
	// header block is complete, never one being finished below.
	c.finish(&c.srv, mode)
	c.finish(&c.cli, mode)
	for i, s := range c.pending {
		c.pending[i] = nil
		if s.hasResp {
			s.txn.Response = &s.resp
		} else {
			c.stats.count(KindNoResponse)
		}
		c.emit(&s.txn)
	}
	c.pending = nil
	c.answered, c.owed = 0, 0
	if c.early.holding() && mode == drainResync && !c.early.blank() {
		// They answer requests not parsed yet, which may be lost in the gap.
		c.stats.count(KindResyncDiscardedResponse)
		c.stats.skipped(len(c.early.buf) - c.early.off)
	}
	c.early.reset()
	c.cli.release()
	c.srv.release()
}

func (c *Conn) finish(r *reader, mode drainMode) {
	switch {
	case r.msg != nil:
		if mode != drainClose || r.state != stUntilClose {
			r.msg.Incomplete = true
		}
		c.endMessage(r, r.last)
	case r.state == stHead && len(r.buf) > 0 && c.proto == ProtocolHTTP1 && mode != drainUpgrade:
		// Keep what the complete lines of a cut header block say.
		if r.stream == ToServer {
			c.requestHead(r, r.last, r.buf, true)
		} else {
			c.responseHead(r, r.last, r.buf, true)
		}
		if r.msg != nil {
			r.msg.Incomplete = true
			c.endMessage(r, r.last)
		}
	}
	r.state = stIdle
}

// push queues a request whose header block is complete. It returns an error
// when room was made by dropping a request whose response can no longer be
// framed; the caller gives up once it has finished with the new request.
func (c *Conn) push(s *slot) error {
	var err error
	if len(c.pending) >= c.cfg.MaxPending {
		old := c.pending[0]
		copy(c.pending, c.pending[1:])
		c.pending[len(c.pending)-1] = nil
		c.pending = c.pending[:len(c.pending)-1]
		// Its bodies go with it; a response still being read goes on
		// unkept.
		c.unhold(&old.req.Message)
		c.unhold(&old.resp.Message)
		if c.srv.slot == old {
			c.srv.slot = nil
		}
		if c.answered > 0 {
			c.answered--
		} else {
			c.owed++
			if m := old.req.Method; m == "HEAD" || m == "CONNECT" {
				// Its response cannot be framed without knowing the method,
				// and the method is gone with it. Counted by the caller's
				// fail.
				err = errDroppedSpecialMethod
			}
		}
		if err == nil {
			c.stats.count(KindPendingOverflow)
		}
	}
	c.pending = append(c.pending, s)
	return err
}

// flush emits, in request order, the transactions whose request and
// response are both complete. An h2c upgrade request answered by its 101 is
// handed to HTTP/2 instead, where it is stream 1.
func (c *Conn) flush() {
	c.noteUpgradeRequest()
	for len(c.pending) > 0 {
		s := c.pending[0]
		if !s.reqDone || !s.respDone && !s.unanswerable {
			return
		}
		copy(c.pending, c.pending[1:])
		c.pending[len(c.pending)-1] = nil
		c.pending = c.pending[:len(c.pending)-1]
		c.answered--
		if h2cAccepted(s) {
			c.handOver(s)
			continue
		}
		if s.hasResp {
			s.txn.Response = &s.resp
		} else {
			c.stats.count(KindNoResponse)
		}
		c.emit(&s.txn)
	}
}
