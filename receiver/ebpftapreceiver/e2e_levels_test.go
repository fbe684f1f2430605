package ebpftapreceiver

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
)

// TestE2ELevels runs curl against a local server with capture.level summary,
// a rule that raises responses with status 500 and above to full, and an
// endpoint that gives *.example.com level headers: the 500's log record has
// its body, a 200's has none, and only the 500's and the endpoint's spans
// have headers.
func TestE2ELevels(t *testing.T) {
	_, sinks := startE2EReceiver(t, func(c *Config) {
		c.Capture.Level = LevelSummary
		c.Capture.MaxBodyBytes = 1024
		c.Capture.Rules = []RuleConfig{{Condition: `attributes["http.response.status_code"] >= 500`, Level: LevelFull}}
		c.Endpoints = []EndpointConfig{{Domain: "*.example.com", Level: LevelHeaders}}
	})
	port := startServer(t, e2eProgram(t, "goserver"))
	stamp := time.Now().UnixNano()
	for _, tc := range []struct {
		name, path string
		host       string // a Host header, when set
		body       string // the response body the CLIENT's log record has, "" for none
		headers    bool   // whether the spans have header attributes
	}{
		{name: "500 raised to full", path: "/status/500", body: "Internal Server Error", headers: true},
		{name: "200 at the base level", path: "/ok"},
		{name: "endpoint at headers", path: "/ok", host: "api.example.com", headers: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := fmt.Sprintf("http://127.0.0.1:%d%s?n=%d", port, tc.path, stamp)
			args := []string{"-s", "-o", "/dev/null"}
			if tc.host != "" {
				args = append(args, "-H", "Host: "+tc.host)
			}
			run(t, "curl", append(args, url)...)
			query := fmt.Sprintf("n=%d", stamp)
			spans := waitSpans(t, sinks.traces, 2, func(s capturedSpan) bool {
				return strings.HasSuffix(s.str("url.full"), tc.path+"?"+query) || s.str("url.path") == tc.path && s.str("url.query") == query
			})
			checkLogs(t, sinks, spans)
			for _, s := range spans {
				_, has := s.span.Attributes().Get("http.request.header.user-agent")
				if has != tc.headers {
					t.Errorf("%v span: has header attributes %v, want %v", s.kind, has, tc.headers)
				}
				lr, ok := logRecordOf(sinks, s)
				if !ok {
					t.Fatalf("no log record for the %v span", s.kind)
				}
				if got := responseBodyOf(lr); got != tc.body {
					t.Errorf("%v log record: response body %q, want %q", s.kind, got, tc.body)
				}
			}
		})
		stamp++
	}
}

// logRecordOf finds the log record with s's ids.
func logRecordOf(sinks e2eSinks, s capturedSpan) (plog.LogRecord, bool) {
	for _, ld := range sinks.logs.AllLogs() {
		for _, rl := range ld.ResourceLogs().All() {
			for _, sl := range rl.ScopeLogs().All() {
				for _, lr := range sl.LogRecords().All() {
					if lr.TraceID() == s.span.TraceID() && lr.SpanID() == s.span.SpanID() {
						return lr, true
					}
				}
			}
		}
	}
	return plog.LogRecord{}, false
}

// responseBodyOf is the response body a log record carries, "" for none.
func responseBodyOf(lr plog.LogRecord) string {
	b, ok := lr.Attributes().Get("ebpftap.http.response.body")
	if !ok {
		return ""
	}
	return b.AsString()
}
