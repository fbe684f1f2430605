package translate

import (
	"cmp"
	"maps"
	"slices"
	"sort"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/semconv/v1.40.0/httpconv"
	"go.opentelemetry.io/otel/semconv/v1.40.0/rpcconv"

	"github.com/ebpftap/ebpftap/internal/wireproto"
)

// durationBuckets are the explicit bucket boundaries semantic conventions
// v1.40.0 advise for http.client.request.duration and
// http.server.request.duration; the RPC call durations use them too.
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// durationKey names one series of the duration histograms within a process:
// the attributes semantic conventions require or recommend, the opt-in ones
// left out. A gRPC call is an RPC, counted in rpc.*.call.duration, not in
// the HTTP request durations: its span is an RPC span too.
type durationKey struct {
	rpc           bool
	server        bool
	method        string // http.request.method, or rpc.method
	status        int    // 0 without a response
	rpcStatus     string // rpc.response.status_code; empty when unknown
	errorType     string
	serverAddress string // HTTP: client only
	serverPort    int    // HTTP: client only
	proto         string // HTTP only
	scheme        string // HTTP: server only
}

// connectionBuckets are the bounds of ebpftap.connection.duration: from a
// request's few milliseconds to a pooled connection's hour.
var connectionBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600}

// histogram is one cumulative series with explicit bounds.
type histogram struct {
	bounds   []float64 // shared, never changed
	buckets  []uint64  // len(bounds)+1
	count    uint64
	sum      float64
	min, max float64
}

func newHistogram(bounds []float64) *histogram {
	return &histogram{bounds: bounds, buckets: make([]uint64, len(bounds)+1)}
}

func (h *histogram) record(v float64) {
	i := sort.SearchFloat64s(h.bounds, v) // bucket i holds (bounds[i-1], bounds[i]]
	h.buckets[i]++
	if h.count == 0 || v < h.min {
		h.min = v
	}
	if h.count == 0 || v > h.max {
		h.max = v
	}
	h.count++
	h.sum += v
}

// appendDurations adds the request and call duration histograms. mdatagen v0.159
// generates MetricsBuilder code for sums and gauges only (its histogram
// support covers the collector's own telemetry), so these are built with
// pmetric directly, with names, units and descriptions from semconv.
func appendDurations(ms pmetric.MetricSlice, durations map[durationKey]*histogram, start, ts pcommon.Timestamp) {
	keys := make([]durationKey, 0, len(durations))
	for k := range durations {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compareDurationKeys)

	// Keys sort by metric first, so each metric is created once.
	var dps pmetric.HistogramDataPointSlice
	for i, k := range keys {
		if i == 0 || k.rpc != keys[i-1].rpc || k.server != keys[i-1].server {
			switch {
			case k.rpc && k.server:
				d := rpcconv.ServerCallDuration{}
				dps = newDurationMetric(ms, d.Name(), d.Description(), d.Unit())
			case k.rpc:
				d := rpcconv.ClientCallDuration{}
				dps = newDurationMetric(ms, d.Name(), d.Description(), d.Unit())
			case k.server:
				d := httpconv.ServerRequestDuration{}
				dps = newDurationMetric(ms, d.Name(), d.Description(), d.Unit())
			default:
				d := httpconv.ClientRequestDuration{}
				dps = newDurationMetric(ms, d.Name(), d.Description(), d.Unit())
			}
		}
		dp := dps.AppendEmpty()
		durations[k].putTo(dp, start, ts)
		putDurationAttributes(dp.Attributes(), k)
	}
}

func (h *histogram) putTo(dp pmetric.HistogramDataPoint, start, ts pcommon.Timestamp) {
	dp.SetStartTimestamp(start)
	dp.SetTimestamp(ts)
	dp.SetCount(h.count)
	dp.SetSum(h.sum)
	dp.SetMin(h.min)
	dp.SetMax(h.max)
	dp.ExplicitBounds().FromRaw(h.bounds)
	dp.BucketCounts().FromRaw(h.buckets)
}

func newDurationMetric(ms pmetric.MetricSlice, name, description, unit string) pmetric.HistogramDataPointSlice {
	m := ms.AppendEmpty()
	m.SetName(name)
	m.SetDescription(description)
	m.SetUnit(unit)
	h := m.SetEmptyHistogram()
	h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	return h.DataPoints()
}

func putDurationAttributes(attrs pcommon.Map, k durationKey) {
	if k.rpc {
		putCallDurationAttributes(attrs, k)
		return
	}
	attrs.PutStr(string(semconv.HTTPRequestMethodKey), k.method)
	if k.status != 0 {
		attrs.PutInt(string(semconv.HTTPResponseStatusCodeKey), int64(k.status))
	}
	if k.errorType != "" {
		attrs.PutStr(string(semconv.ErrorTypeKey), k.errorType)
	}
	if k.proto != "" {
		attrs.PutStr(string(semconv.NetworkProtocolVersionKey), k.proto)
	}
	if k.server {
		attrs.PutStr(string(semconv.URLSchemeKey), k.scheme)
		return
	}
	attrs.PutStr(string(semconv.ServerAddressKey), k.serverAddress)
	if k.serverPort != 0 {
		attrs.PutInt(string(semconv.ServerPortKey), int64(k.serverPort))
	}
}

// putCallDurationAttributes writes an RPC call's: rpc.system.name,
// rpc.method, rpc.response.status_code, error.type, server.address and
// server.port (recommended on both ends).
func putCallDurationAttributes(attrs pcommon.Map, k durationKey) {
	attrs.PutStr(string(semconv.RPCSystemNameKey), rpcSystemGRPC)
	attrs.PutStr(string(semconv.RPCMethodKey), k.method)
	if k.rpcStatus != "" {
		attrs.PutStr(string(semconv.RPCResponseStatusCodeKey), k.rpcStatus)
	}
	if k.errorType != "" {
		attrs.PutStr(string(semconv.ErrorTypeKey), k.errorType)
	}
	if k.serverAddress != "" {
		attrs.PutStr(string(semconv.ServerAddressKey), k.serverAddress)
	}
	if k.serverPort != 0 {
		attrs.PutInt(string(semconv.ServerPortKey), int64(k.serverPort))
	}
}

func compareDurationKeys(a, b durationKey) int {
	return cmp.Or(
		compareBool(a.rpc, b.rpc),
		compareBool(a.server, b.server),
		cmp.Compare(a.method, b.method),
		cmp.Compare(a.status, b.status),
		cmp.Compare(a.rpcStatus, b.rpcStatus),
		cmp.Compare(a.errorType, b.errorType),
		cmp.Compare(a.serverAddress, b.serverAddress),
		cmp.Compare(a.serverPort, b.serverPort),
		cmp.Compare(a.proto, b.proto),
		cmp.Compare(a.scheme, b.scheme),
	)
}

// appendLifetimes adds ebpftap.connection.duration, built by hand for the
// reason appendDurations gives. Its attributes are the connection metrics'.
func appendLifetimes(ms pmetric.MetricSlice, lifetimes map[connKey]*histogram, start, ts pcommon.Timestamp) {
	keys := slices.SortedFunc(maps.Keys(lifetimes), func(a, b connKey) int {
		return cmp.Or(cmp.Compare(a.role, b.role), a.peer.Compare(b.peer),
			cmp.Compare(a.serverPort, b.serverPort), cmp.Compare(a.serverName, b.serverName),
			cmp.Compare(a.protocol, b.protocol), compareTLS(a.tls, b.tls))
	})
	dps := newDurationMetric(ms, metricConnectionDuration,
		"How long the process's TCP connections were open, from connect or accept to close.", "s")
	for _, k := range keys {
		dp := dps.AppendEmpty()
		lifetimes[k].putTo(dp, start, ts)
		attrs := dp.Attributes()
		attrs.PutStr("ebpftap.connection.role", roleAttr(k.role).String())
		if k.peer.IsValid() {
			attrs.PutStr(string(semconv.NetworkPeerAddressKey), k.peer.String())
		}
		attrs.PutInt(string(semconv.ServerPortKey), int64(k.serverPort))
		attrs.PutStr(string(semconv.NetworkTransportKey), "tcp")
		attrs.PutStr(string(semconv.NetworkTypeKey), networkType(k.peer).String())
		if k.serverName != "" {
			attrs.PutStr(string(semconv.ServerAddressKey), k.serverName)
		}
		if k.protocol != wireproto.Unknown {
			attrs.PutStr(string(semconv.NetworkProtocolNameKey), string(k.protocol))
		}
		if k.tls.used {
			attrs.PutStr(string(semconv.TLSProtocolNameKey), "tls")
			if k.tls.version != "" {
				attrs.PutStr(string(semconv.TLSProtocolVersionKey), k.tls.version)
			}
		}
	}
}
