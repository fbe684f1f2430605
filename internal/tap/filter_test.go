package tap

import (
	"net/netip"
	"testing"

	"github.com/ebpftap/ebpftap/internal/capture"
)

func TestFilter(t *testing.T) {
	conn := func(role capture.Role, remote, exe string) *capture.Conn {
		return &capture.Conn{Role: role, Remote: netip.MustParseAddrPort(remote), Process: &capture.Process{ExePath: exe}}
	}
	var (
		toPublic   = conn(capture.RoleClient, "93.184.216.34:443", "/usr/bin/curl")
		toPrivate  = conn(capture.RoleClient, "10.1.2.3:80", "/usr/bin/curl")
		toLoopback = conn(capture.RoleClient, "127.0.0.1:80", "/usr/bin/curl")
		fromPeer   = conn(capture.RoleServer, "192.168.1.9:50000", "/usr/sbin/nginx")
		unknown    = conn(capture.RoleUnknown, "93.184.216.34:443", "/usr/bin/curl")
	)
	isNginx := func(path string) bool { return path == "/usr/sbin/nginx" }
	for _, tc := range []struct {
		name    string
		filter  Filter
		follows map[*capture.Conn]bool
	}{
		{"egress", Filter{Direction: Egress}, map[*capture.Conn]bool{toPublic: true, toPrivate: true, toLoopback: true, fromPeer: false, unknown: true}},
		{"egress-external", Filter{Direction: EgressExternal}, map[*capture.Conn]bool{toPublic: true, toPrivate: false, toLoopback: false, fromPeer: false}},
		{"egress-internal", Filter{Direction: EgressInternal}, map[*capture.Conn]bool{toPublic: false, toPrivate: true, toLoopback: true, fromPeer: false}},
		{"ingress", Filter{Direction: Ingress}, map[*capture.Conn]bool{toPublic: false, fromPeer: true}},
		{"all, loopback ignored", Filter{Direction: All, IgnoreLoopback: true}, map[*capture.Conn]bool{toPublic: true, toLoopback: false, fromPeer: true}},
		{"excluded process", Filter{Direction: All, ExcludeExecutable: isNginx}, map[*capture.Conn]bool{toPublic: true, fromPeer: false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for c, want := range tc.follows {
				if got := tc.filter.follow(c); got != want {
					t.Errorf("%s to %s: follow = %v, want %v", c.Role, c.Remote, got, want)
				}
			}
		})
	}
}
