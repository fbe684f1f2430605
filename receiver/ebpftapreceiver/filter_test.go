package ebpftapreceiver

import (
	"net/netip"
	"testing"

	"github.com/ebpftap/ebpftap/internal/capture"
)

func TestConnFilter(t *testing.T) {
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
	for _, tc := range []struct {
		name    string
		cfg     Config
		follows map[*capture.Conn]bool
	}{
		{"egress", Config{Direction: DirectionEgress}, map[*capture.Conn]bool{toPublic: true, toPrivate: true, toLoopback: true, fromPeer: false, unknown: true}},
		{"egress-external", Config{Direction: DirectionEgressExternal}, map[*capture.Conn]bool{toPublic: true, toPrivate: false, toLoopback: false, fromPeer: false}},
		{"egress-internal", Config{Direction: DirectionEgressInternal}, map[*capture.Conn]bool{toPublic: false, toPrivate: true, toLoopback: true, fromPeer: false}},
		{"ingress", Config{Direction: DirectionIngress}, map[*capture.Conn]bool{toPublic: false, fromPeer: true}},
		{"all, loopback ignored", Config{Direction: DirectionAll, IgnoreLoopback: true}, map[*capture.Conn]bool{toPublic: true, toLoopback: false, fromPeer: true}},
		{"excluded process", Config{Direction: DirectionAll, Filters: FiltersConfig{ExcludeProcesses: []ProcessMatch{{Exe: "/usr/sbin/", Match: MatchPrefix}}}},
			map[*capture.Conn]bool{toPublic: true, fromPeer: false}},
		{"excluded by regex", Config{Direction: DirectionAll, Filters: FiltersConfig{ExcludeProcesses: []ProcessMatch{{Exe: "c[u]rl$", Match: MatchRegex}}}},
			map[*capture.Conn]bool{toPublic: false, fromPeer: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := newConnFilter(&tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			for c, want := range tc.follows {
				if got := f.follow(c); got != want {
					t.Errorf("%s to %s: follow = %v, want %v", c.Role, c.Remote, got, want)
				}
			}
		})
	}
}
