package ebpftapreceiver // import "github.com/ebpftap/ebpftap/receiver/ebpftapreceiver"

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.uber.org/zap"

	"github.com/ebpftap/ebpftap/internal/capture"
	"github.com/ebpftap/ebpftap/internal/httpparse"
	"github.com/ebpftap/ebpftap/internal/tap"
	"github.com/ebpftap/ebpftap/receiver/ebpftapreceiver/internal/metadata"
	"github.com/ebpftap/ebpftap/receiver/ebpftapreceiver/internal/translate"
)

const (
	// flushInterval is how long a finished transaction may wait before it is
	// handed to the pipeline.
	flushInterval = 200 * time.Millisecond
	// flushSize hands a batch over early once it holds this many transactions.
	flushSize = 1024
	// maxPending and maxPendingBytes bound the transactions waiting while
	// the pipeline is busy, in number and in the bytes their messages hold
	// (heads and kept bodies, see heldBytes); beyond either they are dropped
	// and counted. The byte bound is what holds at level full: 16,384
	// waiting transactions held 164 MiB of a 1.2 GiB collector under wrk
	// (heap profile, make bench http1-plain full, 2026-11-29).
	maxPending      = 16 * flushSize
	maxPendingBytes = 32 << 20
	// maxSeries bounds the metric series the receiver keeps.
	maxSeries = 10000
	// A batch a consumer refuses with a retryable error is sent again after
	// retryFirst, then after waits that double up to retryMax, for at most
	// retryTotal; then it is dropped and counted as pipeline_refused. The
	// flusher waits meanwhile, never the engine's reader: what finishes in
	// the meantime waits in pending, within its bounds.
	retryFirst = 50 * time.Millisecond
	retryMax   = time.Second
	retryTotal = 10 * time.Second
)

// ebpftapReceiver is the one instance behind the traces, metrics and logs
// receivers of a config. The engine runs the tap on its reader goroutine, and
// the tap hands what it finds to the receiver (tap.Sink); the flusher
// translates and hands batches to the pipelines from its own goroutine.
type ebpftapReceiver struct {
	cfg *Config
	set receiver.Settings
	log *zap.Logger

	traces  consumer.Traces
	logs    consumer.Logs
	metrics consumer.Metrics

	engineOpts capture.Options // from prepare
	engine     *capture.Engine
	tap        *tap.Tap
	obsrecv    *receiverhelper.ObsReport
	stop       chan struct{}
	flushed    sync.WaitGroup
	kick       chan struct{} // a batch reached flushSize

	translator *translate.Translator // Append: the flusher only; Describe: any goroutine
	// spare is the flusher's: the pending slice it translated last, emptied,
	// to become the next pending slice. Reusing it instead of making a new
	// one per flush saved about 1.5 KB of allocation per request once
	// described holds its view (BenchmarkPipeline). It keeps the capacity
	// of the largest backlog: at most maxPending × 480 B, 7.5 MiB.
	spare []described

	// mu guards everything below. Lock order: mu, then the tap's lock.
	mu        sync.Mutex
	pending   []described // finished transactions not yet translated
	held      int         // the heldBytes of pending
	aggregate *translate.Aggregator
	dropped   map[metadata.AttributeEbpftapDropReason]uint64 // drops already reported, by reason
}

var _ tap.Sink = (*ebpftapReceiver)(nil)

// described is a finished exchange with its view, computed once when it
// arrived: the metrics count it then, the flusher translates it later.
type described struct {
	x  tap.Exchange
	v  translate.View
	ok bool // v describes x; false when x had no request
}

// view is d's view, nil when there is none.
func (d *described) view() *translate.View {
	if !d.ok {
		return nil
	}
	return &d.v
}

func newReceiver(cfg *Config, set receiver.Settings) *ebpftapReceiver {
	return &ebpftapReceiver{cfg: cfg, set: set, log: set.Logger}
}

// capturing is the receiver whose engine runs in this process. One engine
// serves every pipeline of one receiver ID (shared.go); a second receiver
// ID would attach every probe again and double the kernel's work for the
// same data, so it fails at start instead.
var capturing struct {
	sync.Mutex
	r *ebpftapReceiver
}

// claimEngine makes r the process's capturing receiver, or says which one
// already is.
func (r *ebpftapReceiver) claimEngine() error {
	capturing.Lock()
	defer capturing.Unlock()
	if other := capturing.r; other != nil && other != r {
		return fmt.Errorf("receiver %q cannot start: receiver %q already captures in this collector, and a collector runs one capture engine; "+
			"use %q in every pipeline that wants its data", r.set.ID, other.set.ID, other.set.ID)
	}
	capturing.r = r
	return nil
}

func (r *ebpftapReceiver) releaseEngine() {
	capturing.Lock()
	defer capturing.Unlock()
	if capturing.r == r {
		capturing.r = nil
	}
}

// Start loads the capture engine. It fails, with the reason, when the process
// lacks the privileges to load eBPF programs, or when another receiver of
// this collector already captures.
func (r *ebpftapReceiver) Start(_ context.Context, _ component.Host) error {
	if err := r.claimEngine(); err != nil {
		return err
	}
	if err := r.prepare(); err != nil {
		r.releaseEngine()
		return err
	}
	var err error
	r.engine, err = capture.NewEngine(r.engineOpts, r.tap)
	if err == nil {
		err = r.engine.Start()
	}
	if err != nil {
		r.releaseEngine()
		return fmt.Errorf("starting the ebpftap capture engine: %w", err)
	}
	r.flushed.Add(1)
	go r.flushLoop()
	return nil
}

// prepare builds everything between the engine and the pipelines: the tap,
// translation, metrics and the receiver's own telemetry.
func (r *ebpftapReceiver) prepare() error {
	var err error
	r.obsrecv, err = receiverhelper.NewObsReport(receiverhelper.ObsReportSettings{
		ReceiverID:             r.set.ID,
		Transport:              "ebpf",
		ReceiverCreateSettings: r.set,
	})
	if err != nil {
		return err
	}
	tapCfg, err := newTapConfig(r.cfg)
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	settings, err := r.cfg.translateSettings(host, r.set.TelemetrySettings)
	if err != nil {
		return err
	}
	// Every pipeline's handle was created before the shared instance
	// starts (shared.go): what no pipeline takes is not built.
	settings.SkipSpans, settings.SkipLogs = r.traces == nil, r.logs == nil
	r.translator, err = translate.NewTranslator(settings)
	if err != nil {
		return err
	}
	r.aggregate = translate.NewAggregator(settings, maxSeries, time.Now())
	r.dropped = make(map[metadata.AttributeEbpftapDropReason]uint64)
	r.stop = make(chan struct{})
	r.kick = make(chan struct{}, 1)
	r.tap = tap.New(tapCfg, r)
	r.engineOpts = capture.Options{
		RingBufferSize: r.cfg.Engine.RingBufferSize,
		MaxConnections: r.cfg.Engine.MaxConnections,
		IdleTimeout:    r.cfg.Engine.IdleTimeout,
		// The kernel filters as the tap does, from the open; the tap
		// decides what the kernel could not.
		Ports:             enginePorts(r.cfg.Filters.Ports),
		ExcludeExecutable: tapCfg.Filter.ExcludeExecutable,
		Logger:            r.log,
		ProgramStats: r.metrics != nil && (r.cfg.Metrics.EbpftapCaptureProgramRuns.Enabled ||
			r.cfg.Metrics.EbpftapCaptureProgramTime.Enabled),
	}
	return nil
}

// Shutdown stops the engine, which closes every open connection (finishing
// their transactions), then hands the last batch to the pipeline.
func (r *ebpftapReceiver) Shutdown(context.Context) error {
	if r.engine == nil {
		return nil
	}
	err := r.engine.Close()
	close(r.stop)
	r.flushed.Wait()
	r.engine = nil
	r.releaseEngine()
	return err
}

func (r *ebpftapReceiver) flushLoop() {
	defer r.flushed.Done()
	traces := time.NewTicker(flushInterval)
	defer traces.Stop()
	metrics := time.NewTicker(r.cfg.MetricsInterval)
	defer metrics.Stop()
	ctx := context.Background()
	for {
		select {
		case <-traces.C:
			r.flushTransactions(ctx)
		case <-r.kick:
			r.flushTransactions(ctx)
		case <-metrics.C:
			r.flushMetrics(ctx)
		case <-r.stop:
			r.flushTransactions(ctx)
			r.flushMetrics(ctx)
			return
		}
	}
}

func (r *ebpftapReceiver) flushTransactions(ctx context.Context) {
	r.mu.Lock()
	all := r.pending
	r.pending, r.spare = r.spare[:0], nil
	r.held = 0
	r.mu.Unlock()

	// Batches of at most flushSize keep the pdata alive at once small.
	for pending := all; len(pending) > 0; {
		n := min(len(pending), flushSize)
		r.consume(ctx, pending[:n])
		pending = pending[n:]
	}
	clear(all) // the exchanges are translated: let them go
	r.spare = all[:0]
}

// consume translates exchanges and hands them to the pipelines.
func (r *ebpftapReceiver) consume(ctx context.Context, ds []described) {
	b := translate.NewBatch()
	for i := range ds {
		r.translator.Append(b, ds[i].x, ds[i].view())
		ds[i].x.Tx.Release() // pdata copied what it keeps
	}
	if traces := b.Traces(); r.traces != nil && traces.SpanCount() > 0 {
		n := traces.SpanCount() // before ConsumeTraces: the pipeline may take the data
		ctx := r.obsrecv.StartTracesOp(ctx)
		err := r.deliver(n, func() error { return r.traces.ConsumeTraces(ctx, traces) })
		r.obsrecv.EndTracesOp(ctx, "ebpf", n, err)
	}
	if logs := b.Logs(); r.logs != nil && logs.LogRecordCount() > 0 {
		n := logs.LogRecordCount()
		ctx := r.obsrecv.StartLogsOp(ctx)
		err := r.deliver(n, func() error { return r.logs.ConsumeLogs(ctx, logs) })
		r.obsrecv.EndLogsOp(ctx, "ebpf", n, err)
	}
}

// deliver hands n items to a consumer with send, the consumererror way: a
// permanent refusal drops them at once, any other is retried with backoff
// for at most retryTotal (and not at all once Shutdown began, so that it
// returns in bounded time); what is dropped is counted as pipeline_refused.
// It returns the last error, nil once the consumer took the items.
func (r *ebpftapReceiver) deliver(n int, send func() error) error {
	wait, deadline := retryFirst, time.Now().Add(retryTotal)
	for {
		err := send()
		if err == nil {
			return nil
		}
		if consumererror.IsPermanent(err) || time.Now().Add(wait).After(deadline) {
			r.refused(n)
			return err
		}
		select {
		case <-time.After(wait):
		case <-r.stop:
			r.refused(n)
			return err
		}
		wait = min(2*wait, retryMax)
	}
}

// refused counts n items a consumer refused for good.
func (r *ebpftapReceiver) refused(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.aggregate.RecordDrops(metadata.AttributeEbpftapDropReasonPipelineRefused, uint64(n))
}

func (r *ebpftapReceiver) flushMetrics(ctx context.Context) {
	if r.metrics == nil {
		return
	}
	// Read before the lock: it may wait on the TLS probes.
	r.flushMetricsWith(ctx, r.engine.Stats(), r.engine.ProgramStats())
}

// flushMetricsWith emits the metrics with the engine's counters es and the
// kernel's counts of its programs (nil unless their metrics are enabled).
func (r *ebpftapReceiver) flushMetricsWith(ctx context.Context, es capture.Stats, programs []capture.ProgramStat) {
	r.mu.Lock()
	r.tap.IO(r.aggregate.AddIO)
	r.recordDrops(&es)
	r.aggregate.SetPrograms(programs)
	m := r.aggregate.Emit(time.Now())
	r.mu.Unlock()

	if m.DataPointCount() == 0 {
		return
	}
	ctx = r.obsrecv.StartMetricsOp(ctx)
	err := r.metrics.ConsumeMetrics(ctx, m)
	r.obsrecv.EndMetricsOp(ctx, "ebpf", m.DataPointCount(), err)
}

// ConnOpened implements tap.Sink.
func (r *ebpftapReceiver) ConnOpened(c *tap.Conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.aggregate.ConnOpened(c)
}

// ConnClosed implements tap.Sink.
func (r *ebpftapReceiver) ConnClosed(c *tap.Conn, io tap.IO) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.aggregate.AddIO(c, io)
	r.aggregate.ConnClosed(c)
}

// Exchange implements tap.Sink. The exchange is described and counted in the
// metrics at once, as it finishes; its translation waits for the flusher, so
// that a burst of traffic is not slowed by it. One that sampling leaves out
// goes no further.
func (r *ebpftapReceiver) Exchange(x tap.Exchange) {
	d := described{x: x}
	d.ok = r.translator.Describe(x, &d.v)
	var n int
	if d.v.Sampled() { // false too without a request: nothing to translate
		n = heldBytes(x.Tx) // outside the lock the flusher takes too
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.aggregate.RecordTransaction(x.Conn, d.view())
	if !d.v.Sampled() {
		x.Tx.Release() // counted; no span or log record is built of it
		return
	}
	if len(r.pending) >= maxPending || r.held+n > maxPendingBytes {
		r.aggregate.RecordDrops(metadata.AttributeEbpftapDropReasonPipelineBusy, 1)
		x.Tx.Release()
		return
	}
	r.pending = append(r.pending, d)
	r.held += n
	if len(r.pending) == flushSize {
		select {
		case r.kick <- struct{}{}:
		default:
		}
	}
}

// heldBytes is about what a transaction's messages hold: their header
// fields and kept bodies, the parts whose size the traffic decides.
func heldBytes(tx *httpparse.Transaction) int {
	n := 0
	if tx.Request != nil {
		n += messageBytes(&tx.Request.Message)
	}
	if tx.Response != nil {
		n += messageBytes(&tx.Response.Message)
	}
	return n
}

func messageBytes(m *httpparse.Message) int {
	n := len(m.Body)
	for _, f := range m.Header {
		n += len(f.Name) + len(f.Value)
	}
	for _, f := range m.Trailer {
		n += len(f.Name) + len(f.Value)
	}
	return n
}
