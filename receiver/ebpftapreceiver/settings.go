package ebpftapreceiver // import "github.com/ebpftap/ebpftap/receiver/ebpftapreceiver"

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"go.opentelemetry.io/collector/component"

	"github.com/ebpftap/ebpftap/internal/capture"
	"github.com/ebpftap/ebpftap/internal/tap"
	"github.com/ebpftap/ebpftap/receiver/ebpftapreceiver/internal/redact"
	"github.com/ebpftap/ebpftap/receiver/ebpftapreceiver/internal/translate"
)

// newTapConfig is what the tap follows and keeps, from direction,
// ignore_loopback, filters and the capture level.
func newTapConfig(cfg *Config) (tap.Config, error) {
	f := tap.Filter{Direction: tapDirection(cfg.Direction), IgnoreLoopback: cfg.IgnoreLoopback}
	include, err := exeMatchers("filters.include_processes", cfg.Filters.IncludeProcesses)
	if err != nil {
		return tap.Config{}, err
	}
	exclude, err := exeMatchers("filters.exclude_processes", cfg.Filters.ExcludeProcesses)
	if err != nil {
		return tap.Config{}, err
	}
	if include != nil || exclude != nil {
		f.ExcludeExecutable = func(path string) bool {
			return (include != nil && !include(path)) || (exclude != nil && exclude(path))
		}
	}
	if ports := enginePorts(cfg.Filters.Ports); ports != nil {
		listed := make(map[uint16]bool, len(ports.Ports))
		for _, p := range ports.Ports {
			listed[p] = true
		}
		f.FollowPort = func(port uint16) bool { return listed[port] == ports.Include }
	}
	// Bodies appear only at level full: below it the parsers keep none. A
	// rule or an endpoint that can give full needs every body kept (within
	// max_body_bytes) until the transaction's level is known.
	var bodyBytes int
	if cfg.maxLevel() == LevelFull {
		bodyBytes = cfg.Capture.MaxBodyBytes
	}
	return tap.Config{Filter: f, MaxBodyBytes: bodyBytes, MaxBufferedBodyBytes: cfg.Capture.MaxBufferedBodyBytes}, nil
}

// tapDirection maps a configured direction; Validate has rejected any other
// value, which would map to egress.
func tapDirection(d Direction) tap.Direction {
	switch d {
	case DirectionEgressExternal:
		return tap.EgressExternal
	case DirectionEgressInternal:
		return tap.EgressInternal
	case DirectionIngress:
		return tap.Ingress
	case DirectionAll:
		return tap.All
	}
	return tap.Egress
}

// exeMatchers compiles the matchers at path into one that matches an
// executable when any of them does; nil for none.
func exeMatchers(path string, ms []ProcessMatch) (func(string) bool, error) {
	if len(ms) == 0 {
		return nil, nil
	}
	matchers := make([]func(string) bool, len(ms))
	for i, m := range ms {
		match, err := exeMatcher(m)
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: %w", path, i, err)
		}
		matchers[i] = match
	}
	return func(exe string) bool {
		for _, match := range matchers {
			if match(exe) {
				return true
			}
		}
		return false
	}, nil
}

// enginePorts is filters.ports as the engine applies it in the kernel; nil
// when no port is listed.
func enginePorts(c PortsConfig) *capture.PortFilter {
	listed, include := c.Exclude, false
	if len(c.Include) > 0 {
		listed, include = c.Include, true
	}
	if len(listed) == 0 {
		return nil
	}
	f := &capture.PortFilter{Include: include, Ports: make([]uint16, len(listed))}
	for i, p := range listed {
		f.Ports[i] = uint16(p)
	}
	return f
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

// maxLevel is the highest level any transaction can get.
func (cfg *Config) maxLevel() Level {
	highest := cfg.Capture.Level
	raise := func(l Level) {
		if slices.Index(validLevels, l) > slices.Index(validLevels, highest) {
			highest = l
		}
	}
	for _, r := range cfg.Capture.Rules {
		raise(r.Level)
	}
	for _, e := range cfg.Endpoints {
		raise(e.Level)
	}
	return highest
}

// translateSettings is what translation follows, for a host named host,
// logging with set.
func (cfg *Config) translateSettings(host string, set component.TelemetrySettings) (translate.Settings, error) {
	policy, err := redact.New(redact.Config{
		Headers:       cfg.Capture.RedactHeaders,
		QueryKeys:     cfg.Capture.RedactQueryKeys,
		ArgumentWords: cfg.Process.RedactArgumentWords,
		DropArguments: cfg.Process.DropArguments,
		BodyPatterns:  cfg.Capture.RedactBodyPatterns,
	})
	if err != nil {
		return translate.Settings{}, fmt.Errorf("capture.redact_body_patterns: %w", err)
	}
	var rules []translate.Rule
	for _, r := range cfg.Capture.Rules {
		rules = append(rules, translate.Rule{Condition: r.Condition, Level: translateLevel(r.Level)})
	}
	var endpoints []translate.Endpoint
	for _, e := range cfg.Endpoints {
		endpoints = append(endpoints, translate.Endpoint{Domain: e.Domain, Level: translateLevel(e.Level)})
	}
	return translate.Settings{
		Level:        translateLevel(cfg.Capture.Level),
		Rules:        rules,
		Endpoints:    endpoints,
		Telemetry:    set,
		MaxBodyBytes: cfg.Capture.MaxBodyBytes,
		Redact:       policy,
		HostName:     host,
		Metrics:      cfg.MetricsBuilderConfig,
		Sampling: &translate.Sampling{
			Ratio: cfg.Sampling.Ratio, ParentBased: cfg.Sampling.ParentBased, KeepFailures: cfg.Sampling.KeepFailures,
		},
	}, nil
}

// translateLevel maps a configured level; an unknown one (Validate rejects
// it) records the least, so a bad value can never leak headers or bodies.
func translateLevel(l Level) translate.Level {
	switch l {
	case LevelSummary:
		return translate.LevelSummary
	case LevelHeaders:
		return translate.LevelHeaders
	case LevelFull:
		return translate.LevelFull
	}
	return translate.LevelNone
}
