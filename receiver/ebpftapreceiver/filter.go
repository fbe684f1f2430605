package ebpftapreceiver // import "github.com/ebpftap/ebpftap/receiver/ebpftapreceiver"

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/ebpftap/ebpftap/internal/capture"
)

// connFilter decides which connections are followed, from direction,
// ignore_loopback and filters.exclude_processes.
type connFilter struct {
	direction      Direction
	ignoreLoopback bool
	exclude        []func(exe string) bool
}

func newConnFilter(cfg *Config) (*connFilter, error) {
	f := &connFilter{direction: cfg.Direction, ignoreLoopback: cfg.IgnoreLoopback}
	for i, m := range cfg.Filters.ExcludeProcesses {
		match, err := exeMatcher(m)
		if err != nil {
			return nil, fmt.Errorf("filters.exclude_processes[%d]: %w", i, err)
		}
		f.exclude = append(f.exclude, match)
	}
	return f, nil
}

func exeMatcher(m ProcessMatch) (func(string) bool, error) {
	want := m.Exe
	switch m.Match {
	case MatchExact, "":
		return func(exe string) bool { return exe == want }, nil
	case MatchPrefix:
		return func(exe string) bool { return strings.HasPrefix(exe, want) }, nil
	case MatchSuffix:
		return func(exe string) bool { return strings.HasSuffix(exe, want) }, nil
	case MatchContains:
		return func(exe string) bool { return strings.Contains(exe, want) }, nil
	case MatchRegex:
		re, err := regexp.Compile(want)
		if err != nil {
			return nil, err
		}
		return re.MatchString, nil
	}
	return nil, fmt.Errorf("unknown match %q", m.Match)
}

// follow decides on a new connection. A connection of unknown role passes
// here and is decided by followRole once its traffic shows the role.
func (f *connFilter) follow(c *capture.Conn) bool {
	if f.ignoreLoopback && c.Remote.Addr().IsLoopback() {
		return false
	}
	for _, excluded := range f.exclude {
		if excluded(c.Process.ExePath) {
			return false
		}
	}
	return c.Role == capture.RoleUnknown || f.followRole(c)
}

// followRole applies direction to a connection whose role is known.
func (f *connFilter) followRole(c *capture.Conn) bool {
	switch f.direction {
	case DirectionAll:
		return true
	case DirectionIngress:
		return c.Role == capture.RoleServer
	case DirectionEgress:
		return c.Role == capture.RoleClient
	}
	if c.Role != capture.RoleClient {
		return false
	}
	a := c.Remote.Addr()
	internal := a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast()
	return internal == (f.direction == DirectionEgressInternal)
}
