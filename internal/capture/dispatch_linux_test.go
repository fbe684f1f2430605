//go:build linux && (amd64 || arm64)

package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/net/dns/dnsmessage"
)

// These tests drive the engine's event handling with records laid out as the
// kernel writes them, without loading anything into the kernel.

func newDispatchEngine(t *testing.T, h Handler) *Engine {
	t.Helper()
	e, err := NewEngine(Options{ProcRoot: "testdata/proc"}, h)
	if err != nil {
		t.Fatal(err)
	}
	e.tls = newTLSProbes(tlsPrograms{}, false, e.opts) // exec events queue to it
	e.policies = &policyLog{}
	return e
}

// policySet is one capture policy the engine set.
type policySet struct {
	sock         uint64
	policy       syscallsConnPolicy
	sport, dport uint16 // the connection's ports, which the kernel checks
}

// policyLog records the capture policies the engine sets, in order.
type policyLog []policySet

func (l *policyLog) Put(key, value any) error {
	e := value.(syscallsPolicyEntry)
	*l = append(*l, policySet{key.(uint64), syscallsConnPolicy(e.Policy), e.Sport, e.Dport})
	return nil
}

// Delete records nothing: the tests look at what was set.
func (l *policyLog) Delete(key any) error { return nil }

// policiesSet is what e set so far.
func policiesSet(e *Engine) policyLog { return *e.policies.(*policyLog) }

// refuser is a recorder that wants no payload of any connection.
type refuser struct{ recorder }

func (r *refuser) Data(c *Conn, s Segment) bool {
	r.recorder.Data(c, s)
	return false
}

// header fills the common header of a record for sock 127.0.0.1:40000 →
// 127.0.0.1:8080 of process 4242.
func header(b []byte, kind syscallsEventKind, detail, flags uint8, sock uint64) {
	h := (*syscallsEventHeader)(unsafe.Pointer(&b[0]))
	h.Kind, h.Detail, h.Flags, h.Pid, h.Sock, h.TsNs = uint8(kind), detail, flags, 4242, sock, 1
	h.Tuple.Family, h.Tuple.Sport, h.Tuple.Dport = afInet, 40000, 8080
	copy(h.Tuple.Saddr[:], []byte{127, 0, 0, 1})
	copy(h.Tuple.Daddr[:], []byte{127, 0, 0, 1})
}

func openRecord(sock uint64, role Role) []byte {
	b := make([]byte, headerSize)
	header(b, syscallsEventKindEVENT_CONN_OPEN, uint8(role), 0, sock)
	return b
}

func closeRecord(sock uint64) []byte { return countedCloseRecord(sock, 0, 0) }

// countedCloseRecord is the close of a count-only connection whose wire
// bytes the kernel counted: sent and recv in all.
func countedCloseRecord(sock, sent, recv uint64) []byte {
	b := make([]byte, closeSize)
	header(b, syscallsEventKindEVENT_CONN_CLOSE, 0, 0, sock)
	e := (*syscallsCloseEvent)(unsafe.Pointer(&b[0]))
	e.CountedSent, e.CountedRecv = sent, recv
	return b
}

func dataEventRecord(sock uint64, dir Direction, flags uint8, data string, lost uint32) []byte {
	b := dataRecordBytes(uint32(len(data))+lost, uint32(len(data)), 0, []byte(data), len(data))
	header(b, syscallsEventKindEVENT_DATA, uint8(dir), flags, sock)
	return b
}

func bindRecord(sock, ssl uint64) []byte {
	b := make([]byte, bindSize)
	header(b, syscallsEventKindEVENT_TLS_BIND, 0, 0, sock)
	binary.NativeEndian.PutUint64(b[headerSize:], ssl)
	return b
}

// dnsRecord is an EVENT_DNS record of a response giving name the address
// addr, encoded by golang.org/x/net's dnsmessage, and standing for cut
// more bytes than it copied.
func dnsRecord(t testing.TB, name string, addr [4]byte, ttl uint32, cut int) []byte {
	t.Helper()
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{Response: true})
	b.EnableCompression()
	q := dnsmessage.Question{Name: dnsmessage.MustNewName(name), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}
	err := errors.Join(b.StartQuestions(), b.Question(q), b.StartAnswers(),
		b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: ttl}, dnsmessage.AResource{A: addr}))
	msg, ferr := b.Finish()
	if err = errors.Join(err, ferr); err != nil {
		t.Fatal(err)
	}
	rec := make([]byte, dnsSize)
	header(rec, syscallsEventKindEVENT_DNS, uint8(Recv), 0, 99)
	e := (*syscallsDnsEvent)(unsafe.Pointer(&rec[0]))
	e.Len, e.Copied = uint32(len(msg)+cut), uint32(copy(e.Data[:], msg))
	return rec
}

// TestDispatchDNSNamesConnections: a client connection to an address a DNS
// answer gave is named by it; the server end of a connection, whose peer
// is a client, is not.
func TestDispatchDNSNamesConnections(t *testing.T) {
	rec := &recorder{}
	e := newDispatchEngine(t, rec)
	e.dispatch(dnsRecord(t, "Cache.Example.", [4]byte{127, 0, 0, 1}, 60, 0))
	e.dispatch(dnsRecord(t, "other.example.", [4]byte{127, 0, 0, 2}, 60, 100))
	e.dispatch(openRecord(1, RoleClient))
	e.dispatch(openRecord(2, RoleServer))
	if len(rec.opened) != 2 {
		t.Fatalf("opened %d connections, want 2", len(rec.opened))
	}
	if got := rec.opened[0].ServerName; got != "cache.example" {
		t.Errorf("the client connection's server name %q, want cache.example", got)
	}
	if got := rec.opened[1].ServerName; got != "" {
		t.Errorf("the server connection's server name %q, want none", got)
	}
	if e.dnsCut != 1 || e.badEvents.Load() != 0 {
		t.Errorf("%d answers cut, %d bad events; want 1 and 0", e.dnsCut, e.badEvents.Load())
	}
	short := dnsRecord(t, "x.example.", [4]byte{1, 2, 3, 4}, 1, 0)
	(*syscallsDnsEvent)(unsafe.Pointer(&short[0])).Copied = 2000
	e.dispatch(short)
	e.dispatch(short[:dnsSize-1])
	if n := e.badEvents.Load(); n != 2 {
		t.Errorf("bad events %d, want 2", n)
	}
}

// TestDispatchDNSOverTCP: the answers a DNS server sends over TCP, each
// after its length, name their addresses; the kernel keeps copying the
// connection, which the handler refused, until a loss ends the reading.
func TestDispatchDNSOverTCP(t *testing.T) {
	e := newDispatchEngine(t, &refuser{})
	open := openRecord(1, RoleClient)
	(*syscallsEventHeader)(unsafe.Pointer(&open[0])).Tuple.Dport = 53
	e.dispatch(open)
	answer := dnsRecord(t, "tcp.example.", [4]byte{192, 0, 2, 53}, 60, 0)
	msg, _, err := decodeDNS(answer)
	if err != nil {
		t.Fatal(err)
	}
	framed := string(binary.BigEndian.AppendUint16(nil, uint16(len(msg)))) + string(msg)
	data := func(dir Direction, s string, lost uint32) []byte {
		r := dataEventRecord(1, dir, 0, s, lost)
		(*syscallsEventHeader)(unsafe.Pointer(&r[0])).Tuple.Dport = 53
		return r
	}
	e.dispatch(data(Send, "\x00\x1cquery", 0))
	e.dispatch(data(Recv, framed[:5], 0))
	e.dispatch(data(Recv, framed[5:], 0))
	if got := e.names.Name(netip.MustParseAddr("192.0.2.53"), e.clock.wall(1)); got != "tcp.example" {
		t.Errorf("the name of the address answered over TCP: %q, want tcp.example", got)
	}
	if got := policiesSet(e); len(got) != 0 {
		t.Errorf("policies %v while the answers were read; want none", got)
	}
	e.dispatch(data(Recv, "", 10))
	if got := policiesSet(e); len(got) != 1 || got[0].policy != syscallsConnPolicyPOLICY_COUNT {
		t.Errorf("policies %v after a loss; want count-only", got)
	}
}

func TestDispatchConnectionLifecycle(t *testing.T) {
	rec := &recorder{}
	e := newDispatchEngine(t, rec)
	e.dispatch(openRecord(1, RoleClient))
	e.dispatch(dataEventRecord(1, Send, 0, "GET / HTTP/1.1\r\n\r\n", 0))
	e.dispatch(dataEventRecord(1, Recv, 0, "HTTP/1.1 200 OK\r\n", 100))
	e.dispatch(closeRecord(1))
	e.dispatch(dataEventRecord(1, Send, 0, "late", 0))  // a write that completed after TCP closed
	e.dispatch(dataEventRecord(2, Recv, 0, "hello", 0)) // a connection opened before the engine

	if len(rec.opened) != 2 || len(rec.closed) != 1 {
		t.Fatalf("opened %d, closed %d; want 2 and 1 (no phantom for the late write)", len(rec.opened), len(rec.closed))
	}
	c := rec.opened[0]
	if c.Role != RoleClient || c.Process.ExeName != "myserver" || c.Local.String() != "127.0.0.1:40000" || c.Remote.String() != "127.0.0.1:8080" {
		t.Errorf("connection %+v", c)
	}
	if n := rec.wire(c); n != (byteCount{sent: 18, recv: 117, lost: 100}) {
		t.Errorf("counted %d sent, %d received, %d lost; want 18, 117, 100", n.sent, n.recv, n.lost)
	}
	if rec.opened[1].Role != RoleUnknown || e.conns.late != 1 {
		t.Errorf("second connection role %s, late events %d; want unknown and 1", rec.opened[1].Role, e.conns.late)
	}
}

// TestDispatchCloseWithUnreadBytes: TCP closed while the process had bytes
// to read (it half-closed, and the answer came with the peer's FIN). Its
// reads still belong to the connection, which ends once they are read, at
// the time TCP closed it; one that never reads them all ends after
// lateWindow.
func TestDispatchCloseWithUnreadBytes(t *testing.T) {
	rec := &recorder{}
	e := newDispatchEngine(t, rec)
	e.dispatch(openRecord(1, RoleClient))
	e.dispatch(dataEventRecord(1, Send, 0, "GET / HTTP/1.0\r\n\r\n", 0))
	b := closeRecord(1)
	(*syscallsCloseEvent)(unsafe.Pointer(&b[0])).Unread = 23
	e.dispatch(b)
	if len(rec.closed) != 0 || e.closing[1] == nil {
		t.Fatal("closed while 23 bytes were still to read")
	}
	closedAt := e.closing[1].closing.at
	e.dispatch(dataEventRecord(1, Recv, 0, "HTTP/1.0 200 OK\r\n", 0))
	if len(rec.closed) != 0 {
		t.Fatal("closed with 6 bytes still to read")
	}
	e.dispatch(dataEventRecord(1, Recv, 0, "\r\nabcd", 0))
	if len(rec.closed) != 1 || !rec.closed[0].Closed.Equal(closedAt) {
		t.Fatalf("closed %d connections; want 1, at the TCP close", len(rec.closed))
	}
	if n := rec.wire(rec.opened[0]); n.recv != 23 || e.conns.late != 0 {
		t.Errorf("received %d bytes, %d late; want 23 and none", n.recv, e.conns.late)
	}

	e.dispatch(openRecord(2, RoleClient))
	b = closeRecord(2)
	(*syscallsCloseEvent)(unsafe.Pointer(&b[0])).Unread = 10
	e.dispatch(b)
	for _, tr := range e.closing { // as the sweep does after lateWindow
		e.endClosing(tr, time.Now())
	}
	if len(rec.closed) != 2 || len(e.closing) != 0 {
		t.Errorf("closed %d, closing %d; want the unread connection ended", len(rec.closed), len(e.closing))
	}
}

func TestDispatchUnboundPlaintext(t *testing.T) {
	rec := &recorder{}
	e := newDispatchEngine(t, rec)
	const ssl = 0x5500
	e.dispatch(openRecord(7, RoleClient))
	// node: SSL_write returns before the library touched its socket.
	e.dispatch(dataEventRecord(ssl, Send, uint8(syscallsEventFlagFLAG_TLS_PLAINTEXT|syscallsEventFlagFLAG_TLS_UNBOUND), "GET /secret HTTP/1.1\r\n\r\n", 0))
	if len(rec.tls) != 0 {
		t.Fatal("unbound plaintext was delivered before its socket was known")
	}
	e.dispatch(bindRecord(7, ssl))
	c := rec.opened[0]
	if got := string(rec.tls[c][Send]); got != "GET /secret HTTP/1.1\r\n\r\n" || !c.TLS {
		t.Errorf("after the bind: plaintext %q, TLS %v", got, c.TLS)
	}
	if e.unbound.bytes != 0 || rec.wire(c).sent != 0 {
		t.Errorf("%d bytes still held; %d counted as wire bytes (plaintext is not wire bytes)", e.unbound.bytes, rec.wire(c).sent)
	}
}

func TestDispatchTLSHello(t *testing.T) {
	rec := &recorder{}
	e := newDispatchEngine(t, rec)
	client, server := handshakeBytes(t, 0)
	e.dispatch(openRecord(3, RoleClient))
	tr := e.conns.lookup(3, e.clock.wall(1))
	e.stopCopying(tr) // asked before the hellos: must wait for them
	// The ClientHello in two pieces, as a reader of the record header first
	// would see it.
	e.dispatch(dataEventRecord(3, Send, 0, string(client[:5]), 0))
	e.dispatch(dataEventRecord(3, Send, 0, string(client[5:]), 0))
	if got := policiesSet(e); len(got) != 0 {
		t.Errorf("policies %v set before the ServerHello was read", got)
	}
	e.dispatch(dataEventRecord(3, Recv, 0, string(server), 0))
	c := rec.opened[0]
	if !c.TLS || c.TLSServerName != "example.test" || c.TLSVersion != "1.3" {
		t.Errorf("TLS %v, server name %q, version %q", c.TLS, c.TLSServerName, c.TLSVersion)
	}
	if tr.scanningHello() {
		t.Error("still scanning after both hellos")
	}
	if got := policiesSet(e); len(got) != 1 || got[0].sock != 3 || got[0].policy != syscallsConnPolicyPOLICY_COUNT {
		t.Errorf("policies %v; want count-only for sock 3, once, after the hellos", got)
	}
}

// TestDispatchPayloadRefused checks that a Handler's Data returning false
// stops the copying, once, for wire bytes and for plaintext held for its
// socket, and that the request waits for the other direction's first bytes
// (which may hold a TLS hello).
func TestDispatchPayloadRefused(t *testing.T) {
	rec := &refuser{}
	e := newDispatchEngine(t, rec)
	e.dispatch(openRecord(1, RoleClient))
	e.dispatch(dataEventRecord(1, Send, 0, "SSH-2.0-OpenSSH_9.2\r\n", 0))
	tr := e.conns.peek(1)
	if !tr.countOnly || len(policiesSet(e)) != 0 {
		t.Fatalf("after the first refused segment: asked %v, policies %v; want asked and none yet", tr.countOnly, policiesSet(e))
	}
	e.dispatch(dataEventRecord(1, Recv, 0, "SSH-2.0-other\r\n", 0))
	e.dispatch(dataEventRecord(1, Send, 0, "more", 0))
	if got := policiesSet(e); len(got) != 1 || got[0].sock != 1 || got[0].policy != syscallsConnPolicyPOLICY_COUNT {
		t.Errorf("policies %v; want count-only for sock 1, once", got)
	}
	// Named by its ports too, so that the kernel applies it to this
	// connection only, not to the next one on the same socket.
	if got := policiesSet(e)[0]; got.sport != 40000 || got.dport != 8080 {
		t.Errorf("the policy names ports %d → %d, want the connection's 40000 → 8080", got.sport, got.dport)
	}

	// Plaintext held until its socket was known, then refused.
	const ssl = 0x5500
	e.dispatch(openRecord(7, RoleClient))
	e.dispatch(dataEventRecord(ssl, Send, uint8(syscallsEventFlagFLAG_TLS_PLAINTEXT|syscallsEventFlagFLAG_TLS_UNBOUND), "GET / HTTP/1.1\r\n\r\n", 0))
	e.dispatch(bindRecord(7, ssl))
	if tr := e.conns.peek(7); tr == nil || !tr.countOnly {
		t.Error("plaintext refused at its bind did not ask to stop copying")
	}
}

// TestDispatchCountedBytes checks that the wire bytes the kernel counted
// for a count-only connection reach the handler once each: what a sweep
// read, then the rest from the close event, before the close.
func TestDispatchCountedBytes(t *testing.T) {
	rec := &refuser{}
	e := newDispatchEngine(t, rec)
	e.dispatch(openRecord(1, RoleClient))
	e.dispatch(dataEventRecord(1, Send, 0, "SSH-2.0-OpenSSH_9.2\r\n", 0)) // 21 bytes, refused
	e.dispatch(dataEventRecord(1, Recv, 0, "SSH-2.0-other\r\n", 0))       // 15
	tr := e.conns.peek(1)
	now := e.clock.wall(2)
	e.deliverCounted(tr, wireCount{sent: 1000}, now) // as a sweep would
	e.deliverCounted(tr, wireCount{sent: 1000}, now) // nothing new
	c := rec.opened[0]
	if n := rec.wire(c); n != (byteCount{sent: 1021, recv: 15, lost: 1000}) {
		t.Errorf("after a sweep: %+v; want 1021 sent, 15 received, 1000 not copied", n)
	}
	e.dispatch(countedCloseRecord(1, 1500, 4000))
	if n := rec.wire(c); n != (byteCount{sent: 1521, recv: 4015, lost: 5500}) {
		t.Errorf("after the close: %+v; want 1521 sent, 4015 received, 5500 not copied", n)
	}
	if len(rec.closed) != 1 {
		t.Errorf("closed %d; want 1", len(rec.closed))
	}
	short := countedCloseRecord(2, 1, 1)
	e.dispatch(short[:closeSize-1])
	if n := e.badEvents.Load(); n != 1 {
		t.Errorf("bad events %d after a short close record, want 1", n)
	}
}

func TestDispatchProcessExitClosesItsConnections(t *testing.T) {
	rec := &recorder{}
	e := newDispatchEngine(t, rec)
	e.dispatch(openRecord(1, RoleServer))
	exit := make([]byte, headerSize)
	header(exit, syscallsEventKindEVENT_PROC_EXIT, 0, 0, 0)
	e.dispatch(exit)
	if len(rec.closed) != 1 || e.conns.len() != 0 {
		t.Errorf("after the process exited: %d closed, %d tracked", len(rec.closed), e.conns.len())
	}
}

func TestDispatchBadRecords(t *testing.T) {
	e := newDispatchEngine(t, &recorder{})
	e.dispatch([]byte{1, 2, 3})
	b := make([]byte, headerSize)
	b[0] = 99
	e.dispatch(b)
	short := dataEventRecord(1, Send, 0, "x", 0)
	e.dispatch(short[:dataHeaderSize-1])
	if n := e.badEvents.Load(); n != 3 {
		t.Errorf("bad events %d, want 3", n)
	}
}

// FuzzDispatch feeds the engine arbitrary ring-buffer records, as a kernel
// bug or a mismatch between the BPF objects and this code could: the engine
// must never panic, and a record it cannot decode is counted. A stream is a
// series of records, each after a 2-byte little-endian length.
func FuzzDispatch(f *testing.F) {
	var seed []byte
	for _, r := range [][]byte{
		openRecord(1, RoleClient),
		dataEventRecord(1, Send, 0, "GET / HTTP/1.1\r\n\r\n", 0),
		dataEventRecord(1, Recv, 0, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 3),
		bindRecord(1, 0xdead),
		dnsRecord(f, "db.example.", [4]byte{127, 0, 0, 1}, 30, 0),
		countedCloseRecord(1, 10, 20),
	} {
		seed = binary.LittleEndian.AppendUint16(seed, uint16(len(r)))
		seed = append(seed, r...)
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, stream []byte) {
		e := newDispatchEngine(t, &recorder{})
		records := 0
		for len(stream) >= 2 {
			n := min(int(binary.LittleEndian.Uint16(stream)), len(stream)-2)
			// A copy, 8-byte aligned as the kernel's ring buffer records are.
			rec := append(make([]byte, 0, n+8), stream[2:2+n]...)
			stream = stream[2+n:]
			e.dispatch(rec)
			records++
		}
		if bad := e.badEvents.Load(); bad > uint64(records) {
			t.Errorf("%d bad events counted for %d records", bad, records)
		}
	})
}

// TestDispatchLostAtTheEnd checks that the bytes a close event says were
// lost at the end of each stream reach the handler before the close.
func TestDispatchLostAtTheEnd(t *testing.T) {
	rec := &recorder{}
	e := newDispatchEngine(t, rec)
	e.dispatch(openRecord(1, RoleClient))
	e.dispatch(dataEventRecord(1, Send, 0, "GET / HTTP/1.1\r\n\r\n", 0))
	b := closeRecord(1)
	ce := (*syscallsCloseEvent)(unsafe.Pointer(&b[0]))
	ce.LostSent, ce.LostRecv = 30, 4000
	e.dispatch(b)
	if len(rec.closed) != 1 {
		t.Fatalf("closed %d; want 1", len(rec.closed))
	}
	if n := rec.wire(rec.opened[0]); n != (byteCount{sent: 48, recv: 4000, lost: 4030}) {
		t.Errorf("counted %+v; want 48 sent, 4000 received, 4030 lost", n)
	}
}

// TestDispatchReusedSockAfterLostOpen checks that an event on a sock closed a
// moment ago is taken for a new connection, not a late one, when its ports
// differ: the new connection's open event was dropped.
func TestDispatchReusedSockAfterLostOpen(t *testing.T) {
	rec := &recorder{}
	e := newDispatchEngine(t, rec)
	e.dispatch(openRecord(1, RoleClient))
	e.dispatch(closeRecord(1))
	b := dataEventRecord(1, Recv, 0, "HTTP/1.1 200 OK\r\n", 0)
	(*syscallsEventHeader)(unsafe.Pointer(&b[0])).Tuple.Sport = 40001 // another connection
	e.dispatch(b)
	if len(rec.opened) != 2 || rec.opened[1].Local.Port() != 40001 || rec.opened[1].Role != RoleUnknown {
		t.Fatalf("opened %d connections; want the closed one and a new one from port 40001", len(rec.opened))
	}
	if n := rec.wire(rec.opened[1]); n.recv != 17 {
		t.Errorf("new connection received %d bytes; want 17", n.recv)
	}
}

// TestDispatchLostPeer checks that the other direction's lost bytes an
// event carries reach the handler before the event's own.
func TestDispatchLostPeer(t *testing.T) {
	var order []string
	rec := &orderRecorder{order: &order}
	e := newDispatchEngine(t, rec)
	e.dispatch(openRecord(1, RoleClient))
	b := dataEventRecord(1, Recv, 0, "HTTP/1.1 200 OK\r\n", 0)
	binary.NativeEndian.PutUint32(b[offLostPeer:], 500)
	e.dispatch(b)
	if want := "send lost 500,recv 17"; strings.Join(order, ",") != want {
		t.Errorf("segments %q; want %q", strings.Join(order, ","), want)
	}
}

// orderRecorder notes the segments it is given, in order.
type orderRecorder struct {
	recorder
	order *[]string
}

func (r *orderRecorder) Data(c *Conn, s Segment) bool {
	if len(s.Data) > 0 {
		*r.order = append(*r.order, fmt.Sprintf("%v %d", s.Dir, len(s.Data)))
	} else {
		*r.order = append(*r.order, fmt.Sprintf("%v lost %d", s.Dir, s.Lost))
	}
	return r.recorder.Data(c, s)
}
