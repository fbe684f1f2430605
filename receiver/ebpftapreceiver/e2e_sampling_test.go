package ebpftapreceiver

import (
	"fmt"
	"strings"
	"testing"
)

// TestE2ESampling runs three requests on one connection from python3 to a
// local Go server with sampling ratio 0, parent_based and keep_failures: the
// first, with no trace context, leaves only its metrics; the second fails
// (500) and is kept for it; the third carries a sampled traceparent, and is
// kept for it. Each kept request has both its spans and both its log
// records; the client's duration histogram counts all three.
func TestE2ESampling(t *testing.T) {
	_, sinks := startE2EReceiver(t, func(c *Config) {
		c.Capture.Level = LevelSummary
		c.Sampling = SamplingConfig{Ratio: 0, ParentBased: true, KeepFailures: true}
	})
	port := startServer(t, e2eProgram(t, "goserver"))
	const traceparent = "00-5b8efff798038103d269b633813fc60c-eee19b7ec3c1b174-01"
	marker := fmt.Sprintf("sampling-%d", port)
	// The request left out goes first: the receiver hands transactions on
	// in order, so once the last one's spans are out, the first was decided.
	script := fmt.Sprintf(`import http.client
c = http.client.HTTPConnection("127.0.0.1", %d)
for path, headers in (("/ok?unsampled", {}), ("/status/500?failed", {}), ("/ok?sampled", {"traceparent": %q})):
    c.request("GET", path + "&%s", headers=headers)
    c.getresponse().read()
`, port, traceparent, marker)
	run(t, "python3", "-c", script)

	spansOf := func(query string) func(capturedSpan) bool {
		return func(s capturedSpan) bool {
			return s.str("url.query") == query+"&"+marker || strings.HasSuffix(s.str("url.full"), "?"+query+"&"+marker)
		}
	}
	sampled := waitSpans(t, sinks.traces, 2, spansOf("sampled"))
	for _, s := range sampled {
		if got := s.span.TraceID().String(); got != traceparent[3:35] {
			t.Errorf("%v span: trace %s, want the caller's %s", s.kind, got, traceparent[3:35])
		}
	}
	failed := waitSpans(t, sinks.traces, 2, spansOf("failed"))
	for _, s := range failed {
		if got := s.span.TraceState().AsRaw(); got != "ot=th:0" {
			t.Errorf("%v span of the failure: tracestate %q, want ot=th:0", s.kind, got)
		}
	}
	checkLogs(t, sinks, append(sampled, failed...))
	if left := spansWhere(sinks.traces, spansOf("unsampled")); len(left) != 0 {
		t.Errorf("%d spans of the request sampling leaves out, want none", len(left))
	}
	if n := sinks.logs.LogRecordCount(); n != 4 {
		t.Errorf("%d log records, want the kept requests' 4", n)
	}
	checkClientMetrics(t, sinks, marker, 3, port)
}
