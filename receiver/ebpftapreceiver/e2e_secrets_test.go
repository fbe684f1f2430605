package ebpftapreceiver

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// TestE2ESecretsNeverLeave runs curl with a bearer token, credentials and a
// signed URL on its command line against a local server, at every capture
// level, and looks for each secret in every byte the receiver exported: its
// traces, logs and metrics, marshaled as OTLP/protobuf.
func TestE2ESecretsNeverLeave(t *testing.T) {
	port := startServer(t, e2eProgram(t, "goserver"))
	for _, level := range validLevels {
		t.Run(string(level), func(t *testing.T) {
			_, sinks := startE2EReceiver(t, func(c *Config) { c.Capture.Level = level })
			stamp := fmt.Sprintf("%s%d", level, time.Now().UnixNano())
			secrets := map[string]string{
				"token":    "tok-" + stamp,
				"password": "pw-" + stamp,
				"sig":      "sig-" + stamp,
			}
			url := fmt.Sprintf("http://127.0.0.1:%d/ok?sig=%s&level=%s", port, secrets["sig"], level)
			run(t, "curl", "-sf", "-o", "/dev/null", "-H", "Authorization: Bearer "+secrets["token"],
				"--user", "admin:"+secrets["password"], url)

			match := func(s capturedSpan) bool {
				return strings.Contains(s.str("url.full")+s.str("url.query"), "level="+string(level))
			}
			spans := waitSpans(t, sinks.traces, 2, match)
			client, _ := byKind(spans)
			if len(client) != 1 || client[0].exe != "curl" {
				t.Fatalf("want one CLIENT span from curl, got %d", len(client))
			}
			// The command line was exported, scrubbed: the check below
			// looks where the secrets would have been.
			cmdline, _ := client[0].res.Attributes().Get("process.command_line")
			if !strings.Contains(cmdline.Str(), "admin:REDACTED") || !strings.Contains(cmdline.Str(), "Authorization: REDACTED") {
				t.Errorf("curl's process.command_line is %q, want its secrets redacted", cmdline.Str())
			}
			waitMetricsOf(t, sinks, "curl")

			exported := exportedBytes(t, sinks)
			for name, secret := range secrets {
				if i := bytes.Index(exported, []byte(secret)); i >= 0 {
					t.Errorf("the %s %q left the host at level %s: ...%q...", name, secret, level,
						exported[max(0, i-80):min(len(exported), i+len(secret)+20)])
				}
			}
		})
	}
}

// waitMetricsOf waits for a metrics export that describes the process with
// executable name exe.
func waitMetricsOf(t *testing.T, sinks e2eSinks, exe string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, md := range sinks.metrics.AllMetrics() {
			for _, rm := range md.ResourceMetrics().All() {
				if v, ok := rm.Resource().Attributes().Get("process.executable.name"); ok && v.Str() == exe {
					return
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no metrics of %s within 10s", exe)
}

// exportedBytes marshals everything the sinks received as OTLP/protobuf.
func exportedBytes(t *testing.T, sinks e2eSinks) []byte {
	t.Helper()
	var out []byte
	add := func(b []byte, err error) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b...)
	}
	for _, td := range sinks.traces.AllTraces() {
		add((&ptrace.ProtoMarshaler{}).MarshalTraces(td))
	}
	for _, ld := range sinks.logs.AllLogs() {
		add((&plog.ProtoMarshaler{}).MarshalLogs(ld))
	}
	for _, md := range sinks.metrics.AllMetrics() {
		add((&pmetric.ProtoMarshaler{}).MarshalMetrics(md))
	}
	return out
}
