package tap

import "github.com/ebpftap/ebpftap/internal/capture"

// Direction selects connections by who opened them and where the peer is.
type Direction uint8

const (
	Egress         Direction = iota // connections this host opened
	EgressExternal                  // ... to a peer outside the private, loopback and link-local ranges
	EgressInternal                  // ... to a peer inside them
	Ingress                         // connections this host accepted
	All
)

// Filter decides which connections are followed. The zero Filter follows
// egress connections of every process, loopback included.
type Filter struct {
	Direction      Direction
	IgnoreLoopback bool
	// ExcludeExecutable reports whether the connections of processes
	// running this executable (its path) are left alone; nil excludes none.
	// The engine applies the same filter in the kernel
	// (capture.Options.ExcludeExecutable); this one decides the processes
	// the kernel had not judged yet.
	ExcludeExecutable func(path string) bool
	// FollowPort reports whether connections with this server port (the
	// peer's for a client, the local one for a server) are followed; nil
	// follows every port. The engine applies the same filter in the kernel
	// (capture.Options.Ports); this one decides the connections the kernel
	// could not, those first seen mid-way.
	FollowPort func(port uint16) bool
}

// follow decides on a new connection. A connection of unknown role passes
// here and is decided by followRole once its traffic shows the role.
func (f *Filter) follow(c *capture.Conn) bool {
	if f.IgnoreLoopback && c.Remote.Addr().IsLoopback() {
		return false
	}
	if f.ExcludeExecutable != nil && f.ExcludeExecutable(c.Process.ExePath) {
		return false
	}
	return c.Role == capture.RoleUnknown || f.followRole(c.Role, c)
}

// followRole applies the direction and the ports to a connection whose role
// is known.
func (f *Filter) followRole(role capture.Role, c *capture.Conn) bool {
	if f.FollowPort != nil {
		port := c.Remote.Port()
		if role == capture.RoleServer {
			port = c.Local.Port()
		}
		if !f.FollowPort(port) {
			return false
		}
	}
	switch f.Direction {
	case All:
		return true
	case Ingress:
		return role == capture.RoleServer
	case Egress:
		return role == capture.RoleClient
	}
	if role != capture.RoleClient {
		return false
	}
	a := c.Remote.Addr()
	internal := a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast()
	return internal == (f.Direction == EgressInternal)
}
