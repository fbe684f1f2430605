package tap

import (
	"net/netip"
	"time"

	"github.com/ebpftap/ebpftap/internal/capture"
	"github.com/ebpftap/ebpftap/internal/httpparse"
	"github.com/ebpftap/ebpftap/internal/wireproto"
)

// Conn is what a Tap knows of a connection: a copy of the engine's facts with
// the role and TLS mark the traffic showed. A Conn is never modified once a
// Tap hands it out; when a fact changes, the Tap makes a new Conn.
type Conn struct {
	ID      uint64 // the engine's connection id, unique while it runs
	Process *capture.Process
	Role    capture.Role
	Local   netip.AddrPort
	Remote  netip.AddrPort
	Opened  time.Time
	Closed  time.Time // zero until the copy made at the close

	// Protocol is the application protocol, named from the first bytes each
	// end sent (the TLS plaintext's once a TLS library speaks); Unknown
	// until they tell it.
	Protocol wireproto.Protocol

	TLS           bool   // a TLS handshake was seen, or plaintext came from a TLS library
	TLSServerName string // SNI of the ClientHello
	TLSVersion    string // chosen by the ServerHello: "1.2", "1.3"
	TLSLibrary    string // the library whose plaintext was captured: "openssl", "gnutls", "go"

	// ServerName is the name a DNS answer gave the server's address before
	// the connection opened (capture.Conn.ServerName); empty when none is
	// known, and when the process is the server.
	ServerName string

	// remoteAddr is RemoteAddr's text, made once per connection by the Tap.
	remoteAddr string
}

// RemoteAddr returns Remote's address as text, an IPv4-mapped IPv6 address
// as IPv4; "" when it is not valid. The Tap formats it once per connection
// and every copy of the facts keeps it: formatting it for each
// transaction's telemetry took 2 of the 100 allocations per request at
// level summary (BenchmarkPipeline).
func (f *Conn) RemoteAddr() string {
	if f.remoteAddr != "" {
		return f.remoteAddr
	}
	return addrText(f.Remote)
}

func addrText(ap netip.AddrPort) string {
	if !ap.Addr().IsValid() {
		return ""
	}
	return ap.Addr().Unmap().String()
}

// Exchange is one finished HTTP transaction and the connection it travelled
// on, as the connection was when the transaction finished.
type Exchange struct {
	Conn *Conn
	Tx   *httpparse.Transaction
	// Seq numbers the connection's transactions in the order its parser
	// finished them, from 1, when the connection was followed from its
	// start; 0 when it was first seen mid-way, so that numbers on the two
	// ends of a connection agree whenever both are set.
	Seq uint64
	// Peer is the ID of the other end of the connection when this host's
	// capture follows it too (a client and a server on one host), else 0.
	Peer uint64
}

// endpoints name a connection by its two ends, seen from one process; the
// other end of the connection sees them swapped.
type endpoints struct {
	local, remote netip.AddrPort
}

// factsOf copies the engine's facts of c, with the role and protocol given.
func factsOf(c *capture.Conn, role capture.Role, tls bool, protocol wireproto.Protocol) *Conn {
	serverName := c.ServerName
	if role == capture.RoleServer {
		serverName = "" // looked up for the peer, taken for the server: it is not
	}
	return &Conn{
		ID:            c.ID,
		Process:       c.Process,
		Role:          role,
		Opened:        c.Opened,
		Closed:        c.Closed,
		Protocol:      protocol,
		Local:         c.Local,
		Remote:        c.Remote,
		TLS:           c.TLS || tls,
		TLSServerName: c.TLSServerName,
		TLSVersion:    c.TLSVersion,
		TLSLibrary:    c.TLSLibrary,
		ServerName:    serverName,
	}
}

// stale reports whether the engine learnt a TLS fact of c since f was made.
// Only TLS facts change during a connection's life.
func (f *Conn) stale(c *capture.Conn) bool {
	return c.TLS && !f.TLS || c.TLSServerName != f.TLSServerName ||
		c.TLSVersion != f.TLSVersion || c.TLSLibrary != f.TLSLibrary
}
