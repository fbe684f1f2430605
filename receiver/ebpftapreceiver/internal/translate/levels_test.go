package translate

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"

	"github.com/ebpftap/ebpftap/internal/httpparse"
)

var nopTelemetry = component.TelemetrySettings{Logger: zap.NewNop()}

func TestLevelsForServer(t *testing.T) {
	l, err := newLevels(LevelSummary, nil, []Endpoint{
		{Domain: "*.example.com", Level: LevelHeaders},
		{Domain: "*.api.example.com", Level: LevelNone},
		{Domain: "pay.api.example.com", Level: LevelFull},
		{Domain: "Other.Test", Level: LevelFull},
	}, nopTelemetry)
	require.NoError(t, err)
	for name, want := range map[string]Level{
		"pay.api.example.com":  LevelFull,    // exact over any wildcard
		"cart.api.example.com": LevelNone,    // the longer wildcard
		"a.b.example.com":      LevelHeaders, // a wildcard covers every depth
		"example.com":          LevelSummary, // but not the domain itself
		"badexample.com":       LevelSummary,
		"other.test":           LevelFull, // names match in any case
		"OTHER.TEST.":          LevelFull, // and a trailing dot is the same name
		"":                     LevelSummary,
	} {
		assert.Equal(t, want, l.forServer(name), "%q", name)
	}
	assert.Equal(t, LevelFull, l.max)
	assert.False(t, l.hasRules())
}

func TestLevelsRejectsBadCondition(t *testing.T) {
	_, err := newLevels(LevelSummary, []Rule{
		{Condition: `attributes["http.response.status_code"] >= 500`, Level: LevelFull},
		{Condition: `attributes["x"] ==`, Level: LevelNone},
	}, nil, nopTelemetry)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "rule 1")
	require.Error(t, ParseCondition(`nosuchpath == 1`, nopTelemetry))
	require.NoError(t, ParseCondition(`IsMatch(attributes["url.full"], "^https://")`, nopTelemetry))
}

// TestTranslateLevels translates one transaction of each kind with rules
// and endpoints, into golden files: a 500 raised to full by a rule, a 200 at
// the base level, a server given headers by its endpoint, and a rule that
// lowers a health check to none over that endpoint.
func TestTranslateLevels(t *testing.T) {
	s := translateSettings(LevelSummary)
	s.Rules = []Rule{
		{Condition: `attributes["http.response.status_code"] >= 500`, Level: LevelFull},
		{Condition: `attributes["url.full"] != nil and IsMatch(attributes["url.full"], "/healthz$")`, Level: LevelNone},
	}
	s.Endpoints = []Endpoint{{Domain: "*.example.com", Level: LevelHeaders}}
	tr := mustTranslator(t, s, &seqIDs{})

	body := func(status int, path, host, text string) *httpparse.Transaction {
		return &httpparse.Transaction{
			Request: txReq("GET", path, 0, 1, txHeaders("Host", host, "Accept", "*/*")),
			Response: withBody(respMsg{txResp(status, 2, 3, txHeaders("Content-Type", "text/plain"), int64(len(text)))},
				[]byte(text), int64(len(text)), false).Response,
		}
	}
	txs := []*httpparse.Transaction{
		body(500, "/orders", "shop.test", "boom"),        // rule 1: full
		body(200, "/orders", "shop.test", "fine"),        // base: summary
		body(200, "/v1/items", "api.example.com", "ok"),  // endpoint: headers
		body(200, "/healthz", "api.example.com", "live"), // rule 2 over the endpoint: none
	}
	b := NewBatch()
	for _, tx := range txs {
		appendTx(tr, b, connClient, tx)
	}
	require.Equal(t, 4, b.traces.SpanCount())
	require.Equal(t, 3, b.logs.LogRecordCount(), "no log record at level none")
	checkTracesGolden(t, filepath.Join("testdata", "traces", "levels.yaml"), b.traces)
	checkLogsGolden(t, filepath.Join("testdata", "logs", "levels.yaml"), b.logs)

	// What each level keeps, beyond the golden files' word for it.
	spans := b.traces.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	_, hasHeader := spans.At(2).Attributes().Get("http.request.header.accept")
	assert.True(t, hasHeader, "headers on the endpoint's span")
	for _, i := range []int{1, 3} {
		_, hasHeader := spans.At(i).Attributes().Get("http.request.header.accept")
		assert.False(t, hasHeader, "span %d below level headers has headers", i)
	}
	records := b.logs.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	assert.Equal(t, "boom", responseBody(t, records.At(0)), "the 500's body, raised to full")
	for _, i := range []int{1, 2} {
		assert.Empty(t, responseBody(t, records.At(i)), "record %d below level full has a body", i)
	}

	// With no pipeline for spans, the rules still decide the log records.
	s.SkipSpans = true
	tr = mustTranslator(t, s, &seqIDs{})
	logsOnly := NewBatch()
	for _, tx := range txs {
		appendTx(tr, logsOnly, connClient, tx)
	}
	checkLogsGolden(t, filepath.Join("testdata", "logs", "levels.yaml"), logsOnly.logs)
}

// responseBody is the response body a transaction's log record carries, or
// "" when it has none.
func responseBody(t *testing.T, lr plog.LogRecord) string {
	t.Helper()
	b, ok := lr.Attributes().Get(attrResponseBody)
	if !ok {
		return ""
	}
	return b.AsString()
}
