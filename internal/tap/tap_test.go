package tap

import (
	"net/netip"
	"testing"
	"time"

	"github.com/ebpftap/ebpftap/internal/capture"
	"github.com/ebpftap/ebpftap/internal/wireproto"
)

// recordingSink keeps what a Tap hands over.
type recordingSink struct {
	opened    []*Conn
	exchanges []Exchange
	closed    []*Conn
	io        []IO
}

func (s *recordingSink) ConnOpened(c *Conn)  { s.opened = append(s.opened, c) }
func (s *recordingSink) Exchange(x Exchange) { s.exchanges = append(s.exchanges, x) }
func (s *recordingSink) ConnClosed(c *Conn, io IO) {
	s.closed, s.io = append(s.closed, c), append(s.io, io)
}

const (
	request  = "GET /a HTTP/1.1\r\nHost: example.test\r\n\r\n"
	response = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
)

var t0 = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

func newConn(role capture.Role) *capture.Conn {
	return &capture.Conn{
		ID: 1, Process: &capture.Process{PID: 42, ExePath: "/usr/bin/curl"}, Role: role,
		Local:  netip.MustParseAddrPort("10.0.0.5:51000"),
		Remote: netip.MustParseAddrPort("10.0.0.9:80"),
	}
}

func seg(dir capture.Direction, data string, tls bool) capture.Segment {
	return capture.Segment{Dir: dir, Time: t0, Data: []byte(data), TLS: tls}
}

func TestTapExchange(t *testing.T) {
	sink := &recordingSink{}
	tp := New(Config{Filter: Filter{Direction: All}}, sink)
	c := newConn(capture.RoleClient)
	if !tp.ConnOpened(c) {
		t.Fatal("a client connection was not followed")
	}
	for _, s := range []capture.Segment{seg(capture.Send, request, false), seg(capture.Recv, response, false)} {
		if !tp.Data(c, s) {
			t.Fatalf("the tap refused the payload of an HTTP connection at %q", s.Data)
		}
	}
	c.Closed = t0
	tp.ConnClosed(c)

	if len(sink.exchanges) != 1 {
		t.Fatalf("%d exchanges, want 1", len(sink.exchanges))
	}
	x := sink.exchanges[0]
	if x.Tx.Request.Target != "/a" || x.Tx.Response == nil || x.Tx.Response.StatusCode != 200 {
		t.Errorf("exchange %+v", x.Tx)
	}
	if x.Conn.ID != 1 || x.Conn.Role != capture.RoleClient || x.Conn.Process != c.Process || x.Conn.Remote != c.Remote {
		t.Errorf("exchange's connection %+v", x.Conn)
	}
	want := IO{Sent: uint64(len(request)), Recv: uint64(len(response))}
	if len(sink.opened) != 1 || len(sink.closed) != 1 || sink.io[0] != want {
		t.Errorf("opened %d, closed %d, io %+v; want one each and %+v", len(sink.opened), len(sink.closed), sink.io, want)
	}
}

// TestTapRoleFromTraffic checks a connection first seen mid-way takes the
// role of the end that sends a request line, and is then filtered by it.
func TestTapRoleFromTraffic(t *testing.T) {
	for _, tc := range []struct {
		name      string
		direction Direction
		reqDir    capture.Direction
		wantRole  capture.Role
		followed  bool
	}{
		{"client, egress", Egress, capture.Send, capture.RoleClient, true},
		{"server, ingress", Ingress, capture.Recv, capture.RoleServer, true},
		{"server, egress", Egress, capture.Recv, capture.RoleServer, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := &recordingSink{}
			tp := New(Config{Filter: Filter{Direction: tc.direction}}, sink)
			c := newConn(capture.RoleUnknown)
			if !tp.ConnOpened(c) {
				t.Fatal("a connection of unknown role was not followed")
			}
			respDir := capture.Send + capture.Recv - tc.reqDir
			if !tp.Data(c, seg(respDir, "tail of something earlier", false)) {
				t.Error("bytes before the role is known were refused")
			}
			if got := tp.Data(c, seg(tc.reqDir, request, false)); got != tc.followed {
				t.Errorf("payload wanted = %v, want %v", got, tc.followed)
			}
			tp.Data(c, seg(respDir, response, false))
			tp.ConnClosed(c)
			if !tc.followed {
				if len(sink.exchanges) != 0 {
					t.Errorf("%d exchanges of a connection the direction rules out", len(sink.exchanges))
				}
				return
			}
			if len(sink.exchanges) != 1 || sink.exchanges[0].Conn.Role != tc.wantRole {
				t.Fatalf("exchanges %+v, want one with role %s", sink.exchanges, tc.wantRole)
			}
			if sink.opened[0].Role != capture.RoleUnknown {
				t.Errorf("the Conn handed out at open changed: role %s", sink.opened[0].Role)
			}
		})
	}
}

// TestTapNotHTTP checks the tap asks the engine to stop copying a
// connection that is not HTTP, and keeps counting its bytes.
func TestTapNotHTTP(t *testing.T) {
	sink := &recordingSink{}
	tp := New(Config{Filter: Filter{Direction: All}}, sink)
	c := newConn(capture.RoleClient)
	tp.ConnOpened(c)
	if tp.Data(c, seg(capture.Send, "SSH-2.0-OpenSSH_9.2\r\n", false)) {
		t.Error("the payload of an SSH connection was still wanted")
	}
	if tp.Data(c, capture.Segment{Dir: capture.Recv, Time: t0, Lost: 100}) {
		t.Error("a later segment was wanted again")
	}
	tp.ConnClosed(c)
	if len(sink.exchanges) != 0 || sink.io[0] != (IO{Sent: 21, Recv: 100}) {
		t.Errorf("exchanges %d, io %+v", len(sink.exchanges), sink.io[0])
	}
	if p := sink.closed[0].Protocol; p != wireproto.SSH {
		t.Errorf("the closed connection's protocol is %q, want ssh", p)
	}
}

// TestTapProtocols checks each connection is named from its first bytes,
// a TLS one from its plaintext once a library speaks, and one whose bytes
// fit no signature is other by its close.
func TestTapProtocols(t *testing.T) {
	for _, tc := range []struct {
		name string
		segs []capture.Segment
		want wireproto.Protocol
	}{
		{"http", []capture.Segment{seg(capture.Send, request, false), seg(capture.Recv, response, false)}, wireproto.HTTP},
		{"redis", []capture.Segment{seg(capture.Send, "*1\r\n$4\r\nPING\r\n", false)}, wireproto.Redis},
		{"mysql, the server first", []capture.Segment{seg(capture.Recv, "\x4a\x00\x00\x00\x0a8.0.36\x00", false)}, wireproto.MySQL},
		{"tls, no library", []capture.Segment{seg(capture.Send, "\x16\x03\x01\x00\x05hello", false)}, wireproto.TLS},
		{"tls, then plaintext", []capture.Segment{seg(capture.Send, "\x16\x03\x01\x00\x05hello", false), seg(capture.Send, request, true)}, wireproto.HTTP},
		{"a method cut short, then the close", []capture.Segment{seg(capture.Send, "GE", false)}, wireproto.Other},
		{"no byte at all", nil, wireproto.Unknown},
	} {
		sink := &recordingSink{}
		tp := New(Config{Filter: Filter{Direction: All}}, sink)
		c := newConn(capture.RoleClient)
		tp.ConnOpened(c)
		for _, s := range tc.segs {
			tp.Data(c, s)
		}
		tp.ConnClosed(c)
		if got := sink.closed[0].Protocol; got != tc.want {
			t.Errorf("%s: protocol %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestTapTLS checks the switch to TLS plaintext: the handshake's wire bytes
// are counted, not parsed, and the exchanges carry the TLS facts the engine
// learnt, in copies that later facts do not change.
func TestTapTLS(t *testing.T) {
	sink := &recordingSink{}
	tp := New(Config{Filter: Filter{Direction: All}}, sink)
	c := newConn(capture.RoleClient)
	tp.ConnOpened(c)
	// The ClientHello: not HTTP, but the tap must not give up the
	// connection once a TLS library speaks.
	hello := "\x16\x03\x01\x00\x05hello"
	if tp.Data(c, seg(capture.Send, hello, false)) {
		t.Error("the handshake's payload was wanted")
	}
	c.TLS, c.TLSServerName, c.TLSVersion = true, "example.test", "1.3" // the engine read the hellos
	c.TLSLibrary = "openssl"
	if !tp.Data(c, seg(capture.Send, request, true)) {
		t.Error("the TLS plaintext was refused")
	}
	tp.Data(c, seg(capture.Send, "\x17\x03\x03 ciphertext", false))
	tp.Data(c, seg(capture.Recv, response, true))
	c.TLSVersion = "1.2" // a later fact: the exchange already out keeps its own
	tp.Data(c, seg(capture.Send, request, true))
	tp.Data(c, seg(capture.Recv, response, true))
	tp.ConnClosed(c)

	if len(sink.exchanges) != 2 {
		t.Fatalf("%d exchanges, want 2", len(sink.exchanges))
	}
	first, second := sink.exchanges[0].Conn, sink.exchanges[1].Conn
	if !first.TLS || first.TLSServerName != "example.test" || first.TLSVersion != "1.3" || first.TLSLibrary != "openssl" {
		t.Errorf("first exchange's connection %+v", first)
	}
	if second.TLSVersion != "1.2" || first == second {
		t.Errorf("second exchange: version %q, same Conn as the first: %v", second.TLSVersion, first == second)
	}
	wire := uint64(len(hello) + len("\x17\x03\x03 ciphertext"))
	if sink.io[0] != (IO{Sent: wire}) {
		t.Errorf("io %+v, want only the wire bytes (%d sent)", sink.io[0], wire)
	}
}

func TestTapIO(t *testing.T) {
	sink := &recordingSink{}
	tp := New(Config{Filter: Filter{Direction: All}}, sink)
	c := newConn(capture.RoleClient)
	tp.ConnOpened(c)
	tp.Data(c, seg(capture.Send, request, false))
	var got []IO
	tp.IO(func(_ *Conn, io IO) { got = append(got, io) })
	tp.IO(func(_ *Conn, io IO) { got = append(got, io) })
	if len(got) != 2 || got[0] != (IO{Sent: uint64(len(request))}) || got[1] != (IO{}) {
		t.Errorf("IO calls gave %+v; want the request's bytes once", got)
	}
	tp.ConnClosed(c)
	tp.IO(func(*Conn, IO) { t.Error("a closed connection is still reported") })
}

func TestTapIgnores(t *testing.T) {
	tp := New(Config{Filter: Filter{Direction: All, IgnoreLoopback: true}}, &recordingSink{})
	c := newConn(capture.RoleClient)
	c.Remote = netip.MustParseAddrPort("127.0.0.1:80")
	if tp.ConnOpened(c) {
		t.Error("a loopback connection was followed")
	}
}

// TestTapPeers checks that the two ends of one connection on this host name
// each other in their exchanges and number their transactions alike, and
// that a connection seen mid-way is not numbered.
func TestTapPeers(t *testing.T) {
	sink := &recordingSink{}
	tp := New(Config{Filter: Filter{Direction: All}}, sink)
	client := newConn(capture.RoleClient)
	server := &capture.Conn{
		ID: 2, Process: &capture.Process{PID: 80, ExePath: "/usr/sbin/nginx"}, Role: capture.RoleServer,
		Local: client.Remote, Remote: client.Local,
	}
	// A connection of another process between other ends, seen mid-way.
	other := &capture.Conn{
		ID: 3, Process: client.Process,
		Local:  netip.MustParseAddrPort("10.0.0.5:51001"),
		Remote: netip.MustParseAddrPort("10.0.0.9:80"),
	}
	for _, c := range []*capture.Conn{client, server, other} {
		if !tp.ConnOpened(c) {
			t.Fatalf("connection %d not followed", c.ID)
		}
	}
	for range 2 {
		tp.Data(client, seg(capture.Send, request, false))
		tp.Data(server, seg(capture.Recv, request, false))
		tp.Data(server, seg(capture.Send, response, false))
		tp.Data(client, seg(capture.Recv, response, false))
	}
	tp.Data(other, seg(capture.Send, request, false))
	tp.Data(other, seg(capture.Recv, response, false))
	tp.ConnClosed(client)
	// The server's last exchange ends with its close, after the client's:
	// the client is no longer followed then, so it is not named.
	tp.Data(server, seg(capture.Recv, request, false))
	tp.Data(server, seg(capture.Send, "HTTP/1.0 200 OK\r\n\r\nbye", false))
	server.Closed = t0
	tp.ConnClosed(server)

	type got struct {
		conn uint64
		seq  uint64
		peer uint64
	}
	var all []got
	for _, x := range sink.exchanges {
		all = append(all, got{x.Conn.ID, x.Seq, x.Peer})
	}
	want := []got{
		{2, 1, 1}, {1, 1, 2}, // server then client: the server finishes first
		{2, 2, 1}, {1, 2, 2},
		{3, 0, 0}, // seen mid-way: no number, and no peer followed
		{2, 3, 0},
	}
	if len(all) != len(want) {
		t.Fatalf("exchanges (conn, seq, peer) %v, want %v", all, want)
	}
	for i := range want {
		if all[i] != want[i] {
			t.Errorf("exchange %d: (conn, seq, peer) %v, want %v", i, all[i], want[i])
		}
	}
	if len(tp.byEnds) != 1 {
		t.Errorf("%d connections still indexed by their ends after two closed, want 1", len(tp.byEnds))
	}
}

// TestTapBodyBudget: two uploads at once on a tap whose budget holds one
// body. The second is cut and marked; the bytes come back as each exchange
// is handed over, and when a TLS switch drops a parser in the middle of a
// body.
func TestTapBodyBudget(t *testing.T) {
	sink := &recordingSink{}
	tp := New(Config{Filter: Filter{Direction: All}, MaxBodyBytes: 100, MaxBufferedBodyBytes: 150}, sink)
	head := "POST /up HTTP/1.1\r\nHost: example.test\r\nContent-Length: 100\r\n\r\n"
	a, b := newConn(capture.RoleClient), newConn(capture.RoleClient)
	b.ID, b.Local = 2, netip.MustParseAddrPort("10.0.0.5:51001")
	for _, c := range []*capture.Conn{a, b} {
		tp.ConnOpened(c)
		tp.Data(c, seg(capture.Send, head+"0123456789", false))
	}
	if got := tp.BufferedBodyBytes(); got != 150 {
		t.Fatalf("buffered %d body bytes, want the budget's 150", got)
	}
	for _, c := range []*capture.Conn{a, b} {
		tp.Data(c, seg(capture.Send, string(make([]byte, 90)), false))
	}
	for _, c := range []*capture.Conn{a, b} {
		// No body: a full budget would cut it too.
		tp.Data(c, seg(capture.Recv, "HTTP/1.1 204 No Content\r\n\r\n", false))
	}
	if got := tp.BufferedBodyBytes(); got != 0 {
		t.Fatalf("buffered %d body bytes after both exchanges were handed over", got)
	}
	if len(sink.exchanges) != 2 {
		t.Fatalf("%d exchanges, want 2", len(sink.exchanges))
	}
	first, second := sink.exchanges[0].Tx.Request, sink.exchanges[1].Tx.Request
	if len(first.Body) != 100 || first.BodyOverBudget || len(second.Body) != 50 || !second.BodyOverBudget || !second.BodyTruncated {
		t.Fatalf("kept %d and %d bytes, over budget %v and %v; want 100, and 50 marked", len(first.Body), len(second.Body),
			first.BodyOverBudget, second.BodyOverBudget)
	}
	if n := tp.ParserStats().BodyOverBudget.Load(); n != 1 {
		t.Fatalf("BodyOverBudget = %d, want 1", n)
	}

	// A TLS library speaks in the middle of a plaintext body: the old
	// parser's exchange is handed over, incomplete, with its bytes.
	tp.Data(a, seg(capture.Send, head+"0123456789", false))
	if tp.BufferedBodyBytes() == 0 {
		t.Fatal("no body bytes buffered for a body in progress")
	}
	tp.Data(a, seg(capture.Send, request, true))
	if got := tp.BufferedBodyBytes(); got != 0 {
		t.Fatalf("buffered %d body bytes after the TLS switch", got)
	}
	if len(sink.exchanges) != 3 || !sink.exchanges[2].Tx.Request.Incomplete {
		t.Fatalf("%d exchanges; want a third, incomplete", len(sink.exchanges))
	}
	tp.ConnClosed(a)
	tp.ConnClosed(b)
	if got := tp.BufferedBodyBytes(); got != 0 {
		t.Fatalf("buffered %d body bytes after the connections closed", got)
	}
}

// TestTapServerName: the name DNS gave the peer's address is every copy's
// while the process is the client, and no copy's once the traffic shows the
// process is the server (the engine looked the peer up for a connection of
// unknown role).
func TestTapServerName(t *testing.T) {
	for _, tc := range []struct {
		role  capture.Role
		first capture.Direction
		want  string
	}{
		{capture.RoleClient, capture.Send, "api.example.test"},
		{capture.RoleUnknown, capture.Send, "api.example.test"},
		{capture.RoleUnknown, capture.Recv, ""},
	} {
		sink := &recordingSink{}
		tp := New(Config{Filter: Filter{Direction: All}}, sink)
		c := newConn(tc.role)
		c.ServerName = "api.example.test"
		tp.ConnOpened(c)
		tp.Data(c, seg(tc.first, request, false))
		other := capture.Recv
		if tc.first == capture.Recv {
			other = capture.Send
		}
		tp.Data(c, seg(other, response, false))
		c.Closed = t0
		tp.ConnClosed(c)
		if len(sink.exchanges) != 1 || len(sink.closed) != 1 {
			t.Fatalf("role %s, request %s: %d exchanges, %d closed; want 1 each", tc.role, tc.first, len(sink.exchanges), len(sink.closed))
		}
		if got := sink.exchanges[0].Conn.ServerName; got != tc.want {
			t.Errorf("role %s, request %s: the exchange's server name %q, want %q", tc.role, tc.first, got, tc.want)
		}
		if got := sink.closed[0].ServerName; got != tc.want {
			t.Errorf("role %s, request %s: the closed connection's server name %q, want %q", tc.role, tc.first, got, tc.want)
		}
	}
}

// TestTapRemoteAddr checks that every copy of a connection's facts carries
// its peer's address as text, made once, an IPv4-mapped address as IPv4.
func TestTapRemoteAddr(t *testing.T) {
	sink := &recordingSink{}
	tp := New(Config{Filter: Filter{Direction: All}}, sink)
	c := newConn(capture.RoleClient)
	c.Remote = netip.MustParseAddrPort("[::ffff:10.0.0.9]:80")
	tp.ConnOpened(c)
	tp.Data(c, seg(capture.Send, request, false))
	tp.Data(c, seg(capture.Recv, response, false))
	c.TLSVersion = "1.3" // a new copy of the facts
	tp.Data(c, seg(capture.Send, request, false))
	tp.Data(c, seg(capture.Recv, response, false))
	tp.ConnClosed(c)

	facts := append(append([]*Conn{}, sink.opened...), sink.closed...)
	for _, x := range sink.exchanges {
		facts = append(facts, x.Conn)
	}
	if len(facts) != 4 || facts[2] == facts[3] {
		t.Fatalf("%d copies of the facts, the exchanges' the same: %v; want 4, two for the exchanges", len(facts), facts[2] == facts[3])
	}
	for i, f := range facts {
		if f.remoteAddr != "10.0.0.9" || f.RemoteAddr() != "10.0.0.9" {
			t.Errorf("copy %d: RemoteAddr() %q, made once %q; want 10.0.0.9", i, f.RemoteAddr(), f.remoteAddr)
		}
	}
	if got := (&Conn{}).RemoteAddr(); got != "" {
		t.Errorf("RemoteAddr() of a connection with no remote address = %q, want empty", got)
	}
}
