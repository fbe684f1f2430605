package ebpftapreceiver

import (
	"context"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/ebpftap/ebpftap/internal/e2e"
	"github.com/ebpftap/ebpftap/receiver/ebpftapreceiver/internal/metadata"
)

// TestE2ETwoReceivers configures two ebpftap receivers, ebpftap and
// ebpftap/2: the second fails at start with an error that names both, and
// starts once the first has stopped.
func TestE2ETwoReceivers(t *testing.T) {
	e2e.RequireBPF(t)
	ctx := context.Background()
	f := NewFactory()
	create := func(name string) receiver.Traces {
		set := receivertest.NewNopSettings(metadata.Type)
		set.ID = component.NewIDWithName(metadata.Type, name)
		r, err := f.CreateTraces(ctx, set, f.CreateDefaultConfig(), consumertest.NewNop())
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	host := componenttest.NewNopHost()

	first, second := create(""), create("2")
	if err := first.Start(ctx, host); err != nil {
		t.Fatal(err)
	}
	err := second.Start(ctx, host)
	if err == nil {
		t.Fatal("a second receiver started while the first captures")
	}
	if msg := err.Error(); !strings.Contains(msg, `"ebpftap/2" cannot start`) || !strings.Contains(msg, `"ebpftap" already captures`) {
		t.Errorf("the second receiver's error %q does not name both receivers", msg)
	}
	if err := second.Shutdown(ctx); err != nil {
		t.Errorf("shutting down the receiver that did not start: %v", err)
	}
	if err := first.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	again := create("2")
	if err := again.Start(ctx, host); err != nil {
		t.Fatalf("ebpftap/2 after ebpftap stopped: %v", err)
	}
	if err := again.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}
