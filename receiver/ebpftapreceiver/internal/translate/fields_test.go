package translate

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/ebpftap/ebpftap/internal/httpparse"
)

// TestReadRequestFields checks the one pass against httpparse.Message.Get,
// which it replaces: for every field, the first of its name in any case,
// present or not, empty or not, among names of the same length that are
// not read.
func TestReadRequestFields(t *testing.T) {
	for _, headers := range [][]string{
		nil,
		{"Host", "a.example", "HOST", "b.example", "User-Agent", "", "user-agent", "second"},
		{"Content-Type", "application/grpc", "X-B3-Sampled", "1", "x-b3-traceid", "463ac35c9f6413ad48485a3953bb6124", "X-B3-SPANID", "a2fb4a1d1a96d312"},
		{"tracestate", "a=b", "Traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "B3", "0", "b4", "x"},
		{"Forwarded", "host=h;proto=https", "Forwardex", "x", "X-Forwarded-Host", "h", "X-Forwarded-Proto", "https", "X-Forwarded-Port", "1"},
		{"Hos", "x", "Hostt", "x", "content_type", "text/plain", "user agent", "x"},
	} {
		m := &httpparse.Message{Header: txHeaders(headers...)}
		f := readRequestFields(m)
		for n := range requestFieldCount {
			wantValue, wantOK := m.Get(requestFieldNames[n])
			value, ok := f.get(n)
			assert.Equal(t, wantOK, ok, "%s in %q", requestFieldNames[n], headers)
			assert.Equal(t, wantValue, value, "%s in %q", requestFieldNames[n], headers)
		}
	}
}
