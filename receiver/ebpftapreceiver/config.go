package ebpftapreceiver // import "github.com/ebpftap/ebpftap/receiver/ebpftapreceiver"

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.uber.org/zap"

	"github.com/ebpftap/ebpftap/internal/capture"
	"github.com/ebpftap/ebpftap/internal/httpparse"
	"github.com/ebpftap/ebpftap/receiver/ebpftapreceiver/internal/metadata"
	"github.com/ebpftap/ebpftap/receiver/ebpftapreceiver/internal/translate"
)

// Direction selects connections by who opened them and where the peer is.
type Direction string

const (
	DirectionEgress         Direction = "egress"          // connections this host opened
	DirectionEgressExternal Direction = "egress-external" // ... to a peer outside private/loopback ranges
	DirectionEgressInternal Direction = "egress-internal" // ... to a peer in private/loopback ranges
	DirectionIngress        Direction = "ingress"         // connections this host accepted
	DirectionAll            Direction = "all"
)

// Level says how much of each transaction is recorded.
type Level string

const (
	LevelNone    Level = "none"    // spans and metrics only
	LevelSummary Level = "summary" // + a log record per transaction
	LevelHeaders Level = "headers" // + request and response headers (redacted)
	LevelFull    Level = "full"    // + bodies, up to max_body_bytes
)

// Config is the receiver's configuration.
type Config struct {
	Direction      Direction     `mapstructure:"direction"`
	IgnoreLoopback bool          `mapstructure:"ignore_loopback"`
	Capture        CaptureConfig `mapstructure:"capture"`
	Filters        FiltersConfig `mapstructure:"filters"`
	Process        ProcessConfig `mapstructure:"process"`
	// Endpoints set the level of transactions by their server's name, below
	// capture.rules and above capture.level.
	Endpoints []EndpointConfig `mapstructure:"endpoints"`
	Sampling  SamplingConfig   `mapstructure:"sampling"`
	Engine    EngineConfig     `mapstructure:"engine"`

	// MetricsInterval is how often cumulative metrics are emitted.
	MetricsInterval time.Duration `mapstructure:"metrics_interval"`

	// MetricsBuilderConfig turns metrics and resource attributes on and off
	// (`metrics:` and `resource_attributes:`).
	metadata.MetricsBuilderConfig `mapstructure:",squash"`
}

// CaptureConfig says what is kept of each transaction, and what of it never
// leaves the host.
type CaptureConfig struct {
	Level Level `mapstructure:"level"`
	// Rules set the level of the transactions whose span matches; the first
	// that matches decides, over endpoints and Level.
	Rules        []RuleConfig `mapstructure:"rules"`
	MaxBodyBytes int          `mapstructure:"max_body_bytes"`
	// MaxBufferedBodyBytes bounds the body bytes held at once, across all
	// connections, for transactions still in progress: beyond it bodies are
	// cut, marked and counted (http_body_over_budget). MaxBodyBytes bounds
	// only each message.
	MaxBufferedBodyBytes int      `mapstructure:"max_buffered_body_bytes"`
	RedactHeaders        []string `mapstructure:"redact_headers"`
	// RedactQueryKeys are added to the query keys whose values are always
	// redacted (redact.DefaultQueryKeys).
	RedactQueryKeys []string `mapstructure:"redact_query_keys"`
	// RedactBodyPatterns are regular expressions whose matches in bodies
	// (level full) are redacted: each capture group's text, else the match.
	RedactBodyPatterns []string `mapstructure:"redact_body_patterns"`
}

// SamplingConfig keeps the span and the log record of a share of the
// transactions, decided by trace id (translate.Sampling); metrics count
// every transaction.
type SamplingConfig struct {
	// Ratio is the share kept, from 0 to 1 (the default: all).
	Ratio float64 `mapstructure:"ratio"`
	// ParentBased follows the sampled flag of the trace context a request
	// carries (traceparent, B3), when it has one, instead of Ratio.
	ParentBased bool `mapstructure:"parent_based"`
	// KeepFailures keeps every transaction that failed (no response, a
	// status of 500 or more, a gRPC status other than OK) whatever Ratio
	// and the caller decide.
	KeepFailures bool `mapstructure:"keep_failures"`
}

// RuleConfig is one capture rule: an OTTL condition in the span context, and
// the level of the transactions it matches.
type RuleConfig struct {
	Condition string `mapstructure:"condition"`
	Level     Level  `mapstructure:"level"`
}

// EndpointConfig gives the transactions with one server, or the servers
// under one domain ("*.example.com"), a level.
type EndpointConfig struct {
	Domain string `mapstructure:"domain"`
	Level  Level  `mapstructure:"level"`
}

// ProcessConfig says what of a process's command line leaves the host, in
// process.command_line and process.command_args.
type ProcessConfig struct {
	// RedactArgumentWords are added to the words that mark an argument, or
	// the one after it, as a secret (redact.DefaultArgumentWords).
	RedactArgumentWords []string `mapstructure:"redact_argument_words"`
	// DropArguments keeps only the executable.
	DropArguments bool `mapstructure:"drop_arguments"`
}

// FiltersConfig says which traffic is captured at all: what it leaves out
// is never parsed, and connections filtered by port are not even copied out
// of the kernel.
type FiltersConfig struct {
	// IncludeProcesses, when set, captures only the processes whose
	// executable one of them matches; ExcludeProcesses applies after it.
	IncludeProcesses []ProcessMatch `mapstructure:"include_processes"`
	ExcludeProcesses []ProcessMatch `mapstructure:"exclude_processes"`
	Ports            PortsConfig    `mapstructure:"ports"`
}

// PortsConfig filters connections by their server port: only those in
// Include when it is set, else all but those in Exclude.
type PortsConfig struct {
	Include []int `mapstructure:"include"`
	Exclude []int `mapstructure:"exclude"`
}

// ProcessMatch matches a process by its executable path.
type ProcessMatch struct {
	Exe   string    `mapstructure:"exe"`
	Match MatchKind `mapstructure:"match"`
}

// MatchKind says how ProcessMatch.Exe is compared; empty means MatchExact.
type MatchKind string

const (
	MatchExact    MatchKind = "exact"
	MatchPrefix   MatchKind = "prefix"
	MatchSuffix   MatchKind = "suffix"
	MatchContains MatchKind = "contains"
	MatchRegex    MatchKind = "regex"
)

// EngineConfig bounds the capture engine.
type EngineConfig struct {
	RingBufferSize int           `mapstructure:"ring_buffer_size"` // bytes, a power of two and a multiple of the page size
	MaxConnections int           `mapstructure:"max_connections"`  // tracked at once; beyond it the oldest idle is evicted, counted
	IdleTimeout    time.Duration `mapstructure:"idle_timeout"`     // a connection silent this long is closed
}

var _ confmap.Validator = (*Config)(nil)

var (
	validDirections = []Direction{DirectionEgress, DirectionEgressExternal, DirectionEgressInternal, DirectionIngress, DirectionAll}
	validLevels     = []Level{LevelNone, LevelSummary, LevelHeaders, LevelFull}
	validMatchKinds = []MatchKind{MatchExact, MatchPrefix, MatchSuffix, MatchContains, MatchRegex}
)

// Bounds on sizes a user may ask for. Bodies are buffered per message while a
// transaction is open, so a body limit past a few MiB multiplies into
// gigabytes across many connections; ring buffers are kernel memory that
// stays locked for the collector's lifetime.
const (
	maxMaxBodyBytes         = 16 << 20
	maxMaxBufferedBodyBytes = 1 << 30
	minRingBufferSize       = 64 << 10
	maxRingBufferSize       = 1 << 30
)

// Validate reports every invalid value at once, each naming its field path
// and what is allowed, so a user fixes a config in one round.
func (cfg *Config) Validate() error {
	var errs []error
	invalid := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{path}, args...)...))
	}

	if !slices.Contains(validDirections, cfg.Direction) {
		invalid("direction", "must be one of %s; got %q", joinQuoted(validDirections), cfg.Direction)
	}
	if !slices.Contains(validLevels, cfg.Capture.Level) {
		invalid("capture.level", "must be one of %s; got %q", joinQuoted(validLevels), cfg.Capture.Level)
	}
	if cfg.Capture.MaxBodyBytes < 0 || cfg.Capture.MaxBodyBytes > maxMaxBodyBytes {
		invalid("capture.max_body_bytes", "must be between 0 and %d; got %d", maxMaxBodyBytes, cfg.Capture.MaxBodyBytes)
	}
	if b := cfg.Capture.MaxBufferedBodyBytes; b < cfg.Capture.MaxBodyBytes || b > maxMaxBufferedBodyBytes {
		// Less than one body would cut every body that reaches
		// max_body_bytes even on an idle host.
		invalid("capture.max_buffered_body_bytes", "must be between capture.max_body_bytes (%d) and %d; got %d",
			cfg.Capture.MaxBodyBytes, maxMaxBufferedBodyBytes, b)
	}
	for i, name := range cfg.Capture.RedactHeaders {
		if !httpparse.ValidFieldName(name) {
			invalid(fmt.Sprintf("capture.redact_headers[%d]", i), "must be a non-empty HTTP header name (letters, digits and !#$%%&'*+-.^_`|~); got %q", name)
		}
	}
	for i, r := range cfg.Capture.Rules {
		path := fmt.Sprintf("capture.rules[%d]", i)
		if !slices.Contains(validLevels, r.Level) {
			invalid(path+".level", "must be one of %s; got %q", joinQuoted(validLevels), r.Level)
		}
		if strings.TrimSpace(r.Condition) == "" {
			invalid(path+".condition", "must not be empty")
		} else if err := translate.ParseCondition(r.Condition, component.TelemetrySettings{Logger: zap.NewNop()}); err != nil {
			invalid(path+".condition", "must be a valid OTTL condition in the span context: %w", err)
		}
	}
	if r := cfg.Sampling.Ratio; !(r >= 0 && r <= 1) {
		invalid("sampling.ratio", "must be between 0 and 1; got %v", r)
	}
	for i, e := range cfg.Endpoints {
		path := fmt.Sprintf("endpoints[%d]", i)
		if !validDomain(e.Domain) {
			invalid(path+".domain", "must be a host name, or *. followed by one (*.example.com); got %q", e.Domain)
		}
		if !slices.Contains(validLevels, e.Level) {
			invalid(path+".level", "must be one of %s; got %q", joinQuoted(validLevels), e.Level)
		}
	}
	nonEmpty("capture.redact_query_keys", cfg.Capture.RedactQueryKeys, invalid)
	for i, expr := range cfg.Capture.RedactBodyPatterns {
		if _, err := regexp.Compile(expr); err != nil {
			invalid(fmt.Sprintf("capture.redact_body_patterns[%d]", i), "must be a valid regular expression (Go RE2 syntax): %w", err)
		}
	}
	nonEmpty("process.redact_argument_words", cfg.Process.RedactArgumentWords, invalid)
	for _, matchers := range []struct {
		name string
		list []ProcessMatch
	}{{"include_processes", cfg.Filters.IncludeProcesses}, {"exclude_processes", cfg.Filters.ExcludeProcesses}} {
		for i, p := range matchers.list {
			path := fmt.Sprintf("filters.%s[%d]", matchers.name, i)
			if p.Exe == "" {
				invalid(path+".exe", "must not be empty")
			}
			switch {
			case p.Match == "":
				// Omitted: exact, the least surprising comparison for a path.
			case !slices.Contains(validMatchKinds, p.Match):
				invalid(path+".match", "must be one of %s; got %q", joinQuoted(validMatchKinds), p.Match)
			case p.Match == MatchRegex && p.Exe != "":
				if _, err := regexp.Compile(p.Exe); err != nil {
					invalid(path+".exe", "must be a valid regular expression (Go RE2 syntax): %w", err)
				}
			}
		}
	}
	ports := cfg.Filters.Ports
	if len(ports.Include) > 0 && len(ports.Exclude) > 0 {
		invalid("filters.ports", "must set include or exclude, not both")
	}
	for _, listed := range []struct {
		name  string
		ports []int
	}{{"include", ports.Include}, {"exclude", ports.Exclude}} {
		if len(listed.ports) > capture.MaxFilterPorts {
			invalid("filters.ports."+listed.name, "must list at most %d ports; got %d", capture.MaxFilterPorts, len(listed.ports))
		}
		for i, p := range listed.ports {
			if p < 1 || p > 65535 {
				invalid(fmt.Sprintf("filters.ports.%s[%d]", listed.name, i), "must be a port between 1 and 65535; got %d", p)
			}
		}
	}
	if size, page := cfg.Engine.RingBufferSize, os.Getpagesize(); size < minRingBufferSize || size > maxRingBufferSize ||
		size&(size-1) != 0 || size%page != 0 {
		invalid("engine.ring_buffer_size", "must be a power of two and a multiple of the page size (%d) between %d and %d bytes; got %d",
			page, minRingBufferSize, maxRingBufferSize, size)
	}
	if cfg.Engine.MaxConnections <= 0 {
		invalid("engine.max_connections", "must be greater than 0; got %d", cfg.Engine.MaxConnections)
	}
	if cfg.Engine.IdleTimeout <= 0 {
		invalid("engine.idle_timeout", "must be greater than 0; got %s", cfg.Engine.IdleTimeout)
	}
	if cfg.MetricsInterval <= 0 {
		invalid("metrics_interval", "must be greater than 0; got %s", cfg.MetricsInterval)
	}
	return errors.Join(errs...)
}

// validDomain accepts a host name of letters, digits, hyphens and dots, with
// non-empty labels, optionally after "*.".
func validDomain(d string) bool {
	d = strings.TrimPrefix(d, "*.")
	if d == "" || len(d) > 253 {
		return false
	}
	for label := range strings.SplitSeq(d, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// nonEmpty reports each empty string of list, which would match everything.
func nonEmpty(path string, list []string, invalid func(path, format string, args ...any)) {
	for i, s := range list {
		if strings.TrimSpace(s) == "" {
			invalid(fmt.Sprintf("%s[%d]", path, i), "must not be empty")
		}
	}
}

func joinQuoted[T ~string](values []T) string {
	quoted := make([]string, len(values))
	for i, v := range values {
		quoted[i] = strconv.Quote(string(v))
	}
	return strings.Join(quoted, ", ")
}
