package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The testdata/*.out files are the tools' real reports of loads run by
// the bench (nginx-https, h2-tls and go-https baselines).

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

func TestParseWrk(t *testing.T) {
	out := readTestdata(t, "wrk-https.out")
	r, err := parseWrk(out)
	require.NoError(t, err)
	assert.Equal(t, loadResult{requests: 68465, rps: 62234.80, p50: 249 * time.Microsecond, p99: 3320 * time.Microsecond}, r)

	t.Run("latency in seconds", func(t *testing.T) {
		r, err := parseWrk(bytes.Replace(out, []byte("3.32ms"), []byte("1.50s"), 1))
		require.NoError(t, err)
		assert.Equal(t, 1500*time.Millisecond, r.p99)
	})
	t.Run("non-2xx answers are an error", func(t *testing.T) {
		bad := bytes.Replace(out, []byte("Requests/sec:"), []byte("  Non-2xx or 3xx responses: 12\nRequests/sec:"), 1)
		_, err := parseWrk(bad)
		assert.ErrorContains(t, err, "12 requests were not answered 200")
	})
	t.Run("no latency distribution", func(t *testing.T) {
		i := bytes.Index(out, []byte("  Latency Distribution"))
		j := bytes.Index(out, []byte("  68465 requests"))
		_, err := parseWrk(append(append([]byte{}, out[:i]...), out[j:]...))
		assert.ErrorContains(t, err, "was --latency given?")
	})
	t.Run("no requests", func(t *testing.T) {
		_, err := parseWrk([]byte("unable to connect to 127.0.0.1:1 Connection refused\n"))
		assert.ErrorContains(t, err, "no request count")
	})
}

// latencyLog is a per-request log in h2load's format with the latencies
// given, in µs.
func latencyLog(us ...int) *strings.Reader {
	var b strings.Builder
	for _, v := range us {
		b.WriteString("1795986015870194\t200\t" + strconv.Itoa(v) + "\n")
	}
	return strings.NewReader(b.String())
}

func TestParseH2load(t *testing.T) {
	out := readTestdata(t, "h2load.out")
	// 100 requests of 1..100 µs: the 50th is 50 µs, the 99th 99 µs.
	lat := make([]int, 100)
	for i := range lat {
		lat[i] = 100 - i // out of order, as the clients finish
	}
	r, err := parseH2load(out, latencyLog(lat...))
	require.NoError(t, err)
	assert.Equal(t, loadResult{requests: 68298, rps: 68298.00, p50: 50 * time.Microsecond, p99: 99 * time.Microsecond}, r)

	t.Run("failed requests are an error", func(t *testing.T) {
		bad := bytes.Replace(out, []byte("68298 done, 68298 succeeded, 0 failed"), []byte("68298 done, 68290 succeeded, 8 failed"), 1)
		_, err := parseH2load(bad, latencyLog(1))
		assert.ErrorContains(t, err, "68298 requests done but 68290 succeeded")
	})
	t.Run("no log", func(t *testing.T) {
		_, err := parseH2load(out, nil)
		assert.ErrorContains(t, err, "no per-request log")
	})
	t.Run("malformed log", func(t *testing.T) {
		_, err := parseH2load(out, strings.NewReader("1795986015870194\t200\n"))
		assert.ErrorContains(t, err, "want 3 tab-separated fields")
	})
}

func TestParseGoload(t *testing.T) {
	out := readTestdata(t, "goload.out")
	r, err := parseGoload(out, latencyLog(300, 100, 200))
	require.NoError(t, err)
	assert.Equal(t, int64(38211), r.requests)
	assert.InDelta(t, 38211/1.000326631, r.rps, 0.01)
	assert.Equal(t, 200*time.Microsecond, r.p50)
	assert.Equal(t, 300*time.Microsecond, r.p99)

	t.Run("stderr before the summary", func(t *testing.T) {
		r, err := parseGoload(append([]byte("some warning\n"), out...), latencyLog(1))
		require.NoError(t, err)
		assert.Equal(t, int64(38211), r.requests)
	})
	t.Run("errors", func(t *testing.T) {
		_, err := parseGoload([]byte(`{"requests":10,"errors":2,"seconds":1}`), latencyLog(1))
		assert.ErrorContains(t, err, "2 requests failed")
	})
}

func TestNearestRank(t *testing.T) {
	ds := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x)
		}
		return out
	}
	for _, tc := range []struct {
		sorted []time.Duration
		q      float64
		want   time.Duration
	}{
		{ds(7), 0.5, 7},
		{ds(7), 0.99, 7},
		{ds(1, 2), 0.5, 1},
		{ds(1, 2, 3, 4), 0.5, 2},
		{ds(1, 2, 3, 4), 0.99, 4},
		{ds(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 0.99, 10},
		{ds(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 0.9, 9},
	} {
		assert.Equal(t, tc.want, nearestRank(tc.sorted, tc.q), "%v q=%v", tc.sorted, tc.q)
	}
}

func TestToolArgs(t *testing.T) {
	assert.Equal(t, []string{"wrk", "-t2", "-c16", "-d5s", "--latency", "https://x/"},
		wrkTool.args("", "https://x/", 5*time.Second, "/l"))
	assert.Equal(t, []string{"h2load", "-c16", "-m1", "-D", "2s", "--log-file=/l", "https://x/"},
		h2loadTool.args("", "https://x/", 1500*time.Millisecond, "/l"))
	assert.Equal(t, []string{"/bin/goload", "-grpc", "-d", "5s", "-c", "16", "-log-file", "/l", "127.0.0.1:1"},
		goloadGRPCTool.args("/bin/goload", "127.0.0.1:1", 5*time.Second, "/l"))
}
