package translate

import (
	"cmp"
	"maps"
	"math"
	"net/netip"
	"reflect"
	"slices"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/filter"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.uber.org/zap"

	"github.com/ebpftap/ebpftap/internal/capture"
	"github.com/ebpftap/ebpftap/internal/tap"
	"github.com/ebpftap/ebpftap/internal/wireproto"
	"github.com/ebpftap/ebpftap/receiver/ebpftapreceiver/internal/metadata"
	"github.com/ebpftap/ebpftap/receiver/ebpftapreceiver/internal/redact"
)

// sumKind says which generated sum metric a series belongs to.
type sumKind uint8

const (
	sumOpened sumKind = iota
	sumClosed
	sumIO
	sumActive // up and down: opened and not yet closed
)

// sumKey names one series of the connection metrics within a process.
type sumKey struct {
	kind       sumKind
	role       capture.Role
	peer       netip.Addr // unmapped
	serverPort uint16
	serverName string             // tap.Conn.ServerName: fixed at the open, so in every kind
	transmit   bool               // sumIO only
	protocol   wireproto.Protocol // sumClosed and sumIO; unknown at the open and while active
	tls        connTLS            // sumClosed and sumIO, as protocol
}

// connTLS is what is known of a connection's TLS: whether it had any, and
// the version chosen.
type connTLS struct {
	used    bool
	version string // empty when unknown
}

func tlsOf(c *tap.Conn) connTLS { return connTLS{used: c.TLS, version: c.TLSVersion} }

// nameOption is the conditionally required server.address of a connection
// metric's data point: the name DNS gave the server, where known.
func nameOption(opts []metadata.MetricAttributeOption, serverName string) []metadata.MetricAttributeOption {
	if serverName != "" {
		opts = append(opts, metadata.WithServerAddressMetricAttribute(serverName))
	}
	return opts
}

// options are the conditionally required attributes of a data point: the
// protocol and TLS, where known.
func (t connTLS) options(p wireproto.Protocol) []metadata.MetricAttributeOption {
	var opts []metadata.MetricAttributeOption
	if p != wireproto.Unknown {
		opts = append(opts, metadata.WithNetworkProtocolNameMetricAttribute(string(p)))
	}
	if t.used {
		opts = append(opts, metadata.WithTLSProtocolNameMetricAttribute("tls"))
		if t.version != "" {
			opts = append(opts, metadata.WithTLSProtocolVersionMetricAttribute(t.version))
		}
	}
	return opts
}

// connKey names one series of ebpftap.connection.duration within a process.
type connKey struct {
	role       capture.Role
	peer       netip.Addr // unmapped
	serverPort uint16
	serverName string
	protocol   wireproto.Protocol
	tls        connTLS
}

// processSeries holds the cumulative series of one process image.
type processSeries struct {
	resource pcommon.Resource
	// start is when counting began: the previous emit before the first
	// measurement, so a process seen again after eviction starts a new
	// cumulative stream instead of continuing the old one.
	start     time.Time
	excluded  bool // the resource filters of the config drop this process
	openConns int
	touched   bool // measured since the last emit
	sums      map[sumKey]uint64
	durations map[durationKey]*histogram
	lifetimes map[connKey]*histogram // ebpftap.connection.duration
}

// seriesCount is how many series ps holds, towards the bound.
func (ps *processSeries) seriesCount() int {
	return len(ps.sums) + len(ps.durations) + len(ps.lifetimes)
}

// Aggregator keeps cumulative connection and HTTP metrics per process and
// emits them on demand. It is not safe for concurrent use: the receiver calls
// it under its lock, from the engine's goroutine (connections, their bytes at
// close, transactions) and from its flusher (bytes of open connections, drops,
// emission).
//
// Series are bounded by maxSeries; a measurement that needs a new series
// past the bound is dropped and counted in ebpftap.capture.dropped. A
// process's series are forgotten once it has no open connection and nothing
// was measured between two emits, so processes that come and go do not fill
// the bound for ever.
type Aggregator struct {
	mb        *metadata.MetricsBuilder
	rb        *metadata.ResourceBuilder
	filters   resourceFilters
	hostName  string
	redact    *redact.Policy
	maxSeries int

	start     time.Time // of the aggregator: the drop counters' start
	lastEmit  time.Time
	series    int
	processes map[processKey]*processSeries
	drops     map[metadata.AttributeEbpftapDropReason]uint64 // a closed set: no bound needed
	programs  []capture.ProgramStat                          // the kernel's counts, as the engine last read them
}

// NewAggregator returns an Aggregator counting from start, with at most
// maxSeries series at once.
func NewAggregator(s Settings, maxSeries int, start time.Time) *Aggregator {
	// The builder reads only the logger (for config warnings) and the build
	// info (for the scope version) from the settings.
	set := receiver.Settings{
		ID:                component.NewID(metadata.Type),
		TelemetrySettings: component.TelemetrySettings{Logger: zap.NewNop()},
	}
	return &Aggregator{
		mb:        metadata.NewMetricsBuilder(s.Metrics, set, metadata.WithStartTime(pcommon.NewTimestampFromTime(start))),
		rb:        metadata.NewResourceBuilder(s.Metrics.ResourceAttributes),
		filters:   newResourceFilters(s.Metrics.ResourceAttributes),
		hostName:  s.HostName,
		redact:    s.Redact,
		maxSeries: maxSeries,
		start:     start,
		lastEmit:  start,
		processes: make(map[processKey]*processSeries),
		drops:     make(map[metadata.AttributeEbpftapDropReason]uint64),
	}
}

// process returns the series of p, creating them when create is set.
func (m *Aggregator) process(p *capture.Process, create bool) *processSeries {
	k := keyOf(p)
	if ps, ok := m.processes[k]; ok || !create {
		return ps
	}
	res := buildProcessResource(m.rb, p, m.hostName, m.redact)
	ps := &processSeries{
		resource:  res,
		start:     m.lastEmit,
		excluded:  !m.filters.keep(res),
		sums:      make(map[sumKey]uint64),
		durations: make(map[durationKey]*histogram),
		lifetimes: make(map[connKey]*histogram),
	}
	m.processes[k] = ps
	return ps
}

// admit reserves room for one new series, or counts the measurement that
// needed it as dropped.
func (m *Aggregator) admit() bool {
	if m.maxSeries > 0 && m.series >= m.maxSeries {
		m.RecordDrops(metadata.AttributeEbpftapDropReasonMetricSeriesLimit, 1)
		return false
	}
	m.series++
	return true
}

func (m *Aggregator) addSum(c *tap.Conn, kind sumKind, transmit bool, n uint64) {
	if c == nil || n == 0 {
		return
	}
	ps := m.process(c.Process, true)
	ps.touched = true
	if ps.excluded {
		return
	}
	k := sumKey{kind: kind, role: c.Role, peer: c.Remote.Addr().Unmap(), serverPort: serverPort(c), serverName: c.ServerName, transmit: transmit}
	if kind == sumClosed || kind == sumIO {
		k.protocol, k.tls = c.Protocol, tlsOf(c)
	}
	if _, ok := ps.sums[k]; !ok && !m.admit() {
		return
	}
	ps.sums[k] = addSat(ps.sums[k], n)
}

// serverPort is the port of the connection's server end; a connection of
// unknown role is taken as the process's own client connection, the common
// case for connections already open when capture started.
func serverPort(c *tap.Conn) uint16 {
	if c.Role == capture.RoleServer {
		return c.Local.Port()
	}
	return c.Remote.Port()
}

func addSat(a, b uint64) uint64 {
	if a+b < a {
		return math.MaxUint64
	}
	return a + b
}

// ConnOpened counts a connection opened and open.
func (m *Aggregator) ConnOpened(c *tap.Conn) {
	if c == nil {
		return
	}
	m.process(c.Process, true).openConns++
	m.addSum(c, sumOpened, false, 1)
	m.addSum(c, sumActive, false, 1)
}

// ConnClosed counts a connection closed and no longer open.
func (m *Aggregator) ConnClosed(c *tap.Conn) {
	if c == nil {
		return
	}
	// The engine may report closing a connection it saw open before capture
	// started, without a matching open.
	if ps := m.process(c.Process, true); ps.openConns > 0 {
		ps.openConns--
	}
	m.addSum(c, sumClosed, false, 1)
	m.endActive(c)
	m.recordLifetime(c)
}

// endActive takes a closed connection out of its active series. One the
// engine saw open before capture started was never in it.
func (m *Aggregator) endActive(c *tap.Conn) {
	ps := m.process(c.Process, true)
	k := sumKey{kind: sumActive, role: c.Role, peer: c.Remote.Addr().Unmap(), serverPort: serverPort(c), serverName: c.ServerName}
	if ps.sums[k] > 0 {
		ps.sums[k]--
	}
}

// recordLifetime adds a closed connection's duration, open to close, to its
// process's ebpftap.connection.duration. A connection open before capture
// started has no known opening and is left out.
func (m *Aggregator) recordLifetime(c *tap.Conn) {
	if c.Opened.IsZero() || c.Closed.Before(c.Opened) || c.Role == capture.RoleUnknown {
		return
	}
	ps := m.process(c.Process, true)
	if ps.excluded {
		return
	}
	k := connKey{role: c.Role, peer: c.Remote.Addr().Unmap(), serverPort: serverPort(c), serverName: c.ServerName, protocol: c.Protocol, tls: tlsOf(c)}
	h, ok := ps.lifetimes[k]
	if !ok {
		if !m.admit() {
			return
		}
		h = newHistogram(connectionBuckets)
		ps.lifetimes[k] = h
	}
	h.record(c.Closed.Sub(c.Opened).Seconds())
}

// AddIO counts payload bytes sent and received since the previous call for c.
func (m *Aggregator) AddIO(c *tap.Conn, io tap.IO) {
	m.addSum(c, sumIO, true, io.Sent)
	m.addSum(c, sumIO, false, io.Recv)
}

// RecordDrops counts items the engine, the parsers or the pipeline lost.
func (m *Aggregator) RecordDrops(reason metadata.AttributeEbpftapDropReason, n uint64) {
	if n > 0 {
		m.drops[reason] = addSat(m.drops[reason], n)
	}
}

// SetPrograms keeps the kernel's latest counts of the capture's BPF
// programs, cumulative since they were loaded; nil emits none.
func (m *Aggregator) SetPrograms(stats []capture.ProgramStat) { m.programs = stats }

// RecordTransaction adds a transaction, described by v, to the duration
// histograms of c's process: an HTTP request's, or a gRPC call's.
func (m *Aggregator) RecordTransaction(c *tap.Conn, v *View) {
	if v == nil {
		return
	}
	var p *capture.Process
	if c != nil {
		p = c.Process
	}
	ps := m.process(p, true)
	ps.touched = true
	if ps.excluded {
		return
	}
	k := durationKey{server: v.server, method: v.method, status: v.status, errorType: v.httpErrorType, proto: v.proto}
	switch {
	case v.rpc != nil:
		k = durationKey{rpc: true, server: v.server, method: v.rpc.method, rpcStatus: v.rpc.status,
			serverAddress: v.serverAddress, serverPort: v.serverPort}
		if v.isError {
			k.errorType = v.errorType
		}
	case v.server:
		k.scheme = v.scheme
	default:
		k.serverAddress, k.serverPort = v.serverAddress, v.serverPort
	}
	h, ok := ps.durations[k]
	if !ok {
		if !m.admit() {
			return
		}
		h = newHistogram(durationBuckets)
		ps.durations[k] = h
	}
	h.record(v.end.Sub(v.start).Seconds())
}

// Emit returns every series' cumulative value at now: one resource per
// process, then the capture losses and the kernel's counts of its programs
// under a resource naming only the host.
func (m *Aggregator) Emit(now time.Time) pmetric.Metrics {
	out := pmetric.NewMetrics()
	ts := pcommon.NewTimestampFromTime(now)

	keys := make([]processKey, 0, len(m.processes))
	for k := range m.processes {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b processKey) int {
		return cmp.Or(cmp.Compare(a.pid, b.pid), cmp.Compare(a.start, b.start), cmp.Compare(a.exe, b.exe))
	})
	for _, k := range keys {
		ps := m.processes[k]
		if !ps.excluded && ps.seriesCount() > 0 {
			m.emitProcess(out, ps, ts)
		}
	}

	if len(m.drops) > 0 || len(m.programs) > 0 {
		reasons := slices.SortedFunc(maps.Keys(m.drops), func(a, b metadata.AttributeEbpftapDropReason) int {
			return cmp.Compare(a.String(), b.String())
		})
		for _, r := range reasons {
			m.mb.RecordEbpftapCaptureDroppedDataPoint(ts, toInt64(m.drops[r]), r)
		}
		for _, p := range m.programs {
			m.mb.RecordEbpftapCaptureProgramRunsDataPoint(ts, toInt64(p.Runs), p.Name)
			m.mb.RecordEbpftapCaptureProgramTimeDataPoint(ts, p.Runtime.Seconds(), p.Name)
		}
		if m.hostName != "" {
			m.rb.SetHostName(validUTF8(m.hostName))
		}
		emitted := m.mb.Emit(metadata.WithResource(m.rb.Emit()),
			metadata.WithStartTimeOverride(pcommon.NewTimestampFromTime(m.start)))
		emitted.ResourceMetrics().MoveAndAppendTo(out.ResourceMetrics())
	}

	for k, ps := range m.processes {
		if !ps.touched && ps.openConns == 0 {
			m.series -= ps.seriesCount()
			delete(m.processes, k)
			continue
		}
		ps.touched = false
	}
	m.lastEmit = now
	return out
}

func (m *Aggregator) emitProcess(out pmetric.Metrics, ps *processSeries, ts pcommon.Timestamp) {
	keys := make([]sumKey, 0, len(ps.sums))
	for k := range ps.sums {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compareSumKeys)
	for _, k := range keys {
		val := toInt64(ps.sums[k])
		role, peer, port := roleAttr(k.role), "", int64(k.serverPort)
		if k.peer.IsValid() {
			peer = k.peer.String()
		}
		tr, nt := metadata.AttributeNetworkTransportTCP, networkType(k.peer)
		switch k.kind {
		case sumOpened:
			m.mb.RecordEbpftapConnectionOpenedDataPoint(ts, val, role, peer, port, tr, nt, nameOption(nil, k.serverName)...)
		case sumClosed:
			m.mb.RecordEbpftapConnectionClosedDataPoint(ts, val, role, peer, port, tr, nt, nameOption(k.tls.options(k.protocol), k.serverName)...)
		case sumActive:
			m.mb.RecordEbpftapConnectionActiveDataPoint(ts, val, role, peer, port, tr, nt, nameOption(nil, k.serverName)...)
		case sumIO:
			dir := metadata.AttributeNetworkIoDirectionReceive
			if k.transmit {
				dir = metadata.AttributeNetworkIoDirectionTransmit
			}
			m.mb.RecordEbpftapConnectionIoDataPoint(ts, val, role, peer, port, tr, nt, dir, nameOption(k.tls.options(k.protocol), k.serverName)...)
		}
	}
	start := pcommon.NewTimestampFromTime(ps.start)
	emitted := m.mb.Emit(metadata.WithResource(ps.resource), metadata.WithStartTimeOverride(start))

	var rm pmetric.ResourceMetrics
	switch {
	case emitted.ResourceMetrics().Len() > 0:
		rm = emitted.ResourceMetrics().At(0)
	case len(ps.durations) > 0 || len(ps.lifetimes) > 0:
		// The builder emits nothing for a process with no sums; give its
		// histograms the same resource and scope the builder would have.
		rm = emitted.ResourceMetrics().AppendEmpty()
		rm.SetSchemaUrl(semconv.SchemaURL)
		ps.resource.CopyTo(rm.Resource())
		rm.ScopeMetrics().AppendEmpty().Scope().SetName(metadata.ScopeName)
	default:
		return
	}
	if len(ps.durations) > 0 {
		appendDurations(rm.ScopeMetrics().At(0).Metrics(), ps.durations, start, ts)
	}
	if len(ps.lifetimes) > 0 {
		appendLifetimes(rm.ScopeMetrics().At(0).Metrics(), ps.lifetimes, start, ts)
	}
	emitted.ResourceMetrics().MoveAndAppendTo(out.ResourceMetrics())
}

func compareSumKeys(a, b sumKey) int {
	return cmp.Or(
		cmp.Compare(a.kind, b.kind),
		cmp.Compare(a.role, b.role),
		a.peer.Compare(b.peer),
		cmp.Compare(a.serverPort, b.serverPort),
		cmp.Compare(a.serverName, b.serverName),
		compareBool(a.transmit, b.transmit),
		cmp.Compare(a.protocol, b.protocol),
		compareTLS(a.tls, b.tls),
	)
}

func compareTLS(a, b connTLS) int {
	return cmp.Or(compareBool(a.used, b.used), cmp.Compare(a.version, b.version))
}

func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

func roleAttr(r capture.Role) metadata.AttributeEbpftapConnectionRole {
	switch r {
	case capture.RoleClient:
		return metadata.AttributeEbpftapConnectionRoleClient
	case capture.RoleServer:
		return metadata.AttributeEbpftapConnectionRoleServer
	}
	return metadata.AttributeEbpftapConnectionRoleUnknown
}

func networkType(a netip.Addr) metadata.AttributeNetworkType {
	if a.Is6() {
		return metadata.AttributeNetworkTypeIpv6
	}
	return metadata.AttributeNetworkTypeIpv4
}

func toInt64(v uint64) int64 {
	if v > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(v)
}

// resourceFilters applies the metrics_include and metrics_exclude filters of
// the resource attribute config, as the generated MetricsBuilder does, so the
// histograms built outside it drop the same processes. The config struct is
// walked by reflection so a resource attribute added to metadata.yaml cannot
// be missed here.
type resourceFilters struct {
	include, exclude map[string]filter.Filter
}

func newResourceFilters(cfg metadata.ResourceAttributesConfig) resourceFilters {
	f := resourceFilters{include: map[string]filter.Filter{}, exclude: map[string]filter.Filter{}}
	v := reflect.ValueOf(cfg)
	for i := 0; i < v.NumField(); i++ {
		name := v.Type().Field(i).Tag.Get("mapstructure")
		rac, ok := v.Field(i).Interface().(metadata.ResourceAttributeConfig)
		if !ok || name == "" {
			continue
		}
		if rac.MetricsInclude != nil {
			f.include[name] = filter.CreateFilter(rac.MetricsInclude)
		}
		if rac.MetricsExclude != nil {
			f.exclude[name] = filter.CreateFilter(rac.MetricsExclude)
		}
	}
	return f
}

func (f resourceFilters) keep(res pcommon.Resource) bool {
	for name, fl := range f.include {
		if v, ok := res.Attributes().Get(name); ok && !fl.Matches(v.AsString()) {
			return false
		}
	}
	for name, fl := range f.exclude {
		if v, ok := res.Attributes().Get(name); ok && fl.Matches(v.AsString()) {
			return false
		}
	}
	return true
}
