package tap

import (
	"cmp"
	"sync"
	"sync/atomic"

	"github.com/ebpftap/ebpftap/internal/capture"
	"github.com/ebpftap/ebpftap/internal/httpparse"
	"github.com/ebpftap/ebpftap/internal/wireproto"
)

// Sink receives what a Tap finds, on the engine's goroutine, in the order the
// engine reported it. Every *Conn it is given is immutable and may be kept.
type Sink interface {
	ConnOpened(c *Conn)
	// Exchange hands over a finished transaction; it belongs to the Sink,
	// which releases it (httpparse.Transaction.Release) once done with it
	// so that the parsers reuse its memory, from any goroutine.
	Exchange(x Exchange)
	// ConnClosed reports the end of a connection and the wire bytes it
	// carried since the last IO call for it.
	ConnClosed(c *Conn, io IO)
}

// IO counts wire bytes each way, copied or not (TLS plaintext is not counted:
// its ciphertext is).
type IO struct {
	Sent, Recv uint64
}

// Config says what a Tap follows and keeps.
type Config struct {
	Filter Filter
	// MaxBodyBytes is how much of each body the parsers keep; 0 keeps
	// sizes only.
	MaxBodyBytes int
	// MaxBufferedBodyBytes bounds the body bytes all the parsers keep at
	// once, for transactions not yet handed to the Sink; beyond it bodies
	// are cut and marked (httpparse.BodyBudget). 0 means MaxBodyBytes, room
	// for one body.
	MaxBufferedBodyBytes int
}

// Tap is the engine's capture.Handler: see the package doc. Its Handler
// methods run on the engine's goroutine; IO and ParserStats may be called from
// any.
type Tap struct {
	filter       Filter
	maxBodyBytes int
	sink         Sink
	stats        httpparse.Stats
	budget       *httpparse.BodyBudget // shared by the parsers of every connection

	// conns, and the facts of each followed connection, are written only
	// on the engine's goroutine, under mu, and read there without it; IO
	// reads them under mu from other goroutines.
	mu    sync.Mutex
	conns map[*capture.Conn]*followed

	// byEnds finds a followed connection by its ends, so that an exchange
	// can name the other end when both are on this host. Engine goroutine
	// only; an entry lives as long as its connection is followed.
	byEnds map[endpoints]*followed
}

// followed is what a Tap keeps per followed connection.
type followed struct {
	facts *Conn // replaced, never modified, when a fact changes
	// parser is made at the first bytes it is given, not at the open: a
	// parser is about 500 bytes, and 10,000 idle connections followed at
	// both ends held 10 MiB of them (heap profile, TestE2EMemory).
	parser   *httpparse.Conn
	requests capture.Direction // the direction requests travel in; 0 until known
	notHTTP  bool              // the engine was asked to stop copying
	tls      bool              // parsing the TLS plaintext; the wire bytes are only counted
	sent     atomic.Uint64     // wire bytes since the last IO call
	recv     atomic.Uint64
	seq      uint64 // the last exchange's Exchange.Seq; 0 forever if seen mid-way
	numbered bool   // followed from its start, so its exchanges are numbered
	// first holds the first bytes the client [0] and the server [1] sent
	// (the process [0] and its peer [1] while the role is unknown), at most
	// wireproto.Need of each, until they name the protocol.
	first [2][]byte
}

var _ capture.Handler = (*Tap)(nil)

// New returns a Tap that hands what it finds to sink.
func New(cfg Config, sink Sink) *Tap {
	return &Tap{
		filter:       cfg.Filter,
		maxBodyBytes: max(cfg.MaxBodyBytes, 0),
		sink:         sink,
		budget:       httpparse.NewBodyBudget(int64(cmp.Or(cfg.MaxBufferedBodyBytes, cfg.MaxBodyBytes))),
		conns:        make(map[*capture.Conn]*followed),
		byEnds:       make(map[endpoints]*followed),
	}
}

// ParserStats returns the parsers' counters of what they gave up on.
func (t *Tap) ParserStats() *httpparse.Stats { return &t.stats }

// BufferedBodyBytes returns the body bytes the parsers hold for transactions
// not yet handed to the Sink, as charged to Config.MaxBufferedBodyBytes.
func (t *Tap) BufferedBodyBytes() int64 { return t.budget.Used() }

// IO calls f with the wire bytes of each open connection since the last
// call, for metrics of long-lived connections.
func (t *Tap) IO(f func(c *Conn, io IO)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, st := range t.conns {
		f(st.facts, IO{Sent: st.sent.Swap(0), Recv: st.recv.Swap(0)})
	}
}

// ConnOpened implements capture.Handler.
func (t *Tap) ConnOpened(c *capture.Conn) bool {
	if !t.filter.follow(c) {
		return false
	}
	st := &followed{facts: factsOf(c, c.Role, false, wireproto.Unknown), numbered: true}
	st.facts.remoteAddr = addrText(c.Remote)
	switch c.Role {
	case capture.RoleClient:
		st.requests = capture.Send
	case capture.RoleServer:
		st.requests = capture.Recv
	default:
		st.numbered = false // transactions before the first one seen are unknown
	}
	t.byEnds[endpoints{c.Local, c.Remote}] = st
	t.mu.Lock()
	t.conns[c] = st
	t.mu.Unlock()
	t.sink.ConnOpened(st.facts)
	return true
}

// Data implements capture.Handler.
func (t *Tap) Data(c *capture.Conn, s capture.Segment) bool {
	st := t.conns[c]
	if st == nil {
		return true
	}
	if !s.TLS {
		n := uint64(len(s.Data) + s.Lost)
		if s.Dir == capture.Send {
			st.sent.Add(n)
		} else {
			st.recv.Add(n)
		}
	}
	switch {
	case s.TLS && !st.tls:
		// A TLS library spoke: what the parser saw so far was the
		// handshake. From now on the plaintext is parsed, the wire bytes
		// only counted.
		// The protocol is the plaintext's, named afresh.
		st.tls, st.notHTTP, st.first = true, false, [2][]byte{}
		t.setFacts(st, factsOf(c, st.facts.Role, true, wireproto.Unknown))
		// What the old parser holds (HTTP before a STARTTLS-like switch)
		// is passed on as it is, and its body bytes given back.
		if st.parser != nil {
			st.parser.Close(s.Time)
			st.parser = nil
		}
	case st.tls && !s.TLS:
		return true
	case st.facts.stale(c):
		t.setFacts(st, factsOf(c, st.facts.Role, st.tls, st.facts.Protocol))
	}
	if st.notHTTP {
		return false
	}
	if st.requests == 0 && !t.findRole(c, st, s) {
		// Which end is the client is unknown yet: the bytes are kept by
		// direction, sent first, so that the close can still tell the
		// connection carried something.
		keepFirst(&st.first, s.Dir == capture.Recv, s.Data)
		return !st.notHTTP
	}
	stream := httpparse.ToClient
	if s.Dir == st.requests {
		stream = httpparse.ToServer
	}
	if st.facts.Protocol == wireproto.Unknown {
		t.identify(c, st, stream == httpparse.ToClient, s.Data)
	}
	if st.parser == nil {
		t.newParser(st)
	}
	st.parser.Write(stream, s.Time, s.Data, s.Lost)
	if st.parser.Protocol() == httpparse.ProtocolOther && !st.tls {
		// Count its bytes from now on; copying them is wasted work.
		st.notHTTP = true
		return false
	}
	return true
}

// setFacts replaces st's facts: rare (a role found, a TLS fact learnt), so
// it takes the lock that lets IO read them.
func (t *Tap) setFacts(st *followed, f *Conn) {
	if f.Remote == st.facts.Remote {
		f.remoteAddr = st.facts.remoteAddr
	} else {
		f.remoteAddr = addrText(f.Remote)
	}
	t.mu.Lock()
	st.facts = f
	t.mu.Unlock()
}

// newParser gives st a fresh parser whose transactions go to the sink with
// the connection's facts of the moment.
func (t *Tap) newParser(st *followed) {
	st.parser = httpparse.NewConn(httpparse.Config{
		MaxBodyBytes: t.maxBodyBytes,
		BodyBudget:   t.budget,
		Stats:        &t.stats,
	}, func(tx *httpparse.Transaction) { t.sink.Exchange(t.exchange(st, tx)) })
}

// exchange makes the Exchange of tx on st: numbered, and naming the other
// end of the connection when this host follows it too.
func (t *Tap) exchange(st *followed, tx *httpparse.Transaction) Exchange {
	x := Exchange{Conn: st.facts, Tx: tx}
	if st.numbered {
		st.seq++
		x.Seq = st.seq
	}
	f := st.facts
	if peer := t.byEnds[endpoints{f.Remote, f.Local}]; peer != nil && peer != st &&
		peer.facts.Role != f.Role && peer.facts.Role != capture.RoleUnknown {
		x.Peer = peer.facts.ID
	}
	return x
}

// identify names the connection's protocol from the first bytes seen of
// each direction and data, the start of a segment from the server when
// fromServer is set, else from the client. The bytes are kept only while
// they cannot tell: most connections are named by their first segment,
// with no copy.
func (t *Tap) identify(c *capture.Conn, st *followed, fromServer bool, data []byte) {
	seen := st.first
	i := 0
	if fromServer {
		i = 1
	}
	if len(seen[i]) == 0 {
		seen[i] = data // Identify reads wireproto.Need bytes at most
	} else {
		keepFirst(&st.first, fromServer, data)
		seen = st.first
	}
	port := c.Remote.Port()
	if st.facts.Role == capture.RoleServer {
		port = c.Local.Port()
	}
	p := wireproto.Identify(seen[0], seen[1], port)
	if p == wireproto.Unknown {
		if len(st.first[i]) == 0 {
			keepFirst(&st.first, fromServer, data)
		}
		return
	}
	st.first = [2][]byte{}
	t.setFacts(st, factsOf(c, st.facts.Role, st.tls, p))
}

// keepFirst adds the start of data to the first bytes of one direction: the
// second when second is set, else the first. At most wireproto.Need bytes
// are kept of each.
func keepFirst(first *[2][]byte, second bool, data []byte) {
	i := 0
	if second {
		i = 1
	}
	if room := wireproto.Need - len(first[i]); room > 0 && len(data) > 0 {
		first[i] = append(first[i], data[:min(len(data), room)]...)
	}
}

// findRole decides, for a connection seen mid-way, which end the process is:
// the one that sends a request line. Until then the bytes are skipped; a
// connection the direction filter then rules out is only counted.
func (t *Tap) findRole(c *capture.Conn, st *followed, s capture.Segment) bool {
	if !httpparse.LooksLikeRequest(s.Data) {
		return false
	}
	st.requests = s.Dir
	role := capture.RoleClient
	if s.Dir == capture.Recv {
		role = capture.RoleServer
	}
	t.setFacts(st, factsOf(c, role, st.tls, st.facts.Protocol))
	if !t.filter.followRole(role, c) {
		st.notHTTP = true
		return false
	}
	return true
}

// ConnClosed implements capture.Handler.
func (t *Tap) ConnClosed(c *capture.Conn) {
	st := t.conns[c]
	if st == nil {
		return
	}
	protocol := st.facts.Protocol
	if protocol == wireproto.Unknown && len(st.first[0])+len(st.first[1]) > 0 {
		protocol = wireproto.Other // bytes were seen, and they fit no signature
	}
	// The last copy: with the close's time, and the facts as they ended.
	t.setFacts(st, factsOf(c, st.facts.Role, st.tls, protocol))
	if st.parser != nil {
		st.parser.Close(c.Closed)
	}
	t.mu.Lock()
	delete(t.conns, c)
	t.mu.Unlock()
	if ends := (endpoints{c.Local, c.Remote}); t.byEnds[ends] == st {
		delete(t.byEnds, ends)
	}
	t.sink.ConnClosed(st.facts, IO{Sent: st.sent.Swap(0), Recv: st.recv.Swap(0)})
}
