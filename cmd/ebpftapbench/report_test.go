package main

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMedian(t *testing.T) {
	assert.True(t, math.IsNaN(median(nil)))
	assert.Equal(t, 3.0, median([]float64{3}))
	assert.Equal(t, 2.5, median([]float64{4, 1}))
	assert.Equal(t, 2.0, median([]float64{3, 1, 2}))
	assert.Equal(t, 2.5, median([]float64{4, 1, 3, 2}))
	v := []float64{3, 1, 2}
	median(v)
	assert.Equal(t, []float64{3, 1, 2}, v, "median must not reorder its input")
}

func TestThousands(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 999: "999", 1000: "1,000", 15900.4: "15,900", 1234567: "1,234,567", -4321: "-4,321"} {
		assert.Equal(t, want, thousands(v))
	}
	assert.Equal(t, "–", thousands(math.NaN()))
}

// benchSamples is two rounds of one scenario in three modes, with figures
// chosen so that every column's median and ratio can be worked out by hand.
func benchSamples() []sample {
	ms := time.Millisecond
	return []sample{
		{Scenario: "go-https", Mode: "baseline", Round: 1, Requests: 10000, RPS: 2000, P50: 1 * ms, P99: 4 * ms, TracedCPU: 1000 * ms},
		{Scenario: "go-https", Mode: "baseline", Round: 2, Requests: 10000, RPS: 2200, P50: 3 * ms, P99: 8 * ms, TracedCPU: 1200 * ms},
		{Scenario: "go-https", Mode: "floor", Round: 1, Requests: 5000, RPS: 1000, P50: 4 * ms, P99: 12 * ms, TracedCPU: 1000 * ms,
			UprobeHits: 40000, UprobeHitsByLib: map[string]uint64{"go": 40000}, TracepointHits: 50000, TracepointHitsCounted: true, BPFRuntime: 5 * ms,
			HostBusy: 1500 * ms, HostCPUTime: 2000 * ms},
		{Scenario: "go-https", Mode: "floor", Round: 2, Requests: 5000, RPS: 1100, P50: 4 * ms, P99: 12 * ms, TracedCPU: 1000 * ms,
			UprobeHits: 40000, UprobeHitsByLib: map[string]uint64{"go": 40000}, TracepointHits: 60000, TracepointHitsCounted: true, BPFRuntime: 5 * ms,
			HostBusy: 1700 * ms, HostCPUTime: 2000 * ms},
		{Scenario: "go-https", Mode: "ebpftap summary", Round: 1, Requests: 4000, RPS: 800, P50: 6 * ms, P99: 18 * ms, TracedCPU: 1000 * ms,
			UprobeHits: 32000, TracepointHits: 40000, TracepointHitsCounted: true, BPFRuntime: 200 * ms, Collector: true, CollectorCPU: 400 * ms,
			HostBusy: 2000 * ms, HostCPUTime: 2000 * ms, CollectorPeakRSS: 100 << 20, ServerSpans: 4000, ClientSpans: 3996, Drops: map[string]int64{"ring_buffer_full": 4},
			Programs: map[string]programRun{
				"go_tls_enter": {Uprobe: true, Runs: 20000, Runtime: 60 * ms},
				"exit_read":    {Runs: 18000, Runtime: 36 * ms},
			}},
		{Scenario: "go-https", Mode: "ebpftap summary", Round: 2, Err: "starting the server: boom\nmore"},
	}
}

func TestBuildRows(t *testing.T) {
	ms := []mode{modes[0], modes[1], modes[3]}
	rows := buildRows(benchSamples(), scenarios[:1], ms)
	require.Len(t, rows, 3)

	base, floor, summary := rows[0], rows[1], rows[2]
	assert.Equal(t, 2, base.rounds)
	assert.Equal(t, 2100.0, base.rps)
	assert.Equal(t, 1.0, base.rpsRatio)
	assert.Equal(t, 1.0, base.p50Ratio)
	assert.Equal(t, 110.0, base.tracedCPUPerReq) // median of 100 and 120 µs
	assert.True(t, math.IsNaN(base.hostCPUPerReq), "the baseline's rounds measured no host CPU")
	assert.True(t, math.IsNaN(base.collectorCPUPerReq))

	assert.Equal(t, 1050.0, floor.rps)
	assert.InDelta(t, 0.5, floor.rpsRatio, 1e-9)
	assert.InDelta(t, 2.0, floor.p50Ratio, 1e-9) // 4 ms against a median of 2 ms
	assert.InDelta(t, 2.0, floor.p99Ratio, 1e-9) // 12 ms against 6 ms
	assert.Equal(t, 8.0, floor.uprobeHitsPerReq)
	assert.Equal(t, 11.0, floor.tpHitsPerReq) // median of 10 and 12
	assert.Equal(t, 1000.0, floor.bpfNsPerReq)
	assert.True(t, math.IsNaN(floor.collectorCPUPerReq))
	assert.Equal(t, 320.0, floor.hostCPUPerReq) // median of 300 and 340 µs
	assert.InDelta(t, 0.8, floor.hostBusy, 1e-9)

	assert.Equal(t, 1, summary.rounds)
	assert.Len(t, summary.errs, 1)
	assert.Equal(t, 250.0, summary.tracedCPUPerReq)
	assert.Equal(t, 10.0, summary.tpHitsPerReq)
	assert.Equal(t, 50000.0, summary.bpfNsPerReq)
	assert.Equal(t, 100.0, summary.collectorCPUPerReq)
	assert.Equal(t, 100.0, summary.collectorPeakMiB)
	assert.Equal(t, 1.0, summary.serverComplete)
	assert.Equal(t, 0.999, summary.clientComplete)
	assert.Equal(t, map[string]int64{"ring_buffer_full": 4}, summary.drops)
}

func TestBuildRowsWithoutBaseline(t *testing.T) {
	rows := buildRows(benchSamples(), scenarios[:1], []mode{modes[1]})
	require.Len(t, rows, 1)
	assert.True(t, math.IsNaN(rows[0].rpsRatio))
	assert.Contains(t, renderTable(rows), "| go-https | floor | 1,050 | – | – | – |")
}

// TestBuildRowsTracefsFloor: with -floor-tracepoints=tracefs a round's
// tracepoint hits are not counted, and a row with such a round shows none.
func TestBuildRowsTracefsFloor(t *testing.T) {
	samples := benchSamples()
	samples[3].TracepointHitsCounted = false
	rows := buildRows(samples, scenarios[:1], []mode{modes[1]})
	require.Len(t, rows, 1)
	assert.True(t, math.IsNaN(rows[0].tpHitsPerReq))
	assert.True(t, math.IsNaN(rows[0].bpfNsPerReq))
}

func TestRenderTable(t *testing.T) {
	ms := []mode{modes[0], modes[1], modes[3]}
	table := renderTable(buildRows(benchSamples(), scenarios[:1], ms))
	lines := strings.Split(strings.TrimSpace(table), "\n")
	require.Len(t, lines, 5)
	assert.Equal(t, len(tableHeader)+1, strings.Count(lines[0], "|"))
	assert.Equal(t, "| go-https | baseline | 2,100 | 1.00 | 1.00 | 1.00 | 110.0 | 0.00 | – | – | – | – | – | – |", lines[2])
	assert.Equal(t, "| go-https | floor | 1,050 | 0.50 | 2.00 | 2.00 | 200.0 | 8.00 | 11.00 | 1,000 | – | – | – | – |", lines[3])
	assert.Equal(t, "| go-https | ebpftap summary (1 of 2 rounds failed) | 800 | 0.38 | 3.00 | 3.00 | 250.0 | 8.00 | 10.00 | 50,000 | 100.0 | 100 | 1.000 / 0.999 | ring_buffer_full 4 |", lines[4])
}

func TestRenderTableAllRoundsFailed(t *testing.T) {
	samples := []sample{{Scenario: "grpc", Mode: "floor", Err: "no | pipes\nsecond line"}}
	table := renderTable(buildRows(samples, scenarios[4:5], []mode{modes[1]}))
	assert.Contains(t, table, "| grpc | floor | failed: no / pipes |")
}

func TestRenderPrograms(t *testing.T) {
	out := renderPrograms(benchSamples(), scenarios[:1], modes[3])
	assert.Contains(t, out, "| go_tls_enter | uprobe | 5.00 | 3,000 | 15,000 |")
	assert.Contains(t, out, "| exit_read | tracepoint | 4.50 | 2,000 | 9,000 |")
	assert.Less(t, strings.Index(out, "go_tls_enter"), strings.Index(out, "exit_read"), "costliest first")
}

func TestRenderFloorHits(t *testing.T) {
	assert.Equal(t, "- go-https: go 8.00\n", renderFloorHits(benchSamples(), scenarios[:1]))
}

func TestRenderBudget(t *testing.T) {
	ms := []mode{modes[0], modes[1], modes[3]}
	lines := strings.Split(strings.TrimSpace(renderBudget(buildRows(benchSamples(), scenarios[:1], ms))), "\n")
	require.Len(t, lines, 4, "the header, its rule, the floor and the one ebpftap mode")
	assert.Equal(t, len(budgetHeader)+1, strings.Count(lines[0], "|"))
	// The floor takes 320 µs of host CPU a request: 0.9 × its throughput
	// allows 320 × (1/0.9 - 1) = 35.6 µs more.
	assert.Equal(t, "| go-https | floor | 80% | 320.0 | – | – | – | – | – | 1.00 | 35.6 |", lines[2])
	// 500 µs: 180 more than the floor's, of which the traced processes 250
	// - 200, their BPF 50 - 1, the collector 100, and 30 elsewhere.
	assert.Equal(t, "| go-https | ebpftap summary | 100% | 500.0 | 180.0 | 50.0 | 49.0 | 100.0 | 30.0 | 0.76 | 35.6 |", lines[3])

	assert.Empty(t, renderBudget(buildRows(benchSamples(), scenarios[:1], []mode{modes[0], modes[3]})), "no floor, no budget")
	noHost := benchSamples()
	noHost[2].HostCPUTime, noHost[3].HostCPUTime = 0, 0 // a raw file from before host CPU was measured
	assert.Empty(t, renderBudget(buildRows(noHost, scenarios[:1], ms)))
}
