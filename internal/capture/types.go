package capture

import (
	"net/netip"
	"time"
)

// Role says which end of a TCP connection the observed process is.
type Role uint8

const (
	RoleUnknown Role = iota // seen mid-connection: neither connect nor accept was observed
	RoleClient              // the process called connect
	RoleServer              // the process accepted the connection
)

func (r Role) String() string {
	switch r {
	case RoleClient:
		return "client"
	case RoleServer:
		return "server"
	}
	return "unknown"
}

// Direction is the way bytes moved, seen from the process that owns the socket.
type Direction uint8

const (
	Send Direction = iota + 1 // written by the process
	Recv                      // read by the process
)

func (d Direction) String() string {
	if d == Send {
		return "send"
	}
	return "recv"
}

// Process describes a process on the host. A Process is shared and must not be
// modified by consumers.
type Process struct {
	PID         int
	ParentPID   int
	StartTime   uint64 // clock ticks after boot (/proc/<pid>/stat field 22); with PID it names one process
	ExePath     string
	ExeName     string
	CommandLine string
	Args        []string
	UID         uint32
	Owner       string // user name of UID, or the number when it has none
	ContainerID string // from /proc/<pid>/cgroup, empty outside containers
	ServiceName string // OTEL_SERVICE_NAME from the environment, else ExeName
}

// Conn is one TCP connection as seen by one process. The engine's goroutine
// owns it and sets the TLS fields as it learns them, and Closed at the end,
// between Handler calls. A Handler may read it during its calls and use the
// pointer as the connection's identity, but must copy what other goroutines
// are to read, and must not modify it.
type Conn struct {
	ID      uint64 // unique for the engine's lifetime, never reused
	Process *Process
	Role    Role
	Local   netip.AddrPort
	Remote  netip.AddrPort
	Opened  time.Time
	Closed  time.Time // zero while open

	TLS           bool   // a TLS handshake was seen, or plaintext came from a TLS library
	TLSServerName string // SNI of the ClientHello
	TLSVersion    string // chosen by the ServerHello: "1.2", "1.3"
	TLSLibrary    string // the library whose plaintext was captured: "openssl"

	// ServerName is the name whose DNS answer, read by a process of this
	// host before the connection opened, gave the server's address; empty
	// when none is known. Set at the open of a connection whose server is
	// the peer (not for RoleServer), and never changed.
	ServerName string

	sock uint64 // the kernel's struct sock address: the key of the kernel's maps
}

// Segment is a piece of one direction of a connection's byte stream, in order.
type Segment struct {
	Dir  Direction
	Time time.Time
	Data []byte // valid only during the callback
	Lost int    // bytes that followed Data in the stream but were not copied
	// TLS marks plaintext read from a TLS library. A TLS connection has two
	// streams per direction: the wire bytes (ciphertext, counted but not
	// copied) and this plaintext.
	TLS bool
}

// Handler receives the engine's events, all from one goroutine, in the order
// the kernel produced them. The byte counts of a connection are those of its
// Segments: len(Data) + Lost.
type Handler interface {
	// ConnOpened reports a new connection and returns whether to follow it:
	// an unfollowed connection gets no Data and no ConnClosed.
	ConnOpened(c *Conn) bool
	// Data hands over a segment of a followed connection. It returns false
	// to have the kernel stop copying c's payload from now on: its
	// Segments then carry lengths only. A stop, once asked, stays; the
	// engine waits with it while a TLS hello may still be read from the
	// wire.
	Data(c *Conn, s Segment) (wantPayload bool)
	ConnClosed(c *Conn)
}
