package ebpftapreceiver

import (
	"fmt"
	"strings"
	"testing"
)

// TestE2ESampling runs two requests on one connection from python3 to a
// local Go server with sampling ratio 0 and parent_based: the first, with no
// trace context, leaves only its metrics; the second carries a sampled
// traceparent, and both its spans and both its log records are built. The
// client's duration histogram counts both requests.
func TestE2ESampling(t *testing.T) {
	_, sinks := startE2EReceiver(t, func(c *Config) {
		c.Capture.Level = LevelSummary
		c.Sampling = SamplingConfig{Ratio: 0, ParentBased: true}
	})
	port := startServer(t, e2eProgram(t, "goserver"))
	const traceparent = "00-5b8efff798038103d269b633813fc60c-eee19b7ec3c1b174-01"
	marker := fmt.Sprintf("sampling-%d", port)
	// The request left out goes first: the receiver hands transactions on
	// in order, so once the second's spans are out, the first was decided.
	script := fmt.Sprintf(`import http.client
c = http.client.HTTPConnection("127.0.0.1", %d)
for path, headers in (("/ok?unsampled", {}), ("/ok?sampled", {"traceparent": %q})):
    c.request("GET", path + "&%s", headers=headers)
    c.getresponse().read()
`, port, traceparent, marker)
	run(t, "python3", "-c", script)

	spansOf := func(query string) func(capturedSpan) bool {
		return func(s capturedSpan) bool {
			return s.str("url.query") == query+"&"+marker || strings.HasSuffix(s.str("url.full"), "?"+query+"&"+marker)
		}
	}
	kept := waitSpans(t, sinks.traces, 2, spansOf("sampled"))
	for _, s := range kept {
		if got := s.span.TraceID().String(); got != traceparent[3:35] {
			t.Errorf("%v span: trace %s, want the caller's %s", s.kind, got, traceparent[3:35])
		}
	}
	checkLogs(t, sinks, kept)
	if left := spansWhere(sinks.traces, spansOf("unsampled")); len(left) != 0 {
		t.Errorf("%d spans of the request sampling leaves out, want none", len(left))
	}
	if n := sinks.logs.LogRecordCount(); n != 2 {
		t.Errorf("%d log records, want the sampled request's 2", n)
	}
	checkClientMetrics(t, sinks, marker, 2, port)
}
