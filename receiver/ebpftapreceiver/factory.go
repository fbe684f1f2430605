package ebpftapreceiver // import "github.com/ebpftap/ebpftap/receiver/ebpftapreceiver"

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"

	"github.com/ebpftap/ebpftap/internal/capture"
	"github.com/ebpftap/ebpftap/receiver/ebpftapreceiver/internal/metadata"
)

// NewFactory returns the factory of the ebpftap receiver.
func NewFactory() receiver.Factory {
	// The registry lives with the factory, not in a package variable, so two
	// factories (as in tests) never hand each other's instances out.
	f := &factory{receivers: newSharedComponents[*Config, *ebpftapReceiver]()}
	return receiver.NewFactory(
		metadata.Type,
		createDefaultConfig,
		receiver.WithTraces(f.createTraces, metadata.TracesStability),
		receiver.WithMetrics(f.createMetrics, metadata.MetricsStability),
		receiver.WithLogs(f.createLogs, metadata.LogsStability),
	)
}

func createDefaultConfig() component.Config {
	return &Config{
		Direction:      DirectionEgress,
		IgnoreLoopback: true,
		Capture: CaptureConfig{
			Level:        LevelSummary,
			MaxBodyBytes: 64 << 10,
			// 512 bodies of the default size at once; with the 32 MiB of
			// finished transactions that may wait for the pipeline
			// (maxPendingBytes), bodies hold at most 64 MiB.
			MaxBufferedBodyBytes: 32 << 20,
			RedactHeaders:        []string{"authorization", "cookie", "set-cookie", "proxy-authorization", "x-api-key"},
		},
		Sampling: SamplingConfig{Ratio: 1},
		Engine: EngineConfig{
			RingBufferSize: capture.DefaultRingBufferSize,
			MaxConnections: capture.DefaultMaxConnections,
			IdleTimeout:    capture.DefaultIdleTimeout,
		},
		MetricsInterval:      10 * time.Second,
		MetricsBuilderConfig: metadata.DefaultMetricsBuilderConfig(),
	}
}

type factory struct {
	receivers *sharedComponents[*Config, *ebpftapReceiver]
}

// acquire returns this config's shared receiver. Keying by the *Config pointer
// is what makes the three signals of one `receivers:` entry share an engine:
// the collector hands each of them the same pointer.
func (f *factory) acquire(set receiver.Settings, cfg component.Config) (*sharedComponent[*Config, *ebpftapReceiver], error) {
	c, ok := cfg.(*Config)
	if !ok {
		return nil, fmt.Errorf("creating %s receiver: config is %T, want *%T", set.ID, cfg, Config{})
	}
	return f.receivers.acquire(c, func() *ebpftapReceiver { return newReceiver(c, set) }), nil
}

func (f *factory) createTraces(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Traces) (receiver.Traces, error) {
	r, err := f.acquire(set, cfg)
	if err != nil {
		return nil, err
	}
	r.Unwrap().traces = next
	return r, nil
}

func (f *factory) createMetrics(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Metrics) (receiver.Metrics, error) {
	r, err := f.acquire(set, cfg)
	if err != nil {
		return nil, err
	}
	r.Unwrap().metrics = next
	return r, nil
}

func (f *factory) createLogs(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Logs) (receiver.Logs, error) {
	r, err := f.acquire(set, cfg)
	if err != nil {
		return nil, err
	}
	r.Unwrap().logs = next
	return r, nil
}
