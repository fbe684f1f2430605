package ebpftapreceiver // import "github.com/ebpftap/ebpftap/receiver/ebpftapreceiver"

import (
	"time"

	"github.com/ebpftap/ebpftap/receiver/ebpftapreceiver/internal/metadata"
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
	Engine         EngineConfig  `mapstructure:"engine"`

	// MetricsInterval is how often cumulative metrics are emitted.
	MetricsInterval time.Duration `mapstructure:"metrics_interval"`

	metadata.ResourceAttributesConfig `mapstructure:"resource_attributes"`
}

// CaptureConfig says what is kept of each transaction.
type CaptureConfig struct {
	Level         Level    `mapstructure:"level"`
	MaxBodyBytes  int      `mapstructure:"max_body_bytes"`
	RedactHeaders []string `mapstructure:"redact_headers"`
}

// FiltersConfig excludes traffic before it is parsed.
type FiltersConfig struct {
	ExcludeProcesses []ProcessMatch `mapstructure:"exclude_processes"`
}

// ProcessMatch matches a process by its executable path.
type ProcessMatch struct {
	Exe   string    `mapstructure:"exe"`
	Match MatchKind `mapstructure:"match"`
}

// MatchKind says how ProcessMatch.Exe is compared.
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
