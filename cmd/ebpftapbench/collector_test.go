package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/ebpftap/ebpftap/receiver/ebpftapreceiver"
)

// TestCollectorConfig loads the config the bench writes as the collector
// would, and checks the receiver's part with the receiver's own Validate:
// a misspelt key or value fails here instead of at the first real run.
func TestCollectorConfig(t *testing.T) {
	for _, m := range modes {
		if m.level == "" {
			continue // no collector
		}
		t.Run(m.key, func(t *testing.T) {
			b, err := collectorConfig(m.level, m.ratio, "/tmp/bench/sink.sock", "")
			require.NoError(t, err)
			path := filepath.Join(t.TempDir(), "collector.yaml")
			require.NoError(t, os.WriteFile(path, b, 0o644))
			conf, err := confmaptest.LoadConf(path)
			require.NoError(t, err)

			sub, err := conf.Sub("receivers::ebpftap")
			require.NoError(t, err)
			cfg := ebpftapreceiver.NewFactory().CreateDefaultConfig().(*ebpftapreceiver.Config)
			require.NoError(t, sub.Unmarshal(cfg))
			require.NoError(t, confmap.Validate(cfg))
			assert.Equal(t, ebpftapreceiver.Level(m.level), cfg.Capture.Level)
			wantRatio := m.ratio
			if wantRatio == 0 {
				wantRatio = 1
			}
			assert.Equal(t, wantRatio, cfg.Sampling.Ratio)
			assert.Equal(t, ebpftapreceiver.DirectionAll, cfg.Direction)
			assert.False(t, cfg.IgnoreLoopback, "the loads are on loopback")

			assert.Equal(t, "unix:///tmp/bench/sink.sock", conf.Get("exporters::otlp_grpc::endpoint"))
			assert.Equal(t, true, conf.Get("exporters::otlp_grpc::tls::insecure"))
			assert.Equal(t, "none", conf.Get("exporters::otlp_grpc::compression"))
			assert.True(t, conf.IsSet("processors::batch"))
			for _, signal := range []string{"traces", "logs", "metrics"} {
				p := "service::pipelines::" + signal + "::"
				assert.Equal(t, []any{"ebpftap"}, conf.Get(p+"receivers"), signal)
				assert.Equal(t, []any{"batch"}, conf.Get(p+"processors"), signal)
				assert.Equal(t, []any{"otlp_grpc"}, conf.Get(p+"exporters"), signal)
			}
		})
	}
}

// TestCollectorConfigPprof: with -pprof the collector serves pprof, and
// only then.
func TestCollectorConfigPprof(t *testing.T) {
	b, err := collectorConfig("summary", 0, "/tmp/bench/sink.sock", pprofEndpoint)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "collector.yaml")
	require.NoError(t, os.WriteFile(path, b, 0o644))
	conf, err := confmaptest.LoadConf(path)
	require.NoError(t, err)
	assert.Equal(t, pprofEndpoint, conf.Get("extensions::pprof::endpoint"))
	assert.Equal(t, []any{"pprof"}, conf.Get("service::extensions"))

	b, err = collectorConfig("summary", 0, "/tmp/bench/sink.sock", "")
	require.NoError(t, err)
	assert.NotContains(t, string(b), "pprof")
}

func TestExporterDroppedItems(t *testing.T) {
	log := []byte(`2026-11-29T20:51:34.881Z	info	service@v0.161.0/service.go:247	Everything is ready.
2026-11-29T20:51:34.881Z	error	internal/queue_sender.go:62	Exporting failed. Dropping data.	{"otelcol.signal": "traces", "error": "not retryable error", "dropped_items": 4399}
go.opentelemetry.io/collector/exporter/exporterhelper/internal.NewQueueSender.func1
2026-11-29T20:51:35.340Z	error	internal/queue_sender.go:62	Exporting failed. Dropping data.	{"otelcol.signal": "logs", "dropped_items": 7385}
2026-11-29T20:51:35.340Z	info	something else	{"dropped_items": 5}
`)
	assert.Equal(t, int64(4399+7385), exporterDroppedItems(log))
	assert.Zero(t, exporterDroppedItems(nil))
}
