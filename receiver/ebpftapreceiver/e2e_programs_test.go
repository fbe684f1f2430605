package ebpftapreceiver

import (
	"fmt"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// TestE2EProgramMetrics enables the metrics of the capture's BPF programs
// and checks that they count the programs' runs and time under the host's
// resource: the server's accepts among the runs, and every program named,
// the TLS ones too. That nothing is counted by default is TestMetricsPrograms
// and TestProgramStatsOption.
func TestE2EProgramMetrics(t *testing.T) {
	port := startServer(t, e2eProgram(t, "goserver"))
	_, sinks := startE2EReceiver(t, func(c *Config) {
		c.Metrics.EbpftapCaptureProgramRuns.Enabled = true
		c.Metrics.EbpftapCaptureProgramTime.Enabled = true
	})
	const requests = 5
	for range requests {
		run(t, "curl", "-sf", "-o", "/dev/null", fmt.Sprintf("http://127.0.0.1:%d/ok", port))
	}

	// The latest export's values, by metric and program.
	latest := func() (map[string]float64, pcommon.Resource) {
		all := sinks.metrics.AllMetrics()
		got := map[string]float64{}
		res := pcommon.NewResource()
		for i := len(all) - 1; i >= 0 && len(got) == 0; i-- {
			for _, name := range []string{"ebpftap.capture.program.runs", "ebpftap.capture.program.time"} {
				eachSumPoint(all[i], name, func(r pcommon.Resource, dp pmetric.NumberDataPoint) {
					program, _ := dp.Attributes().Get("ebpftap.program.name")
					v := dp.DoubleValue()
					if dp.ValueType() == pmetric.NumberDataPointValueTypeInt {
						v = float64(dp.IntValue())
					}
					got[name+"{"+program.Str()+"}"] = v
					res = r
				})
			}
		}
		return got, res
	}
	deadline := time.Now().Add(10 * time.Second)
	got, res := latest()
	for got["ebpftap.capture.program.runs{exit_accept4}"] < requests && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		got, res = latest()
	}
	if n := got["ebpftap.capture.program.runs{exit_accept4}"]; n < requests {
		t.Fatalf("exit_accept4 ran %v times, want at least the server's %d accepts; exported %v", n, requests, got)
	}
	if s := got["ebpftap.capture.program.time{exit_accept4}"]; s <= 0 || s > 1 {
		t.Errorf("exit_accept4 ran for %v s, want some time, and well under a second", s)
	}
	for _, program := range []string{"enter_read", "exit_write", "tls_enter", "go_tls_return"} {
		if _, ok := got["ebpftap.capture.program.runs{"+program+"}"]; !ok {
			t.Errorf("no runs exported for %s", program)
		}
	}
	if attrs := res.Attributes().AsRaw(); len(attrs) != 1 || attrs["host.name"] == nil {
		t.Errorf("the programs' metrics are under the resource %v, want host.name only", attrs)
	}
}
