package ebpftapreceiver

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/ebpftap/ebpftap/receiver/ebpftapreceiver/internal/metadata"
)

func TestCreateDefaultConfig(t *testing.T) {
	want := &Config{
		Direction:      DirectionEgress,
		IgnoreLoopback: true,
		Capture: CaptureConfig{
			Level:                LevelSummary,
			MaxBodyBytes:         65536,
			MaxBufferedBodyBytes: 32 << 20,
			RedactHeaders:        []string{"authorization", "cookie", "set-cookie", "proxy-authorization", "x-api-key"},
		},
		Sampling: SamplingConfig{Ratio: 1},
		Engine: EngineConfig{
			RingBufferSize: 16 * 1024 * 1024,
			MaxConnections: 65536,
			IdleTimeout:    5 * time.Minute,
		},
		MetricsInterval:      10 * time.Second,
		MetricsBuilderConfig: metadata.DefaultMetricsBuilderConfig(),
	}
	got := createDefaultConfig()
	assert.Equal(t, want, got)
	assert.NoError(t, confmap.Validate(got))
}

func TestLoadConfig(t *testing.T) {
	// The message names this machine's page size, so the want is built with it.
	page := os.Getpagesize()
	ringMsg := func(got int) string {
		return fmt.Sprintf("engine.ring_buffer_size: must be a power of two and a multiple of the page size (%d) between 65536 and 1073741824 bytes; got %d", page, got)
	}
	const (
		directionMsg = `must be one of "egress", "egress-external", "egress-internal", "ingress", "all"`
		levelMsg     = `must be one of "none", "summary", "headers", "full"`
		matchMsg     = `must be one of "exact", "prefix", "suffix", "contains", "regex"`
		headerMsg    = "must be a non-empty HTTP header name (letters, digits and !#$%&'*+-.^_`|~)"
	)

	full := createDefaultConfig().(*Config)
	full.Direction = DirectionEgressExternal
	full.IgnoreLoopback = false
	full.Capture = CaptureConfig{
		Level:                LevelFull,
		MaxBodyBytes:         0,
		MaxBufferedBodyBytes: 1 << 20,
		RedactHeaders:        []string{"authorization", "x-secret-token"},
		RedactQueryKeys:      []string{"api_key", "X-Token"},
		RedactBodyPatterns:   []string{`"password":\s*"([^"]*)"`},
	}
	full.Capture.Rules = []RuleConfig{
		{Condition: `attributes["http.response.status_code"] >= 500`, Level: LevelFull},
		{Condition: `resource.attributes["service.name"] == "healthcheck"`, Level: LevelNone},
	}
	full.Endpoints = []EndpointConfig{
		{Domain: "api.example.com", Level: LevelHeaders},
		{Domain: "*.internal.example.com", Level: LevelNone},
	}
	full.Sampling = SamplingConfig{Ratio: 0.25, ParentBased: true, KeepFailures: true}
	full.Process = ProcessConfig{RedactArgumentWords: []string{"private_key"}, DropArguments: true}
	full.Filters.IncludeProcesses = []ProcessMatch{{Exe: "/usr/", Match: MatchPrefix}}
	full.Filters.Ports = PortsConfig{Exclude: []int{22, 5432}}
	full.Filters.ExcludeProcesses = []ProcessMatch{
		{Exe: "/usr/sbin/sshd", Match: MatchExact},
		{Exe: "/usr/lib/", Match: MatchPrefix},
		{Exe: "/otelcol", Match: MatchSuffix},
		{Exe: "chrom", Match: MatchContains},
		{Exe: "^/opt/[a-z]+/bin/.*$", Match: MatchRegex},
		{Exe: "/usr/bin/curl"},
	}
	full.Engine = EngineConfig{RingBufferSize: 1 << 30, MaxConnections: 1, IdleTimeout: 30 * time.Second}
	full.MetricsInterval = time.Minute
	// Through Unmarshal, which also records that the user set the field.
	require.NoError(t, full.ResourceAttributes.ProcessCommandLine.Unmarshal(confmap.NewFromStringMap(map[string]any{"enabled": false})))
	require.NoError(t, full.Metrics.EbpftapConnectionIo.Unmarshal(confmap.NewFromStringMap(map[string]any{"enabled": false})))

	tests := []struct {
		name    string
		want    *Config // checked when wantErr is empty
		wantErr string
	}{
		{name: "", want: createDefaultConfig().(*Config)},
		{name: "full", want: full},
		{name: "direction", wantErr: `direction: ` + directionMsg + `; got "sideways"`},
		{name: "direction_case", wantErr: `direction: ` + directionMsg + `; got "Egress"`},
		{name: "level", wantErr: `capture.level: ` + levelMsg + `; got "everything"`},
		{name: "body_negative", wantErr: "capture.max_body_bytes: must be between 0 and 16777216; got -1"},
		{name: "body_huge", wantErr: "capture.max_body_bytes: must be between 0 and 16777216; got 16777217"},
		{
			name:    "buffered_below_body",
			wantErr: "capture.max_buffered_body_bytes: must be between capture.max_body_bytes (65536) and 1073741824; got 65535",
		},
		{
			name:    "buffered_huge",
			wantErr: "capture.max_buffered_body_bytes: must be between capture.max_body_bytes (65536) and 1073741824; got 1073741825",
		},
		{name: "redact_empty", wantErr: "capture.redact_headers[1]: " + headerMsg + `; got ""`},
		{name: "redact_space", wantErr: "capture.redact_headers[0]: " + headerMsg + `; got "x api key"`},
		{name: "redact_query_key_empty", wantErr: "capture.redact_query_keys[1]: must not be empty"},
		{
			name:    "redact_body_bad_pattern",
			wantErr: "capture.redact_body_patterns[0]: must be a valid regular expression (Go RE2 syntax): error parsing regexp: missing closing ]: `[a-`",
		},
		{name: "redact_argument_word_empty", wantErr: "process.redact_argument_words[0]: must not be empty"},
		{name: "rule_bad_condition", wantErr: "capture.rules[1].condition: must be a valid OTTL condition in the span context: condition has invalid syntax at 1:19: (expected Field (\".\" Field)*)"},
		{name: "rule_bad_level", wantErr: "capture.rules[0].level: " + levelMsg + `; got "all"`},
		{name: "rule_empty", wantErr: "capture.rules[0].condition: must not be empty"},
		{
			name: "endpoint_bad",
			wantErr: `endpoints[0].domain: must be a host name, or *. followed by one (*.example.com); got "api.*.com"` + "\n" +
				`endpoints[1].level: ` + levelMsg + `; got "loud"`,
		},
		{name: "sampling_above_one", wantErr: "sampling.ratio: must be between 0 and 1; got 1.5"},
		{name: "sampling_negative", wantErr: "sampling.ratio: must be between 0 and 1; got -0.1"},
		{name: "ports_both", wantErr: "filters.ports: must set include or exclude, not both"},
		{
			name: "ports_range",
			wantErr: "filters.ports.include[0]: must be a port between 1 and 65535; got 0\n" +
				"filters.ports.include[2]: must be a port between 1 and 65535; got 65536",
		},
		{name: "include_bad_match", wantErr: "filters.include_processes[0].match: " + matchMsg + `; got "glob"`},
		{name: "exclude_empty_exe", wantErr: "filters.exclude_processes[0].exe: must not be empty"},

		{name: "exclude_bad_match", wantErr: "filters.exclude_processes[0].match: " + matchMsg + `; got "glob"`},
		{
			name:    "exclude_bad_regex",
			wantErr: "filters.exclude_processes[1].exe: must be a valid regular expression (Go RE2 syntax): error parsing regexp: missing closing ): `/usr/(bin`",
		},
		{name: "ring_not_power_of_two", wantErr: ringMsg(3 << 20)},
		{name: "ring_too_small", wantErr: ringMsg(32 << 10)},
		{name: "ring_too_big", wantErr: ringMsg(2 << 30)},
		{name: "max_connections_zero", wantErr: "engine.max_connections: must be greater than 0; got 0"},
		{name: "idle_timeout_zero", wantErr: "engine.idle_timeout: must be greater than 0; got 0s"},
		{name: "metrics_interval_negative", wantErr: "metrics_interval: must be greater than 0; got -10s"},
		{
			name: "many",
			wantErr: `direction: ` + directionMsg + `; got ""` + "\n" +
				`capture.level: ` + levelMsg + `; got ""` + "\n" +
				"capture.max_body_bytes: must be between 0 and 16777216; got -5\n" +
				"filters.exclude_processes[0].exe: must not be empty\n" +
				"filters.exclude_processes[1].match: " + matchMsg + `; got "Regex"` + "\n" +
				ringMsg(0) + "\n" +
				"engine.max_connections: must be greater than 0; got -1\n" +
				"engine.idle_timeout: must be greater than 0; got -1s\n" +
				"metrics_interval: must be greater than 0; got 0s",
		},
	}

	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	for _, tt := range tests {
		id := component.NewIDWithName(metadata.Type, tt.name)
		t.Run(id.String(), func(t *testing.T) {
			cfg := createDefaultConfig()
			sub, err := cm.Sub(id.String())
			require.NoError(t, err)
			require.NoError(t, sub.Unmarshal(cfg))

			err = confmap.Validate(cfg)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Equal(t, tt.wantErr, err.Error())
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, cfg)
		})
	}
}
