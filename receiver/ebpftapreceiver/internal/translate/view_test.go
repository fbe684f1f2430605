package translate

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ebpftap/ebpftap/internal/httpparse"
	"github.com/ebpftap/ebpftap/internal/tap"
	"github.com/ebpftap/ebpftap/receiver/ebpftapreceiver/internal/redact"
)

// TestDescribeRedactsUserAgent checks user_agent.original follows the
// redaction set, which describe reads once per Translator.
func TestDescribeRedactsUserAgent(t *testing.T) {
	tx := &httpparse.Transaction{Request: txReq("GET", "/", 0, 1, txHeaders("User-Agent", "curl/8.5.0"))}
	for _, listed := range []bool{false, true} {
		s := translateSettings(LevelSummary)
		want := "curl/8.5.0"
		if listed {
			policy, err := redact.New(redact.Config{Headers: []string{"User-Agent"}})
			require.NoError(t, err)
			s.Redact, want = policy, redact.Redacted
		}
		var v View
		require.True(t, mustTranslator(t, s, newRandomIDs()).Describe(tap.Exchange{Conn: connClient, Tx: tx}, &v))
		assert.Equal(t, want, v.userAgent, "user-agent listed: %v", listed)
	}
}
