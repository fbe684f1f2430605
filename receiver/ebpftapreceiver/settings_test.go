package ebpftapreceiver

import (
	"testing"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.uber.org/zap"

	"github.com/ebpftap/ebpftap/internal/capture"
	"github.com/ebpftap/ebpftap/receiver/ebpftapreceiver/internal/metadata"
	"github.com/ebpftap/ebpftap/receiver/ebpftapreceiver/internal/translate"
)

func TestTapConfig(t *testing.T) {
	curl, nginx := &capture.Process{ExePath: "/usr/bin/curl"}, &capture.Process{ExePath: "/usr/sbin/nginx"}
	for _, tc := range []struct {
		name     string
		match    ProcessMatch
		excluded map[*capture.Process]bool
	}{
		{"exact", ProcessMatch{Exe: "/usr/bin/curl"}, map[*capture.Process]bool{curl: true, nginx: false}},
		{"prefix", ProcessMatch{Exe: "/usr/sbin/", Match: MatchPrefix}, map[*capture.Process]bool{curl: false, nginx: true}},
		{"suffix", ProcessMatch{Exe: "nginx", Match: MatchSuffix}, map[*capture.Process]bool{curl: false, nginx: true}},
		{"contains", ProcessMatch{Exe: "bin/cu", Match: MatchContains}, map[*capture.Process]bool{curl: true, nginx: false}},
		{"regex", ProcessMatch{Exe: "c[u]rl$", Match: MatchRegex}, map[*capture.Process]bool{curl: true, nginx: false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Filters: FiltersConfig{ExcludeProcesses: []ProcessMatch{tc.match}}}
			tc2, err := newTapConfig(&cfg)
			if err != nil {
				t.Fatal(err)
			}
			for p, want := range tc.excluded {
				if got := tc2.Filter.ExcludeExecutable(p.ExePath); got != want {
					t.Errorf("%s: excluded = %v, want %v", p.ExePath, got, want)
				}
			}
		})
	}
	if _, err := newTapConfig(&Config{Filters: FiltersConfig{ExcludeProcesses: []ProcessMatch{{Exe: "(", Match: MatchRegex}}}}); err == nil {
		t.Error("an invalid regular expression was accepted")
	}
	if c, _ := newTapConfig(&Config{}); c.Filter.ExcludeExecutable != nil {
		t.Error("no exclusion configured, yet a process predicate")
	}
}

// TestLevels checks bodies are kept only at level full, and that every
// level maps to its own translation level in order.
func TestLevels(t *testing.T) {
	for i, l := range validLevels {
		cfg := Config{Capture: CaptureConfig{Level: l, MaxBodyBytes: 100, MaxBufferedBodyBytes: 1000}}
		c, err := newTapConfig(&cfg)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]int{true: 100, false: 0}[l == LevelFull]; c.MaxBodyBytes != want {
			t.Errorf("%s: parsers keep %d body bytes, want %d", l, c.MaxBodyBytes, want)
		}
		if c.MaxBufferedBodyBytes != 1000 {
			t.Errorf("%s: parsers buffer %d body bytes in all, want max_buffered_body_bytes 1000", l, c.MaxBufferedBodyBytes)
		}
		s, err := cfg.translateSettings("h", component.TelemetrySettings{Logger: zap.NewNop()})
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Level; got != translate.Level(i) {
			t.Errorf("%s: translation level %d, want %d", l, got, i)
		}
	}
	if got := translateLevel("bogus"); got != translate.LevelNone {
		t.Errorf("an unknown level translates to %d, want none", got)
	}
}

// TestBodiesKeptForRules checks the parsers keep bodies whenever some
// transaction can be given level full, whatever capture.level says.
func TestBodiesKeptForRules(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want int
	}{
		{"summary", Config{Capture: CaptureConfig{Level: LevelSummary, MaxBodyBytes: 100}}, 0},
		{"a rule to full", Config{Capture: CaptureConfig{Level: LevelSummary, MaxBodyBytes: 100,
			Rules: []RuleConfig{{Condition: "true", Level: LevelFull}}}}, 100},
		{"an endpoint to full", Config{Capture: CaptureConfig{Level: LevelNone, MaxBodyBytes: 100},
			Endpoints: []EndpointConfig{{Domain: "a.test", Level: LevelFull}}}, 100},
		{"full lowered by a rule", Config{Capture: CaptureConfig{Level: LevelFull, MaxBodyBytes: 100,
			Rules: []RuleConfig{{Condition: "true", Level: LevelNone}}}}, 100},
	} {
		c, err := newTapConfig(&tc.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if c.MaxBodyBytes != tc.want {
			t.Errorf("%s: parsers keep %d body bytes, want %d", tc.name, c.MaxBodyBytes, tc.want)
		}
	}
}

// TestTapConfigIncludeAndPorts checks include_processes narrows what
// exclude_processes does not remove, and the port lists become the tap's
// and the engine's port filter.
func TestTapConfigIncludeAndPorts(t *testing.T) {
	curl, wget, nginx := &capture.Process{ExePath: "/usr/bin/curl"}, &capture.Process{ExePath: "/usr/bin/wget"}, &capture.Process{ExePath: "/usr/sbin/nginx"}
	cfg := Config{Filters: FiltersConfig{
		IncludeProcesses: []ProcessMatch{{Exe: "/usr/bin/", Match: MatchPrefix}},
		ExcludeProcesses: []ProcessMatch{{Exe: "/usr/bin/wget"}},
	}}
	c, err := newTapConfig(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[*capture.Process]bool{curl: false, wget: true, nginx: true} {
		if got := c.Filter.ExcludeExecutable(p.ExePath); got != want {
			t.Errorf("%s: excluded = %v, want %v", p.ExePath, got, want)
		}
	}

	for _, tc := range []struct {
		name    string
		ports   PortsConfig
		include bool
		follow  map[uint16]bool
	}{
		{"include", PortsConfig{Include: []int{443, 8443}}, true, map[uint16]bool{443: true, 8443: true, 80: false}},
		{"exclude", PortsConfig{Exclude: []int{5432}}, false, map[uint16]bool{5432: false, 80: true}},
	} {
		cfg := Config{Filters: FiltersConfig{Ports: tc.ports}}
		c, err := newTapConfig(&cfg)
		if err != nil {
			t.Fatal(err)
		}
		for port, want := range tc.follow {
			if got := c.Filter.FollowPort(port); got != want {
				t.Errorf("%s: port %d followed = %v, want %v", tc.name, port, got, want)
			}
		}
		if e := enginePorts(tc.ports); e == nil || e.Include != tc.include || len(e.Ports) != len(tc.ports.Include)+len(tc.ports.Exclude) {
			t.Errorf("%s: the engine's port filter is %+v", tc.name, e)
		}
	}
	if c, _ := newTapConfig(&Config{}); c.Filter.FollowPort != nil || enginePorts(PortsConfig{}) != nil {
		t.Error("no port listed, yet a port filter")
	}
}

// TestProgramStatsOption checks the kernel counts the programs only when a
// metrics pipeline takes one of their metrics: the counting costs every BPF
// program on the host.
func TestProgramStatsOption(t *testing.T) {
	for _, tc := range []struct {
		name       string
		runs, time bool
		noMetrics  bool
		want       bool
	}{
		{"default", false, false, false, false},
		{"runs", true, false, false, true},
		{"time", false, true, false, true},
		{"no metrics pipeline", true, true, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			cfg.Metrics.EbpftapCaptureProgramRuns.Enabled = tc.runs
			cfg.Metrics.EbpftapCaptureProgramTime.Enabled = tc.time
			r := newReceiver(cfg, receivertest.NewNopSettings(metadata.Type))
			if !tc.noMetrics {
				r.metrics = consumertest.NewNop()
			}
			if err := r.prepare(); err != nil {
				t.Fatal(err)
			}
			if r.engineOpts.ProgramStats != tc.want {
				t.Errorf("engine counts the programs: %v, want %v", r.engineOpts.ProgramStats, tc.want)
			}
		})
	}
}
