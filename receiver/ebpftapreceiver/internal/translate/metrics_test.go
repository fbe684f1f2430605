package translate

import (
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/pmetrictest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/filter"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/ebpftap/ebpftap/internal/capture"
	"github.com/ebpftap/ebpftap/internal/httpparse"
	"github.com/ebpftap/ebpftap/internal/tap"
	"github.com/ebpftap/ebpftap/internal/wireproto"
	"github.com/ebpftap/ebpftap/receiver/ebpftapreceiver/internal/metadata"
)

func checkMetricsGolden(t *testing.T, path string, actual pmetric.Metrics) {
	t.Helper()
	if *update {
		// The writer sorts what it writes; keep actual as emitted.
		c := pmetric.NewMetrics()
		actual.CopyTo(c)
		require.NoError(t, golden.WriteMetricsToFile(path, c, golden.SkipMetricTimestampNormalization()))
	}
	expected, err := golden.ReadMetrics(path)
	require.NoError(t, err)
	require.NoError(t, pmetrictest.CompareMetrics(expected, actual,
		pmetrictest.IgnoreResourceMetricsOrder(), pmetrictest.IgnoreMetricsOrder(), pmetrictest.IgnoreMetricDataPointsOrder()))
}

func metricsClientTx(status int, startMs, endMs int) *httpparse.Transaction {
	var rs *httpparse.Response
	if status != 0 {
		rs = txResp(status, startMs+1, endMs, nil, 0)
	}
	return &httpparse.Transaction{Request: txReq("GET", "/", startMs, startMs+1, txHeaders("Host", "api.example.com")), Response: rs}
}

// record adds tx on c to m's histograms, described as the receiver does.
func record(m *Aggregator, c *tap.Conn, tx *httpparse.Transaction) {
	m.RecordTransaction(c, describeView(c, tx))
}

// describeView is tx's view at level summary with the tests' redaction, as
// a sampled transaction's, nil when it has none.
func describeView(c *tap.Conn, tx *httpparse.Transaction) *View {
	v := new(View)
	s := newDescribeSettings(translateSettings(LevelSummary).Redact, LevelSummary)
	if !describe(c, tx, &s, v) {
		return nil
	}
	describeSpan(&s, v)
	return v
}

func TestMetricsGolden(t *testing.T) {
	m := NewAggregator(translateSettings(LevelSummary), 100, txBase)

	m.ConnOpened(connClient)
	m.AddIO(connClient, tap.IO{Sent: 120, Recv: 800})
	record(m, connClient, metricsClientTx(200, 0, 25))
	record(m, connClient, metricsClientTx(200, 100, 3100))
	record(m, connClient, metricsClientTx(200, 200, 210)) // on a bucket boundary: (0.005, 0.01]
	record(m, connClient, metricsClientTx(404, 300, 304))
	record(m, connClient, metricsClientTx(0, 400, 401))
	record(m, connClient, &httpparse.Transaction{ // _OTHER, never in a histogram as sent
		Request:  txReq("PURGE", "/cache", 500, 501, txHeaders("Host", "api.example.com")),
		Response: txResp(200, 502, 503, nil, 0),
	})

	m.ConnOpened(connServer)
	record(m, connServer, &httpparse.Transaction{
		Request: txReq("POST", "/orders", 0, 1, txHeaders("Host", "frontend.example.com")), Response: txResp(500, 2, 60, nil, 0),
	})
	record(m, connServer, &httpparse.Transaction{
		Request: txReq("GET", "/x", 0, 1, txHeaders("Host", "frontend.example.com")), Response: txResp(404, 2, 3, nil, 0),
	})
	// gRPC calls go to the RPC call durations, not the HTTP ones.
	record(m, connServer, &httpparse.Transaction{
		Request: grpcReq("/shop.v1.Orders/Place", 0, 1), Response: grpcResp(nil, 2, 40, "grpc-status", "13"),
	})
	record(m, connServer, &httpparse.Transaction{
		Request: grpcReq("/shop.v1.Orders/Place", 0, 1), Response: grpcResp(nil, 2, 8, "grpc-status", "0"),
	})
	record(m, connClient, &httpparse.Transaction{
		Request: grpcReq("/grpc.health.v1.Health/Check", 0, 1), Response: grpcResp(txHeaders("grpc-status", "5"), 2, 2),
	})
	m.AddIO(connServer, tap.IO{Sent: 300, Recv: 100})
	m.ConnClosed(closedAt(connServer, wireproto.HTTP, 1500*time.Millisecond))
	// A Redis connection: named by the tap, counted by protocol, no request;
	// its server named by DNS.
	redis := &tap.Conn{ID: 10, Process: procCurl, Role: capture.RoleClient,
		Local: connClient.Local, Remote: netip.MustParseAddrPort("10.0.0.7:6379"), ServerName: "cache.internal.example"}
	m.ConnOpened(redis)
	m.ConnClosed(closedAt(redis, wireproto.Redis, 40*time.Millisecond))
	// HTTPS: the protocol of its plaintext, and its TLS version.
	m.ConnOpened(connTLSClient)
	m.ConnClosed(closedAt(connTLSClient, wireproto.HTTP, 2*time.Second))
	m.ConnOpened(connMapped)

	m.ConnOpened(connIPv6)
	m.AddIO(connIPv6, tap.IO{Sent: 10, Recv: 0})
	m.ConnOpened(&tap.Conn{ID: 9, Process: procCurl, Role: capture.RoleUnknown,
		Local: connClient.Local, Remote: netip.MustParseAddrPort("198.51.100.1:443")})

	m.RecordDrops(metadata.AttributeEbpftapDropReasonRingBufferFull, 3)
	m.RecordDrops(metadata.AttributeEbpftapDropReasonHTTPMalformed, 0) // nothing lost, no series

	checkMetricsGolden(t, filepath.Join("testdata", "metrics", "first.yaml"), m.Emit(txBase.Add(10*time.Second)))

	// Cumulative: the second emit carries the first interval's counts too.
	m.AddIO(connClient, tap.IO{Sent: 1, Recv: 1})
	record(m, connClient, metricsClientTx(200, 10000, 10020))
	m.ConnClosed(closedAt(connClient, wireproto.HTTP, 15*time.Second))
	m.RecordDrops(metadata.AttributeEbpftapDropReasonRingBufferFull, 2)
	checkMetricsGolden(t, filepath.Join("testdata", "metrics", "second.yaml"), m.Emit(txBase.Add(20*time.Second)))
}

// TestMetricsSeriesLimit checks the bound holds and every measurement it
// refused is counted.
func TestMetricsSeriesLimit(t *testing.T) {
	m := NewAggregator(translateSettings(LevelSummary), 3, txBase)
	m.ConnOpened(connClient)                          // opened and active: series 1 and 2
	m.AddIO(connClient, tap.IO{Sent: 10, Recv: 20})   // transmit is series 3; receive refused
	record(m, connClient, metricsClientTx(200, 0, 5)) // refused
	m.ConnOpened(connServer)                          // opened and active refused
	m.ConnOpened(connClient)                          // existing series: counted
	m.AddIO(connClient, tap.IO{Sent: 5, Recv: 0})     // existing series: counted
	assert.Equal(t, 3, m.series)

	md := m.Emit(txBase.Add(time.Second))
	assert.Equal(t, map[string]int64{
		"ebpftap.connection.opened{client}":            2,
		"ebpftap.connection.active{client}":            2,
		"ebpftap.connection.io{client,transmit}":       15,
		"ebpftap.capture.dropped{metric_series_limit}": 4,
	}, sumValues(md))
	assert.Equal(t, 0, countHistogramPoints(md))
}

// TestMetricsEviction checks an idle process's series are forgotten after
// their last values were emitted, freeing the bound, and that its next
// series start a new cumulative stream.
func TestMetricsEviction(t *testing.T) {
	m := NewAggregator(translateSettings(LevelSummary), 10, txBase)
	m.ConnOpened(connServer)
	record(m, connServer, &httpparse.Transaction{Request: txReq("GET", "/", 0, 1, nil), Response: txResp(200, 1, 2, nil, 0)})
	m.ConnClosed(connServer)
	m.ConnOpened(connClient) // stays open: never evicted

	t1, t2, t3 := txBase.Add(time.Second), txBase.Add(2*time.Second), txBase.Add(3*time.Second)
	// nginx: opened, active (0 again), closed, http.server.request.duration
	assert.Equal(t, 4, countResources(m.Emit(t1), procNginx.PID), "touched in the interval")
	assert.Equal(t, 4, countResources(m.Emit(t2), procNginx.PID), "idle, last values emitted once more")
	assert.Equal(t, 0, countResources(m.Emit(t3), procNginx.PID), "forgotten")
	assert.Equal(t, 2, countResources(m.Emit(t3), procCurl.PID), "open connection keeps the process") // opened, active
	assert.Equal(t, 2, m.series, "the evicted series no longer count")

	m.ConnOpened(connServer)
	md := m.Emit(t3.Add(time.Second))
	rm := findResource(t, md, procNginx.PID)
	dp := rm.ScopeMetrics().At(0).Metrics().At(0).Sum().DataPoints().At(0)
	assert.Equal(t, pcommon.NewTimestampFromTime(t3), dp.StartTimestamp(), "a new stream starts at the last emit")
	assert.Equal(t, int64(1), dp.IntValue())
}

// TestMetricsDropReasons checks every reason is its own series, named by
// its value, and that counts add up.
func TestMetricsDropReasons(t *testing.T) {
	m := NewAggregator(translateSettings(LevelSummary), 10, txBase)
	for _, reason := range metadata.MapAttributeEbpftapDropReason {
		m.RecordDrops(reason, 1)
	}
	m.RecordDrops(metadata.AttributeEbpftapDropReasonPipelineBusy, 2)
	values := sumValues(m.Emit(txBase.Add(time.Second)))
	require.Len(t, values, len(metadata.MapAttributeEbpftapDropReason))
	for name := range metadata.MapAttributeEbpftapDropReason {
		want := int64(1)
		if name == "pipeline_busy" {
			want = 3
		}
		assert.Equal(t, want, values["ebpftap.capture.dropped{"+name+"}"], name)
	}
}

// TestMetricsPrograms checks that the kernel's counts of the capture's
// programs are emitted as they were last set, under the host's resource,
// only when their metrics are enabled.
func TestMetricsPrograms(t *testing.T) {
	programs := []capture.ProgramStat{
		{Name: "enter_read", Runs: 40, Runtime: 12 * time.Microsecond},
		{Name: "go_tls_enter", Runs: 8, Runtime: 5 * time.Microsecond},
	}
	off := NewAggregator(translateSettings(LevelSummary), 10, txBase)
	off.SetPrograms(programs)
	assert.Equal(t, 0, off.Emit(txBase.Add(time.Second)).MetricCount(), "disabled by default")

	cfg := translateSettings(LevelSummary)
	cfg.Metrics.Metrics.EbpftapCaptureProgramRuns.Enabled = true
	cfg.Metrics.Metrics.EbpftapCaptureProgramTime.Enabled = true
	m := NewAggregator(cfg, 10, txBase)
	m.SetPrograms(programs)
	m.Emit(txBase.Add(time.Second))
	programs[0].Runs, programs[0].Runtime = 50, 15*time.Microsecond
	m.SetPrograms(programs)
	md := m.Emit(txBase.Add(2 * time.Second))

	require.Equal(t, 1, md.ResourceMetrics().Len())
	res := md.ResourceMetrics().At(0)
	assert.Equal(t, map[string]any{"host.name": "host-1"}, res.Resource().Attributes().AsRaw())
	got := map[string]float64{}
	for _, sm := range res.ScopeMetrics().All() {
		for _, m := range sm.Metrics().All() {
			require.Equal(t, pmetric.MetricTypeSum, m.Type(), m.Name())
			assert.True(t, m.Sum().IsMonotonic(), m.Name())
			assert.Equal(t, pmetric.AggregationTemporalityCumulative, m.Sum().AggregationTemporality(), m.Name())
			for _, dp := range m.Sum().DataPoints().All() {
				name, _ := dp.Attributes().Get("ebpftap.program.name")
				assert.Equal(t, pcommon.NewTimestampFromTime(txBase), dp.StartTimestamp(), m.Name())
				v := dp.DoubleValue()
				if dp.ValueType() == pmetric.NumberDataPointValueTypeInt {
					v = float64(dp.IntValue())
				}
				got[m.Name()+"{"+name.Str()+"}"] = v
			}
		}
	}
	assert.Equal(t, map[string]float64{
		"ebpftap.capture.program.runs{enter_read}":   50,
		"ebpftap.capture.program.runs{go_tls_enter}": 8,
		"ebpftap.capture.program.time{enter_read}":   15e-6,
		"ebpftap.capture.program.time{go_tls_enter}": 5e-6,
	}, got)

	m.SetPrograms(nil)
	assert.Equal(t, 0, m.Emit(txBase.Add(3*time.Second)).MetricCount(), "nothing without counts")
}

// TestMetricsResourceFilter checks the resource attribute filters drop a
// process's histograms along with the sums the generated builder drops.
func TestMetricsResourceFilter(t *testing.T) {
	cfg := translateSettings(LevelSummary)
	cfg.Metrics.ResourceAttributes.ProcessExecutableName.MetricsInclude = []filter.Config{{Strict: "nginx"}}
	m := NewAggregator(cfg, 100, txBase)
	record(m, connClient, metricsClientTx(200, 0, 5)) // curl: histogram only
	m.ConnOpened(connServer)
	record(m, connServer, &httpparse.Transaction{Request: txReq("GET", "/", 0, 1, nil), Response: txResp(200, 1, 2, nil, 0)})
	md := m.Emit(txBase.Add(time.Second))
	assert.Equal(t, 0, countResources(md, procCurl.PID))
	assert.Equal(t, 3, countResources(md, procNginx.PID)) // opened, active, duration
	assert.Equal(t, 1, countHistogramPoints(md))
	assert.Equal(t, 3, m.series, "filtered processes hold no series")
}

func TestMetricsOddInputs(t *testing.T) {
	cfg := translateSettings(LevelSummary)
	cfg.HostName = ""
	m := NewAggregator(cfg, 10, txBase)
	m.ConnOpened(nil)
	m.ConnClosed(nil)
	m.AddIO(nil, tap.IO{Sent: 1, Recv: 1})
	record(m, nil, nil)
	record(m, connClient, &httpparse.Transaction{})
	record(m, &tap.Conn{}, &httpparse.Transaction{Request: &httpparse.Request{}})
	m.ConnClosed(&tap.Conn{Process: procCurl}) // a close without an open
	md := m.Emit(txBase.Add(time.Second))
	assert.Equal(t, 1, countHistogramPoints(md))
	_, err := (&pmetric.ProtoMarshaler{}).MarshalMetrics(md)
	require.NoError(t, err)
}

// sumValues maps "name{attr values}" to the value of every sum data point,
// with the role and direction as the interesting attributes.
func sumValues(md pmetric.Metrics) map[string]int64 {
	out := map[string]int64{}
	for i := 0; i < md.ResourceMetrics().Len(); i++ {
		ms := md.ResourceMetrics().At(i).ScopeMetrics().At(0).Metrics()
		for j := 0; j < ms.Len(); j++ {
			if ms.At(j).Type() != pmetric.MetricTypeSum {
				continue
			}
			dps := ms.At(j).Sum().DataPoints()
			for k := 0; k < dps.Len(); k++ {
				attrs := dps.At(k).Attributes()
				var parts []string
				for _, name := range []string{"ebpftap.drop.reason", "ebpftap.connection.role", "network.io.direction"} {
					if v, ok := attrs.Get(name); ok {
						parts = append(parts, v.AsString())
					}
				}
				key := ms.At(j).Name() + "{" + strings.Join(parts, ",") + "}"
				out[key] += dps.At(k).IntValue()
			}
		}
	}
	return out
}

func countHistogramPoints(md pmetric.Metrics) int {
	n := 0
	for i := 0; i < md.ResourceMetrics().Len(); i++ {
		ms := md.ResourceMetrics().At(i).ScopeMetrics().At(0).Metrics()
		for j := 0; j < ms.Len(); j++ {
			if ms.At(j).Type() == pmetric.MetricTypeHistogram {
				n += ms.At(j).Histogram().DataPoints().Len()
			}
		}
	}
	return n
}

// countResources counts the metrics of the resource of pid in md.
func countResources(md pmetric.Metrics, pid int) int {
	for i := 0; i < md.ResourceMetrics().Len(); i++ {
		rm := md.ResourceMetrics().At(i)
		if v, ok := rm.Resource().Attributes().Get("process.pid"); ok && v.Int() == int64(pid) {
			return rm.ScopeMetrics().At(0).Metrics().Len()
		}
	}
	return 0
}

func findResource(t *testing.T, md pmetric.Metrics, pid int) pmetric.ResourceMetrics {
	t.Helper()
	for i := 0; i < md.ResourceMetrics().Len(); i++ {
		rm := md.ResourceMetrics().At(i)
		if v, ok := rm.Resource().Attributes().Get("process.pid"); ok && v.Int() == int64(pid) {
			return rm
		}
	}
	require.FailNow(t, "no resource for pid", pid)
	return pmetric.ResourceMetrics{}
}

// closedAt is c as the tap hands it over at its close: named, opened at
// txBase and closed after lived.
func closedAt(c *tap.Conn, p wireproto.Protocol, lived time.Duration) *tap.Conn {
	closed := *c
	closed.Protocol, closed.Opened, closed.Closed = p, txBase, txBase.Add(lived)
	return &closed
}
