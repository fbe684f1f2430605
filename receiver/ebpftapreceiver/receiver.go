package ebpftapreceiver // import "github.com/ebpftap/ebpftap/receiver/ebpftapreceiver"

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.uber.org/zap"

	"github.com/ebpftap/ebpftap/internal/capture"
	"github.com/ebpftap/ebpftap/internal/httpparse"
)

const (
	// flushInterval is how long a finished transaction may wait before it is
	// handed to the pipeline.
	flushInterval = 200 * time.Millisecond
	// flushSize hands a batch over early once it holds this many transactions.
	flushSize = 1024
	// maxPending bounds the transactions waiting while the pipeline is busy;
	// beyond it they are dropped and counted.
	maxPending = 16 * flushSize
	// maxSeries bounds the metric series the receiver keeps.
	maxSeries = 10000
)

// ebpftapReceiver is the one instance behind the traces, metrics and logs
// receivers of a config. The engine calls it (capture.Handler) from its reader
// goroutine; the flusher hands batches to the pipeline from its own.
type ebpftapReceiver struct {
	cfg *Config
	set receiver.Settings
	log *zap.Logger

	traces  consumer.Traces
	logs    consumer.Logs
	metrics consumer.Metrics

	engine  *capture.Engine
	filter  *connFilter
	obsrecv *receiverhelper.ObsReport
	stop    chan struct{}
	flushed sync.WaitGroup
	kick    chan struct{} // a batch reached flushSize

	translator *translator // used by the flusher only

	mu          sync.Mutex // guards everything below
	conns       map[*capture.Conn]*connState
	pending     []exchange // finished transactions not yet translated
	aggregator  *metricsAggregator
	parserStats httpparse.Stats
	dropped     map[string]uint64 // drops already reported, by reason
}

// exchange is a finished transaction with the connection it travelled on.
// Translation to pdata waits for the flusher, off the engine's reader
// goroutine, so that a burst of traffic is not slowed by it.
type exchange struct {
	conn *capture.Conn // read are only fields set before its first transaction: role, addresses, process, TLS facts
	tx   *httpparse.Transaction
}

// connState is what the receiver keeps per followed connection.
type connState struct {
	conn     *capture.Conn // the engine's, or a copy with the role found from the traffic
	parser   *httpparse.Conn
	requests capture.Direction // the direction requests travel in; 0 until known
	notHTTP  bool              // the kernel was told to stop copying
	tls      bool              // parsing the TLS plaintext; the wire bytes are only counted
	sent     uint64            // bytes since metrics were last emitted
	recv     uint64
}

func newReceiver(cfg *Config, set receiver.Settings) *ebpftapReceiver {
	return &ebpftapReceiver{cfg: cfg, set: set, log: set.Logger}
}

// Start loads the capture engine. It fails, with the reason, when the process
// lacks the privileges to load eBPF programs.
func (r *ebpftapReceiver) Start(_ context.Context, _ component.Host) error {
	var err error
	r.obsrecv, err = receiverhelper.NewObsReport(receiverhelper.ObsReportSettings{
		ReceiverID:             r.set.ID,
		Transport:              "ebpf",
		ReceiverCreateSettings: r.set,
	})
	if err != nil {
		return err
	}
	if r.filter, err = newConnFilter(r.cfg); err != nil {
		return err
	}
	host, _ := os.Hostname()
	r.conns = make(map[*capture.Conn]*connState)
	r.translator = newTranslator(r.cfg, host, randomIDs{})
	r.aggregator = newMetricsAggregator(r.cfg, host, maxSeries)
	r.dropped = make(map[string]uint64)
	r.stop = make(chan struct{})
	r.kick = make(chan struct{}, 1)

	r.engine, err = capture.NewEngine(capture.Options{
		RingBufferSize: r.cfg.Engine.RingBufferSize,
		MaxConnections: r.cfg.Engine.MaxConnections,
		IdleTimeout:    r.cfg.Engine.IdleTimeout,
		Logger:         r.log,
	}, r)
	if err == nil {
		err = r.engine.Start()
	}
	if err != nil {
		return fmt.Errorf("starting the ebpftap capture engine: %w", err)
	}
	r.flushed.Add(1)
	go r.flushLoop()
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
	pending := r.pending
	r.pending = make([]exchange, 0, min(2*len(pending), maxPending))
	r.mu.Unlock()
	if len(pending) == 0 {
		return
	}

	// Batches of at most flushSize keep the pdata alive at once small.
	for len(pending) > 0 {
		n := min(len(pending), flushSize)
		r.consume(ctx, pending[:n])
		pending = pending[n:]
	}
}

// consume translates exchanges and hands them to the pipelines.
func (r *ebpftapReceiver) consume(ctx context.Context, xs []exchange) {
	b := newBatch()
	for _, x := range xs {
		r.translator.appendTransaction(b, x.conn, x.tx)
	}

	if r.traces != nil && b.traces.SpanCount() > 0 {
		ctx := r.obsrecv.StartTracesOp(ctx)
		err := r.traces.ConsumeTraces(ctx, b.traces)
		r.obsrecv.EndTracesOp(ctx, "ebpf", b.traces.SpanCount(), err)
	}
	if r.logs != nil && b.logs.LogRecordCount() > 0 {
		ctx := r.obsrecv.StartLogsOp(ctx)
		err := r.logs.ConsumeLogs(ctx, b.logs)
		r.obsrecv.EndLogsOp(ctx, "ebpf", b.logs.LogRecordCount(), err)
	}
}

func (r *ebpftapReceiver) flushMetrics(ctx context.Context) {
	if r.metrics == nil {
		return
	}
	engineStats := r.engine.Stats() // before the lock: it may wait on the TLS probes
	r.mu.Lock()
	for _, st := range r.conns {
		r.aggregator.addIO(st.conn, st.sent, st.recv)
		st.sent, st.recv = 0, 0
	}
	r.recordDrops(engineStats)
	m := r.aggregator.emit(time.Now())
	r.mu.Unlock()

	if m.DataPointCount() == 0 {
		return
	}
	ctx = r.obsrecv.StartMetricsOp(ctx)
	err := r.metrics.ConsumeMetrics(ctx, m)
	r.obsrecv.EndMetricsOp(ctx, "ebpf", m.DataPointCount(), err)
}

// recordDrops passes on what the engine's and parser's bounds threw away
// since the last call. Callers hold r.mu.
func (r *ebpftapReceiver) recordDrops(es capture.Stats) {
	ps := &r.parserStats
	for reason, total := range map[string]uint64{
		"ring_buffer_full":               es.RingBufferFull,
		"syscalls_in_flight":             es.CallsMapFull,
		"iovec_limit":                    es.IovLimit,
		"bad_event":                      es.BadEvents,
		"connection_limit":               es.ConnsOverflowed,
		"process_limit":                  es.ProcessesEvicted,
		"tls_calls_in_flight":            es.TLSCallsFull,
		"tls_no_socket":                  es.TLSNoSocket,
		"tls_unbound":                    es.TLSUnboundDropped,
		"tls_exec_queue_full":            es.TLSExecsSkipped,
		"http_header_too_large":          ps.HeaderTooLarge.Load(),
		"http_malformed":                 ps.Malformed.Load(),
		"http_capture_gap":               ps.CaptureGap.Load(),
		"http_unmatched_response":        ps.UnmatchedResponse.Load(),
		"http_pending_overflow":          ps.PendingOverflow.Load(),
		"http_early_response_too_large":  ps.EarlyResponseTooLarge.Load(),
		"http_resync_discarded_response": ps.ResyncDiscardedResponse.Load(),
		"http2_frame_too_large":          ps.H2FrameTooLarge.Load(),
		"http2_too_many_streams":         ps.H2TooManyStreams.Load(),
		"http2_hpack_error":              ps.H2HpackError.Load(),
		"http2_header_too_large":         ps.H2HeaderTooLarge.Load(),
		"http2_bad_frame":                ps.H2BadFrame.Load(),
	} {
		if d := total - r.dropped[reason]; d > 0 {
			r.aggregator.recordDrops(reason, d)
			r.dropped[reason] = total
		}
	}
}

// ConnOpened implements capture.Handler.
func (r *ebpftapReceiver) ConnOpened(c *capture.Conn) bool {
	if !r.filter.follow(c) {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	st := &connState{conn: c}
	switch c.Role {
	case capture.RoleClient:
		st.requests = capture.Send
	case capture.RoleServer:
		st.requests = capture.Recv
	}
	r.newParser(st)
	r.conns[c] = st
	r.aggregator.connOpened(c)
	return true
}

// Data implements capture.Handler.
func (r *ebpftapReceiver) Data(c *capture.Conn, s capture.Segment) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.conns[c]
	if st == nil {
		return
	}
	if !s.TLS {
		n := uint64(len(s.Data) + s.Lost)
		if s.Dir == capture.Send {
			st.sent += n
		} else {
			st.recv += n
		}
	}
	switch {
	case s.TLS && !st.tls:
		// A TLS library spoke: what the parser saw so far was the
		// handshake. From now on the plaintext is parsed, the wire bytes
		// only counted.
		st.tls, st.notHTTP = true, false
		r.newParser(st)
		if st.conn != c { // a view made by findRole: it needs the TLS mark too
			view := *st.conn
			view.TLS = true
			st.conn = &view
		}
	case st.tls && !s.TLS:
		return
	}
	if st.notHTTP || st.requests == 0 && !r.findRole(c, st, s) {
		return
	}
	stream := httpparse.ToClient
	if s.Dir == st.requests {
		stream = httpparse.ToServer
	}
	st.parser.Write(stream, s.Time, s.Data, s.Lost)
	if st.parser.Protocol() == httpparse.ProtocolOther && !st.tls {
		// Count its bytes from now on; copying them is wasted work.
		st.notHTTP = true
		r.engine.CountOnly(c)
	}
}

// newParser gives st a fresh parser.
func (r *ebpftapReceiver) newParser(st *connState) {
	st.parser = httpparse.NewConn(httpparse.Config{
		MaxBodyBytes: r.bodyBytes(),
		Stats:        &r.parserStats,
	}, func(tx *httpparse.Transaction) { r.transaction(st, tx) })
}

// findRole decides, for a connection seen mid-way, which end the process is:
// the one that sends a request line. Until then the bytes are skipped.
func (r *ebpftapReceiver) findRole(c *capture.Conn, st *connState, s capture.Segment) bool {
	if !httpparse.LooksLikeRequest(s.Data) {
		return false
	}
	st.requests = s.Dir
	view := *st.conn
	view.Role = capture.RoleClient
	if s.Dir == capture.Recv {
		view.Role = capture.RoleServer
	}
	st.conn = &view
	if !r.filter.followRole(st.conn) {
		// Filtered out by direction: count its bytes, copy nothing more.
		st.notHTTP = true
		r.engine.CountOnly(c)
		return false
	}
	return true
}

// ConnClosed implements capture.Handler.
func (r *ebpftapReceiver) ConnClosed(c *capture.Conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.conns[c]
	if st == nil {
		return
	}
	st.parser.Close(c.Closed)
	r.aggregator.addIO(st.conn, st.sent, st.recv)
	r.aggregator.connClosed(st.conn)
	delete(r.conns, c)
}

// transaction is the parser's emit callback; r.mu is held.
func (r *ebpftapReceiver) transaction(st *connState, tx *httpparse.Transaction) {
	r.aggregator.recordTransaction(st.conn, tx)
	if len(r.pending) >= maxPending {
		r.aggregator.recordDrops("pipeline_busy", 1)
		return
	}
	r.pending = append(r.pending, exchange{st.conn, tx})
	if len(r.pending) == flushSize {
		select {
		case r.kick <- struct{}{}:
		default:
		}
	}
}

// bodyBytes is how much of each body the parser keeps: bodies appear only at
// level full.
func (r *ebpftapReceiver) bodyBytes() int {
	if r.cfg.Capture.Level == LevelFull {
		return r.cfg.Capture.MaxBodyBytes
	}
	return 0
}
