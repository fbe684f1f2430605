package ebpftapreceiver

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/ebpftap/ebpftap/receiver/ebpftapreceiver/internal/metadata"
)

func TestFactorySharesOneReceiverPerConfig(t *testing.T) {
	f := NewFactory()
	set := receivertest.NewNopSettings(metadata.Type)
	ctx := context.Background()
	cfgA := f.CreateDefaultConfig()
	cfgB := f.CreateDefaultConfig()

	traces, logs, metrics := new(consumertest.TracesSink), new(consumertest.LogsSink), new(consumertest.MetricsSink)
	tr, err := f.CreateTraces(ctx, set, cfgA, traces)
	require.NoError(t, err)
	lr, err := f.CreateLogs(ctx, set, cfgA, logs)
	require.NoError(t, err)
	mr, err := f.CreateMetrics(ctx, set, cfgA, metrics)
	require.NoError(t, err)
	other, err := f.CreateTraces(ctx, set, cfgB, traces)
	require.NoError(t, err)

	r := unwrapReceiver(t, tr)
	assert.Same(t, r, unwrapReceiver(t, lr), "logs receiver of the same config")
	assert.Same(t, r, unwrapReceiver(t, mr), "metrics receiver of the same config")
	assert.NotSame(t, r, unwrapReceiver(t, other), "receiver of another config")
	assert.Same(t, cfgA, r.cfg)
	assert.Same(t, traces, r.traces)
	assert.Same(t, logs, r.logs)
	assert.Same(t, metrics, r.metrics)

	for _, c := range []component.Component{tr, lr, mr, other} {
		require.NoError(t, c.Shutdown(ctx))
	}
}

func TestFactoryRejectsForeignConfig(t *testing.T) {
	type otherConfig struct{}
	f := NewFactory()
	set := receivertest.NewNopSettings(metadata.Type)
	set.ID = component.NewID(metadata.Type)
	ctx := context.Background()
	create := map[string]func() (component.Component, error){
		"traces": func() (component.Component, error) {
			return f.CreateTraces(ctx, set, &otherConfig{}, consumertest.NewNop())
		},
		"logs": func() (component.Component, error) {
			return f.CreateLogs(ctx, set, &otherConfig{}, consumertest.NewNop())
		},
		"metrics": func() (component.Component, error) {
			return f.CreateMetrics(ctx, set, &otherConfig{}, consumertest.NewNop())
		},
	}
	for signal, fn := range create {
		t.Run(signal, func(t *testing.T) {
			_, err := fn()
			assert.EqualError(t, err, "creating ebpftap receiver: config is *ebpftapreceiver.otherConfig, want *ebpftapreceiver.Config")
		})
	}
}

func unwrapReceiver(t *testing.T, c component.Component) *ebpftapReceiver {
	t.Helper()
	h, ok := c.(*sharedComponent[*Config, *ebpftapReceiver])
	require.True(t, ok, "receiver is %T, want the shared handle", c)
	return h.Unwrap()
}

var (
	_ receiver.Traces  = (*sharedComponent[*Config, *ebpftapReceiver])(nil)
	_ receiver.Logs    = (*sharedComponent[*Config, *ebpftapReceiver])(nil)
	_ receiver.Metrics = (*sharedComponent[*Config, *ebpftapReceiver])(nil)
)
