package translate

import (
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
	Level        Level
	MaxBodyBytes int
	Redact       *redact.Policy // what never leaves the host
	HostName     string         // host.name of every resource; empty leaves it out
	// Metrics turns metrics and resource attributes on and off.
	Metrics metadata.MetricsBuilderConfig
}

// Translator turns exchanges into spans and log records. Append is not safe
// for concurrent use; Describe is.
type Translator struct {
	level        Level
	maxBodyBytes int
	redact       *redact.Policy
	hostName     string
	ids          idSource
	rb           *metadata.ResourceBuilder
	attrs        attributeList // Append's, reused from one transaction to the next
}

// NewTranslator returns a Translator that gives spans random ids.
func NewTranslator(s Settings) *Translator { return newTranslator(s, newRandomIDs()) }

// newTranslator returns a Translator that takes span ids from ids: tests
// number them so golden files stay stable.
func newTranslator(s Settings, ids idSource) *Translator {
	return &Translator{
		level:        s.Level,
		maxBodyBytes: s.MaxBodyBytes,
		redact:       s.Redact,
		hostName:     s.HostName,
		ids:          ids,
		rb:           metadata.NewResourceBuilder(s.Metrics.ResourceAttributes),
	}
}
