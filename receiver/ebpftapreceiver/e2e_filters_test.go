package ebpftapreceiver

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// TestE2EFilters runs curl against two local servers with one server port
// excluded and only curl included: the excluded port's connections are not
// reported at all, and the servers' own ends are left out. That the kernel
// itself ignores a filtered port or process, copying nothing, is capture's
// TestE2EEnginePortFilter and TestE2EEngineProcessFilter.
func TestE2EFilters(t *testing.T) {
	excluded := startServer(t, e2eProgram(t, "goserver"))
	kept := startServer(t, e2eProgram(t, "goserver"))
	_, sinks := startE2EReceiver(t, func(c *Config) {
		c.Filters.Ports.Exclude = []int{excluded}
		c.Filters.IncludeProcesses = []ProcessMatch{{Exe: "/curl", Match: MatchSuffix}}
	})
	stamp := time.Now().UnixNano()
	for _, port := range []int{excluded, kept} {
		run(t, "curl", "-sf", "-o", "/dev/null", fmt.Sprintf("http://127.0.0.1:%d/ok?filters=%d", port, stamp))
	}

	spans := waitSpans(t, sinks.traces, 1, func(s capturedSpan) bool {
		return s.str("url.full") == fmt.Sprintf("http://127.0.0.1:%d/ok?filters=%d", kept, stamp)
	})
	if spans[0].exe != "curl" {
		t.Errorf("the kept request's span is from %s, want curl's only", spans[0].exe)
	}
	if got := spansWhere(sinks.traces, func(s capturedSpan) bool {
		return s.int("server.port") == int64(excluded) || s.exe == "goserver"
	}); len(got) != 0 {
		t.Errorf("%d spans of the excluded port or of an excluded process", len(got))
	}
	// The excluded port's connection was never opened as far as the
	// receiver knows.
	for _, md := range sinks.metrics.AllMetrics() {
		eachSumPoint(md, "ebpftap.connection.opened", func(_ pcommon.Resource, dp pmetric.NumberDataPoint) {
			if p, _ := dp.Attributes().Get("server.port"); p.Int() == int64(excluded) {
				t.Errorf("a connection to the excluded port %d was reported opened", excluded)
			}
		})
	}
	t.Logf("excluded port %s, kept port %s", strconv.Itoa(excluded), strconv.Itoa(kept))
}
