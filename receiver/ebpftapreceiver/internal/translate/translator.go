package translate

import (
	"go.opentelemetry.io/collector/component"

	"github.com/ebpftap/ebpftap/receiver/ebpftapreceiver/internal/metadata"
	"github.com/ebpftap/ebpftap/receiver/ebpftapreceiver/internal/redact"
)

// Level says how much of each transaction is recorded. Levels are ordered:
// each records what the one below it does, and more.
type Level uint8

const (
	LevelNone    Level = iota // spans and metrics only
	LevelSummary              // + a log record per transaction
	LevelHeaders              // + request and response headers (redacted)
	LevelFull                 // + bodies, up to MaxBodyBytes
)

// Settings are the parts of the receiver's configuration that translation
// follows.
type Settings struct {
	Level        Level      // of transactions no rule or endpoint decides
	Rules        []Rule     // the first that matches decides a transaction's level
	Endpoints    []Endpoint // the most specific that matches decides, below rules
	MaxBodyBytes int
	Redact       *redact.Policy // what never leaves the host
	HostName     string         // host.name of every resource; empty leaves it out
	// Metrics turns metrics and resource attributes on and off.
	Metrics metadata.MetricsBuilderConfig
	// Telemetry is what the rules' OTTL parser logs with.
	Telemetry component.TelemetrySettings
	// SkipSpans and SkipLogs leave out a signal no pipeline takes: each
	// was about a quarter of the collector's CPU at level summary, its
	// translation and its export (pprof, make bench go-https). Rules
	// still see a span.
	SkipSpans, SkipLogs bool
	// Sampling keeps the spans and log records of a share of the
	// transactions; nil keeps them all.
	Sampling *Sampling
}

// Translator turns exchanges into spans and log records. Append is not safe
// for concurrent use; Describe is.
type Translator struct {
	levels       *levels
	maxBodyBytes int
	redact       *redact.Policy
	hostName     string
	ids          idSource
	rb           *metadata.ResourceBuilder
	attrs        attributeList // Append's, reused from one transaction to the next
	describing   describeSettings
	skipSpans    bool
	skipLogs     bool
	sampler      sampler
}

// NewTranslator returns a Translator that gives spans random ids. It fails
// on a rule whose condition does not parse.
func NewTranslator(s Settings) (*Translator, error) { return newTranslator(s, newRandomIDs()) }

// newTranslator returns a Translator that takes span ids from ids: tests
// number them so golden files stay stable.
func newTranslator(s Settings, ids idSource) (*Translator, error) {
	l, err := newLevels(s.Level, s.Rules, s.Endpoints, s.Telemetry)
	if err != nil {
		return nil, err
	}
	return &Translator{
		levels:       l,
		describing:   newDescribeSettings(s.Redact, l.max),
		maxBodyBytes: s.MaxBodyBytes,
		redact:       s.Redact,
		hostName:     s.HostName,
		ids:          ids,
		rb:           metadata.NewResourceBuilder(s.Metrics.ResourceAttributes),
		skipSpans:    s.SkipSpans,
		skipLogs:     s.SkipLogs,
		sampler:      newSampler(s.Sampling),
	}, nil
}
