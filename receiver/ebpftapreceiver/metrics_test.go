package ebpftapreceiver

import (
	"net/netip"
	"path/filepath"
	"strconv"
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

func TestMetricsGolden(t *testing.T) {
	m := newMetricsAggregatorAt(translateConfig(LevelSummary), "host-1", 100, txBase)

	m.connOpened(connClient)
	m.addIO(connClient, 120, 800)
	m.recordTransaction(connClient, metricsClientTx(200, 0, 25))
	m.recordTransaction(connClient, metricsClientTx(200, 100, 3100))
	m.recordTransaction(connClient, metricsClientTx(200, 200, 210)) // on a bucket boundary: (0.005, 0.01]
	m.recordTransaction(connClient, metricsClientTx(404, 300, 304))
	m.recordTransaction(connClient, metricsClientTx(0, 400, 401))
	m.recordTransaction(connClient, &httpparse.Transaction{ // _OTHER, never in a histogram as sent
		Request:  txReq("PURGE", "/cache", 500, 501, txHeaders("Host", "api.example.com")),
		Response: txResp(200, 502, 503, nil, 0),
	})

	m.connOpened(connServer)
	m.recordTransaction(connServer, &httpparse.Transaction{
		Request: txReq("POST", "/orders", 0, 1, txHeaders("Host", "frontend.example.com")), Response: txResp(500, 2, 60, nil, 0),
	})
	m.recordTransaction(connServer, &httpparse.Transaction{
		Request: txReq("GET", "/x", 0, 1, txHeaders("Host", "frontend.example.com")), Response: txResp(404, 2, 3, nil, 0),
	})
	m.addIO(connServer, 300, 100)
	m.connClosed(connServer)
	m.connOpened(connMapped)

	m.connOpened(connIPv6)
	m.addIO(connIPv6, 10, 0)
	m.connOpened(&capture.Conn{ID: 9, Process: procCurl, Role: capture.RoleUnknown,
		Local: connClient.Local, Remote: netip.MustParseAddrPort("198.51.100.1:443")})

	m.recordDrops("ring_buffer_full", 3)
	m.recordDrops("parser_give_up", 0) // nothing lost, no series

	checkMetricsGolden(t, filepath.Join("testdata", "metrics", "first.yaml"), m.emit(txBase.Add(10*time.Second)))

	// Cumulative: the second emit carries the first interval's counts too.
	m.addIO(connClient, 1, 1)
	m.recordTransaction(connClient, metricsClientTx(200, 10000, 10020))
	m.connClosed(connClient)
	m.recordDrops("ring_buffer_full", 2)
	checkMetricsGolden(t, filepath.Join("testdata", "metrics", "second.yaml"), m.emit(txBase.Add(20*time.Second)))
}

// TestMetricsSeriesLimit checks the bound holds and every measurement it
// refused is counted.
func TestMetricsSeriesLimit(t *testing.T) {
	m := newMetricsAggregatorAt(translateConfig(LevelSummary), "host-1", 2, txBase)
	m.connOpened(connClient)                                    // series 1
	m.addIO(connClient, 10, 20)                                 // transmit is series 2; receive refused
	m.recordTransaction(connClient, metricsClientTx(200, 0, 5)) // refused
	m.connOpened(connServer)                                    // refused
	m.connOpened(connClient)                                    // existing series: counted
	m.addIO(connClient, 5, 0)                                   // existing series: counted
	assert.Equal(t, 2, m.series)

	md := m.emit(txBase.Add(time.Second))
	assert.Equal(t, map[string]int64{
		"ebpftap.connection.opened{client}":                      2,
		"ebpftap.connection.io{client,transmit}":                 15,
		"ebpftap.capture.dropped{" + dropReasonSeriesLimit + "}": 3,
	}, sumValues(md))
	assert.Equal(t, 0, countHistogramPoints(md))
}

// TestMetricsEviction checks an idle process's series are forgotten after
// their last values were emitted, freeing the bound, and that its next
// series start a new cumulative stream.
func TestMetricsEviction(t *testing.T) {
	m := newMetricsAggregatorAt(translateConfig(LevelSummary), "host-1", 10, txBase)
	m.connOpened(connServer)
	m.recordTransaction(connServer, &httpparse.Transaction{Request: txReq("GET", "/", 0, 1, nil), Response: txResp(200, 1, 2, nil, 0)})
	m.connClosed(connServer)
	m.connOpened(connClient) // stays open: never evicted

	t1, t2, t3 := txBase.Add(time.Second), txBase.Add(2*time.Second), txBase.Add(3*time.Second)
	// nginx: opened, closed, http.server.request.duration
	assert.Equal(t, 3, countResources(m.emit(t1), procNginx.PID), "touched in the interval")
	assert.Equal(t, 3, countResources(m.emit(t2), procNginx.PID), "idle, last values emitted once more")
	assert.Equal(t, 0, countResources(m.emit(t3), procNginx.PID), "forgotten")
	assert.Equal(t, 1, countResources(m.emit(t3), procCurl.PID), "open connection keeps the process")
	assert.Equal(t, 1, m.series, "the evicted series no longer count")

	m.connOpened(connServer)
	md := m.emit(t3.Add(time.Second))
	rm := findResource(t, md, procNginx.PID)
	dp := rm.ScopeMetrics().At(0).Metrics().At(0).Sum().DataPoints().At(0)
	assert.Equal(t, pcommon.NewTimestampFromTime(t3), dp.StartTimestamp(), "a new stream starts at the last emit")
	assert.Equal(t, int64(1), dp.IntValue())
}

func TestMetricsDropReasonsBounded(t *testing.T) {
	m := newMetricsAggregatorAt(translateConfig(LevelSummary), "host-1", 10, txBase)
	for i := range maxDropReasons + 5 {
		m.recordDrops("reason_"+strconv.Itoa(i), 1)
	}
	m.recordDrops("", 1)
	m.recordDrops("bad\xff", 1)
	values := sumValues(m.emit(txBase.Add(time.Second)))
	assert.Len(t, values, maxDropReasons+1)
	assert.Equal(t, int64(7), values["ebpftap.capture.dropped{_OTHER}"])
}

// TestMetricsResourceFilter checks the resource attribute filters drop a
// process's histograms along with the sums the generated builder drops.
func TestMetricsResourceFilter(t *testing.T) {
	cfg := translateConfig(LevelSummary)
	cfg.ResourceAttributes.ProcessExecutableName.MetricsInclude = []filter.Config{{Strict: "nginx"}}
	m := newMetricsAggregatorAt(cfg, "host-1", 100, txBase)
	m.recordTransaction(connClient, metricsClientTx(200, 0, 5)) // curl: histogram only
	m.connOpened(connServer)
	m.recordTransaction(connServer, &httpparse.Transaction{Request: txReq("GET", "/", 0, 1, nil), Response: txResp(200, 1, 2, nil, 0)})
	md := m.emit(txBase.Add(time.Second))
	assert.Equal(t, 0, countResources(md, procCurl.PID))
	assert.Equal(t, 2, countResources(md, procNginx.PID)) // opened, duration
	assert.Equal(t, 1, countHistogramPoints(md))
	assert.Equal(t, 2, m.series, "filtered processes hold no series")
}

func TestMetricsOddInputs(t *testing.T) {
	m := newMetricsAggregatorAt(translateConfig(LevelSummary), "", 10, txBase)
	m.connOpened(nil)
	m.connClosed(nil)
	m.addIO(nil, 1, 1)
	m.recordTransaction(nil, nil)
	m.recordTransaction(connClient, &httpparse.Transaction{})
	m.recordTransaction(&capture.Conn{}, &httpparse.Transaction{Request: &httpparse.Request{}})
	m.connClosed(&capture.Conn{Process: procCurl}) // a close without an open
	md := m.emit(txBase.Add(time.Second))
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
