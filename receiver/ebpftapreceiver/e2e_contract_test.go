package ebpftapreceiver

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pipeline"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/ebpftap/ebpftap/internal/capture"
	"github.com/ebpftap/ebpftap/internal/e2e"
	"github.com/ebpftap/ebpftap/internal/httpparse"
	"github.com/ebpftap/ebpftap/internal/tap"
	"github.com/ebpftap/ebpftap/receiver/ebpftapreceiver/internal/metadata"
)

// contractPath prefixes the request paths of the exchanges the contract
// test injects; the rest of the path is the element's unique id.
const contractPath = "/contract/"

// TestE2EConsumeContract runs the collector's receiver contract for traces
// and logs: every element is delivered once or, on a permanent error,
// dropped; a retryable error is retried. The receiver runs for real (its
// engine started, every process on the host excluded), and the exchanges
// come in through the tap's Sink interface, as the engine's would.
func TestE2EConsumeContract(t *testing.T) {
	e2e.RequireBPF(t)
	for _, signal := range []pipeline.Signal{pipeline.SignalTraces, pipeline.SignalLogs} {
		t.Run(signal.String(), func(t *testing.T) {
			gen := &exchangeGenerator{}
			cfg := NewFactory().CreateDefaultConfig().(*Config)
			// Nothing of the host's own traffic: only injected exchanges.
			cfg.Filters.ExcludeProcesses = []ProcessMatch{{Exe: "/", Match: MatchPrefix}}
			receivertest.CheckConsumeContract(receivertest.CheckConsumeContractParams{
				T:             t,
				Factory:       gen.factory(),
				Signal:        signal,
				Config:        cfg,
				Generator:     gen,
				GenerateCount: 200,
			})
		})
	}
}

// exchangeGenerator hands exchanges to the receiver the factory made last.
type exchangeGenerator struct {
	mu   sync.Mutex
	rcv  *ebpftapReceiver
	next atomic.Uint64
}

// factory wraps the receiver's factory: it remembers the receiver, and puts
// each element's id, taken from its path, where the contract checker looks
// for it (the test_id attribute) on its way to the checker's consumer.
func (g *exchangeGenerator) factory() receiver.Factory {
	f := NewFactory()
	remember := func(c component.Component) {
		g.mu.Lock()
		g.rcv = c.(interface{ Unwrap() *ebpftapReceiver }).Unwrap()
		g.mu.Unlock()
	}
	return receiver.NewFactory(f.Type(), f.CreateDefaultConfig,
		receiver.WithTraces(func(ctx context.Context, set receiver.Settings, cfg component.Config, next consumer.Traces) (receiver.Traces, error) {
			wrapped, err := consumer.NewTraces(func(ctx context.Context, td ptrace.Traces) error {
				for _, rs := range td.ResourceSpans().All() {
					for _, ss := range rs.ScopeSpans().All() {
						for _, s := range ss.Spans().All() {
							path, _ := s.Attributes().Get("url.path")
							s.Attributes().PutStr(receivertest.UniqueIDAttrName, strings.TrimPrefix(path.Str(), contractPath))
						}
					}
				}
				return next.ConsumeTraces(ctx, td)
			})
			if err != nil {
				return nil, err
			}
			r, err := f.CreateTraces(ctx, set, cfg, wrapped)
			if err == nil {
				remember(r)
			}
			return r, err
		}, metadata.TracesStability),
		receiver.WithLogs(func(ctx context.Context, set receiver.Settings, cfg component.Config, next consumer.Logs) (receiver.Logs, error) {
			wrapped, err := consumer.NewLogs(func(ctx context.Context, ld plog.Logs) error {
				for _, rl := range ld.ResourceLogs().All() {
					for _, sl := range rl.ScopeLogs().All() {
						for _, lr := range sl.LogRecords().All() {
							path, _ := lr.Attributes().Get("url.path")
							lr.Attributes().PutStr(receivertest.UniqueIDAttrName, strings.TrimPrefix(path.Str(), contractPath))
						}
					}
				}
				return next.ConsumeLogs(ctx, ld)
			})
			if err != nil {
				return nil, err
			}
			r, err := f.CreateLogs(ctx, set, cfg, wrapped)
			if err == nil {
				remember(r)
			}
			return r, err
		}, metadata.LogsStability),
	)
}

func (g *exchangeGenerator) Start() {}
func (g *exchangeGenerator) Stop()  {}

// Generate hands the receiver one finished server-side exchange, as the tap
// would, and returns its id.
func (g *exchangeGenerator) Generate() []receivertest.UniqueIDAttrVal {
	g.mu.Lock()
	rcv := g.rcv
	g.mu.Unlock()
	id := fmt.Sprintf("%d", g.next.Add(1))
	now := time.Now()
	rcv.Exchange(tap.Exchange{
		Conn: &tap.Conn{ID: 1, Process: &capture.Process{PID: 7, ExePath: "/usr/bin/contract", ExeName: "contract"}, Role: capture.RoleServer},
		Tx: &httpparse.Transaction{
			Request: &httpparse.Request{Method: "GET", Target: contractPath + id,
				Message: httpparse.Message{Proto: "1.1", Start: now, End: now}},
			Response: &httpparse.Response{StatusCode: 200, Message: httpparse.Message{Proto: "1.1", Start: now, End: now}},
		},
	})
	return []receivertest.UniqueIDAttrVal{receivertest.UniqueIDAttrVal(id)}
}
