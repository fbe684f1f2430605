package ebpftapreceiver

import (
	"fmt"
	"testing"
	"time"
)

// TestE2EStitched runs curl against a local server, both captured: with no
// header at all, the SERVER span is the CLIENT span's child in one trace;
// with a B3 header, both join the caller's trace, the CLIENT span a child of
// the caller's span and the SERVER span a child of the CLIENT span.
func TestE2EStitched(t *testing.T) {
	_, sinks := startE2EReceiver(t, nil)
	port := startServer(t, e2eProgram(t, "goserver"))

	const (
		b3Trace = "80f198ee56343ba864fe8b2a57d3eff7"
		b3Span  = "e457b5a2e4d86bd1"
	)
	for _, tc := range []struct {
		name    string
		headers []string
	}{
		{"no header", nil},
		{"b3", []string{"-H", "b3: " + b3Trace + "-" + b3Span + "-1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := fmt.Sprintf("/ok?stitch=%d", time.Now().UnixNano())
			run(t, "curl", append([]string{"-sf", "-o", "/dev/null"}, append(tc.headers, fmt.Sprintf("http://127.0.0.1:%d%s", port, path))...)...)
			spans := waitSpans(t, sinks.traces, 2, func(s capturedSpan) bool {
				return s.str("url.full") == fmt.Sprintf("http://127.0.0.1:%d%s", port, path) || s.str("url.path")+"?"+s.str("url.query") == path
			})
			client, server := byKind(spans)
			if len(client) != 1 || len(server) != 1 {
				t.Fatalf("%d CLIENT and %d SERVER spans, want one each", len(client), len(server))
			}
			c, s := client[0].span, server[0].span
			if c.TraceID() != s.TraceID() {
				t.Errorf("CLIENT span in trace %s, SERVER span in %s: not one trace", c.TraceID(), s.TraceID())
			}
			if s.ParentSpanID() != c.SpanID() {
				t.Errorf("SERVER span's parent is %s, want the CLIENT span %s", s.ParentSpanID(), c.SpanID())
			}
			if tc.headers == nil {
				if !c.ParentSpanID().IsEmpty() {
					t.Errorf("CLIENT span has parent %s with no context in the request", c.ParentSpanID())
				}
				return
			}
			if got := c.TraceID().String(); got != b3Trace {
				t.Errorf("trace %s, want the B3 trace %s", got, b3Trace)
			}
			if got := c.ParentSpanID().String(); got != b3Span {
				t.Errorf("CLIENT span's parent is %s, want the B3 span %s", got, b3Span)
			}
		})
	}
}
