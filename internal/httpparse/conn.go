package httpparse

import "time"

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
	// Stats receives the counters; it may be shared by many Conns, or be nil.
	Stats *Stats
}

const (
	DefaultMaxHeaderBytes = 64 << 10
	DefaultMaxPending     = 64
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

// slot is one transaction on its way out. Its request, response and the
// Transaction pointing at them share one allocation.
type slot struct {
	txn      Transaction
	req      Request
	resp     Response
	reqDone  bool
	respDone bool
	hasResp  bool // a final response was assigned (possibly still being read)
}

// Conn parses the two byte streams of one connection. It is not safe for
// concurrent use: the receiver feeds each connection from one goroutine.
type Conn struct {
	cfg   Config
	stats *Stats
	emit  func(*Transaction)

	proto Protocol
	state connState
	err   error
	det   detector

	cli reader // ToServer: requests
	srv reader // ToClient: responses

	// pending holds requests in wire order whose transaction was not emitted
	// yet; pending[:answered] have been assigned their (final) response.
	pending  []*slot
	answered int
	// owed counts responses still to come for requests dropped by MaxPending
	// before their response started; they are parsed and thrown away so that
	// later responses still pair with the right requests.
	owed int
}

// NewConn returns a parser for one connection. emit receives each
// transaction, in request order, synchronously from Write or Close.
func NewConn(cfg Config, emit func(*Transaction)) *Conn {
	cfg = cfg.withDefaults()
	return &Conn{
		cfg:   cfg,
		stats: cfg.Stats,
		emit:  emit,
		cli:   reader{stream: ToServer},
		srv:   reader{stream: ToClient},
	}
}

// Protocol reports what the parser decided so far.
func (c *Conn) Protocol() Protocol { return c.proto }

// Err returns why the Conn gave up on its connection (an *Error), or nil
// while it is parsing, after a protocol upgrade, or after Close. A Conn that
// gave up before it could decide (bytes lost in the first request line)
// stays ProtocolUnknown, so Err is how a caller tells it to stop waiting.
func (c *Conn) Err() error { return c.err }

// Write feeds the next piece of stream s: p are the bytes, and lost bytes
// followed p on the wire but were not captured. ts is when the piece was
// seen. p is only used during the call.
func (c *Conn) Write(s Stream, ts time.Time, p []byte, lost int) {
	if c.state != stateActive {
		return
	}
	var r *reader
	switch s {
	case ToServer:
		r = &c.cli
	case ToClient:
		r = &c.srv
	default:
		return
	}
	if len(p) > 0 {
		c.feed(r, ts, p)
	}
	if lost > 0 && c.state == stateActive {
		c.gap(r, ts, int64(lost))
	}
}

// Close ends both streams: a body delimited by the end of the connection
// completes, anything else still in progress is emitted marked Incomplete,
// and requests that never got a response are emitted with Response == nil.
func (c *Conn) Close(ts time.Time) {
	// ts is unused on purpose: a message ends with its last byte, not with
	// the close.
	_ = ts
	if c.state != stateActive {
		return
	}
	c.state = stateClosed
	c.drain(drainClose)
}

func (c *Conn) feed(r *reader, ts time.Time, p []byte) {
	for len(p) > 0 && c.state == stateActive {
		var n int
		switch r.state {
		case stIdle:
			// "a server that is expecting to receive and parse a request-line
			// SHOULD ignore at least one empty line (CRLF) received prior to
			// the request-line" (RFC 9112 §2.2); stray CRLFs after a body
			// are skipped on responses too.
			for n < len(p) && (p[n] == '\r' || p[n] == '\n') {
				n++
			}
			if n < len(p) {
				r.beginHead(ts)
			}
		case stHead:
			n = c.readHead(r, ts, p)
		case stLength:
			n = c.readLength(r, ts, p)
		case stUntilClose:
			n = len(p)
			c.keep(r, p)
			r.last = ts
		default:
			n = c.readChunked(r, ts, p)
		}
		p = p[n:]
	}
}

// gap handles bytes the capture lost right after what was fed. Inside a body
// of known length (or a chunk's data, or a body that ends with the
// connection) only the body's content is missing, so its size stays right
// and the message is kept, truncated. Anywhere else the lost bytes carried
// framing, and guessing where the next message starts could pin bytes on the
// wrong message, so the Conn gives up.
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
	c.fail(r.stream, KindCaptureGap, errGapInFraming)
}

// fail gives up on the connection: it counts why, emits what it can and
// ignores the rest of the connection.
func (c *Conn) fail(s Stream, k Kind, err error) {
	if c.state != stateActive {
		return
	}
	c.stats.count(k)
	c.err = &Error{Stream: s, Kind: k, Err: err}
	c.state = stateFailed
	if k == KindNotHTTP {
		c.proto = ProtocolOther
	}
	c.drain(drainFail)
}

// upgrade stops parsing after a 101 (Switching Protocols) or a successful
// CONNECT: "the server ... will switch to the protocol(s) defined by the
// response's Upgrade header field immediately after the empty line that
// terminates the 101 (Switching Protocols) response" (RFC 9110 §7.8).
func (c *Conn) upgrade() {
	c.state = stateUpgraded
	c.drain(drainUpgrade)
}

type drainMode uint8

const (
	drainClose drainMode = iota
	drainFail
	drainUpgrade
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
	c.answered = 0
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
// response are both complete.
func (c *Conn) flush() {
	for len(c.pending) > 0 {
		s := c.pending[0]
		if !s.reqDone || !s.respDone {
			return
		}
		copy(c.pending, c.pending[1:])
		c.pending[len(c.pending)-1] = nil
		c.pending = c.pending[:len(c.pending)-1]
		c.answered--
		s.txn.Response = &s.resp
		c.emit(&s.txn)
	}
}
