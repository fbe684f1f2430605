package main

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// row is one scenario × mode of the table: the median of its rounds.
type row struct {
	scenario, mode string
	rounds         int      // that succeeded
	errs           []string // of the rounds that failed

	rps                float64
	p50, p99           float64 // ns
	rpsRatio           float64 // to the scenario's baseline; NaN without one
	p50Ratio, p99Ratio float64
	tracedCPUPerReq    float64 // µs
	hostCPUPerReq      float64 // µs of all CPUs' busy time; NaN where not measured
	hostBusy           float64 // share of all CPUs' time that was busy
	uprobeHitsPerReq   float64
	tpHitsPerReq       float64 // NaN where not counted (baseline, a tracefs floor)
	bpfNsPerReq        float64 // NaN without a BPF program
	collectorCPUPerReq float64 // µs; NaN without a collector
	collectorPeakMiB   float64
	serverComplete     float64 // SERVER spans / requests; NaN without a collector
	clientComplete     float64
	drops              map[string]int64 // summed over rounds
}

// median of the values; NaN for none. With an even count it is the mean of
// the middle two.
func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// medianOf is the median of f over the samples.
func medianOf(ss []sample, f func(sample) float64) float64 {
	v := make([]float64, len(ss))
	for i, s := range ss {
		v[i] = f(s)
	}
	return median(v)
}

// perRequest divides by the requests a sample completed.
func perRequest(s sample, x float64) float64 { return x / float64(s.Requests) }

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// buildRows groups the samples into rows, scenarios and modes in the order
// given, with ratios to each scenario's baseline from the same run.
func buildRows(samples []sample, scs []scenario, ms []mode) []row {
	var rows []row
	for _, sc := range scs {
		var scRows []row
		var base *row
		for _, m := range ms {
			r, ran := buildRow(samples, sc, m)
			if !ran {
				continue
			}
			scRows = append(scRows, r)
			if m.key == "baseline" && r.rounds > 0 {
				base = &scRows[len(scRows)-1]
			}
		}
		for i := range scRows {
			r := &scRows[i]
			r.rpsRatio, r.p50Ratio, r.p99Ratio = math.NaN(), math.NaN(), math.NaN()
			if base != nil && r.rounds > 0 {
				r.rpsRatio, r.p50Ratio, r.p99Ratio = r.rps/base.rps, r.p50/base.p50, r.p99/base.p99
			}
		}
		rows = append(rows, scRows...)
	}
	return rows
}

// buildRow is the medians of a scenario's rounds in a mode; ran is false
// if none was run.
func buildRow(samples []sample, sc scenario, m mode) (r row, ran bool) {
	var ok []sample
	r = row{scenario: sc.name, mode: m.name, drops: map[string]int64{}}
	for _, s := range samples {
		if s.Scenario != sc.name || s.Mode != m.name {
			continue
		}
		if s.Err != "" {
			r.errs = append(r.errs, s.Err)
			continue
		}
		ok = append(ok, s)
		for reason, n := range s.Drops {
			r.drops[reason] += n
		}
	}
	if len(ok) == 0 && len(r.errs) == 0 {
		return r, false
	}
	r.rounds = len(ok)
	r.rps = medianOf(ok, func(s sample) float64 { return s.RPS })
	r.p50 = medianOf(ok, func(s sample) float64 { return float64(s.P50) })
	r.p99 = medianOf(ok, func(s sample) float64 { return float64(s.P99) })
	r.tracedCPUPerReq = medianOf(ok, func(s sample) float64 { return perRequest(s, micros(s.TracedCPU)) })
	r.hostCPUPerReq, r.hostBusy = math.NaN(), math.NaN()
	if len(ok) > 0 && !slices.ContainsFunc(ok, func(s sample) bool { return s.HostCPUTime == 0 }) {
		r.hostCPUPerReq = medianOf(ok, func(s sample) float64 { return perRequest(s, micros(s.HostBusy)) })
		r.hostBusy = medianOf(ok, func(s sample) float64 { return float64(s.HostBusy) / float64(s.HostCPUTime) })
	}
	r.uprobeHitsPerReq = medianOf(ok, func(s sample) float64 { return perRequest(s, float64(s.UprobeHits)) })
	r.tpHitsPerReq, r.bpfNsPerReq, r.collectorCPUPerReq = math.NaN(), math.NaN(), math.NaN()
	r.collectorPeakMiB, r.serverComplete, r.clientComplete = math.NaN(), math.NaN(), math.NaN()
	if counted := len(ok) > 0 && !slices.ContainsFunc(ok, func(s sample) bool { return !s.TracepointHitsCounted }); counted {
		r.tpHitsPerReq = medianOf(ok, func(s sample) float64 { return perRequest(s, float64(s.TracepointHits)) })
		r.bpfNsPerReq = medianOf(ok, func(s sample) float64 { return perRequest(s, float64(s.BPFRuntime)) })
	}
	if m.level != "" {
		r.collectorCPUPerReq = medianOf(ok, func(s sample) float64 { return perRequest(s, micros(s.CollectorCPU)) })
		r.collectorPeakMiB = medianOf(ok, func(s sample) float64 { return float64(s.CollectorPeakRSS) / (1 << 20) })
		r.serverComplete = medianOf(ok, func(s sample) float64 { return perRequest(s, float64(s.ServerSpans)) })
		r.clientComplete = medianOf(ok, func(s sample) float64 { return perRequest(s, float64(s.ClientSpans)) })
	}
	return r, true
}

var tableHeader = []string{
	"scenario", "mode", "req/s", "× base", "p50 × base", "p99 × base",
	"traced CPU µs/req", "uprobe hits/req", "tracepoint hits/req", "BPF ns/req",
	"collector CPU µs/req", "collector peak RSS MiB", "complete (server / client)", "drops (all rounds)",
}

// renderTable writes the rows as a markdown table. A dash is a figure the
// mode has no source for (no collector, no BPF program).
func renderTable(rows []row) string {
	var b strings.Builder
	b.WriteString("| " + strings.Join(tableHeader, " | ") + " |\n")
	b.WriteString("|" + strings.Repeat("---|", len(tableHeader)) + "\n")
	for _, r := range rows {
		if r.rounds == 0 {
			cells := []string{r.scenario, r.mode, "failed: " + oneLine(r.errs[0])}
			for len(cells) < len(tableHeader) {
				cells = append(cells, "")
			}
			b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
			continue
		}
		mode := r.mode
		if len(r.errs) > 0 {
			mode += fmt.Sprintf(" (%d of %d rounds failed)", len(r.errs), len(r.errs)+r.rounds)
		}
		cells := []string{
			r.scenario, mode, thousands(r.rps), fixed(r.rpsRatio, 2), fixed(r.p50Ratio, 2), fixed(r.p99Ratio, 2),
			fixed(r.tracedCPUPerReq, 1), fixed(r.uprobeHitsPerReq, 2), fixed(r.tpHitsPerReq, 2), thousands(r.bpfNsPerReq),
			fixed(r.collectorCPUPerReq, 1), fixed(r.collectorPeakMiB, 0), completeness(r), dropsCell(r),
		}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	return b.String()
}

func completeness(r row) string {
	if math.IsNaN(r.serverComplete) {
		return "–"
	}
	return fixed(r.serverComplete, 3) + " / " + fixed(r.clientComplete, 3)
}

func dropsCell(r row) string {
	if math.IsNaN(r.serverComplete) {
		return "–"
	}
	if len(r.drops) == 0 {
		return "0"
	}
	var parts []string
	for _, reason := range slices.Sorted(maps.Keys(r.drops)) {
		parts = append(parts, fmt.Sprintf("%s %d", reason, r.drops[reason]))
	}
	return strings.Join(parts, ", ")
}

// fixed formats with prec decimals; NaN is a dash.
func fixed(v float64, prec int) string {
	if math.IsNaN(v) {
		return "–"
	}
	return strconv.FormatFloat(v, 'f', prec, 64)
}

// thousands formats a whole number with thousands separators; NaN is a dash.
func thousands(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	s := strconv.FormatInt(int64(math.Round(v)), 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func oneLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return strings.ReplaceAll(s, "|", "/")
}

// floorShare is goal 4's bar: ebpftap's throughput at least this share of
// the floor's, measured in the same run.
const floorShare = 0.9

var budgetHeader = []string{
	"scenario", "mode", "host busy", "host CPU µs/req", "added to the floor's", "traced processes",
	"of which BPF", "collector", "rest", "× floor", "0.9 × floor allows",
}

// renderBudget writes, per scenario, where the CPU a request takes goes
// beyond the floor's, beside what the floorShare of the floor's throughput
// allows. While the CPUs are saturated, throughput is their time over the
// time a request takes, so a mode keeps floorShare of the floor's
// throughput only if what it adds is at most (1/floorShare - 1) of the
// floor's host CPU a request.
func renderBudget(rows []row) string {
	var b strings.Builder
	for i, floor := range rows {
		if floor.mode != "floor" || floor.rounds == 0 || math.IsNaN(floor.hostCPUPerReq) {
			continue
		}
		if b.Len() == 0 {
			b.WriteString("| " + strings.Join(budgetHeader, " | ") + " |\n")
			b.WriteString("|" + strings.Repeat("---|", len(budgetHeader)) + "\n")
		}
		allowed := floor.hostCPUPerReq * (1/floorShare - 1)
		cells := []string{floor.scenario, floor.mode, percent(floor.hostBusy), fixed(floor.hostCPUPerReq, 1),
			"–", "–", "–", "–", "–", "1.00", fixed(allowed, 1)}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
		for _, r := range rows[i+1:] {
			if r.scenario != floor.scenario {
				break
			}
			if r.rounds == 0 || math.IsNaN(r.collectorCPUPerReq) || math.IsNaN(r.hostCPUPerReq) {
				continue
			}
			added := r.hostCPUPerReq - floor.hostCPUPerReq
			traced := r.tracedCPUPerReq - floor.tracedCPUPerReq
			cells := []string{r.scenario, r.mode, percent(r.hostBusy), fixed(r.hostCPUPerReq, 1), fixed(added, 1),
				fixed(traced, 1), fixed((r.bpfNsPerReq-floor.bpfNsPerReq)/1000, 1), fixed(r.collectorCPUPerReq, 1),
				fixed(added-traced-r.collectorCPUPerReq, 1), fixed(r.rps/floor.rps, 2), fixed(allowed, 1)}
			b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
		}
	}
	return b.String()
}

func percent(share float64) string {
	if math.IsNaN(share) {
		return "–"
	}
	return strconv.FormatFloat(100*share, 'f', 0, 64) + "%"
}

// renderPrograms writes, per scenario, ebpftap's BPF programs at one mode:
// runs per request and time per run, summed over the rounds, so the cost
// of each probe family shows.
func renderPrograms(samples []sample, scs []scenario, m mode) string {
	var b strings.Builder
	for _, sc := range scs {
		total := map[string]programRun{}
		var requests int64
		for _, s := range samples {
			if s.Scenario != sc.name || s.Mode != m.name || s.Err != "" {
				continue
			}
			requests += s.Requests
			for name, p := range s.Programs {
				t := total[name]
				t.Uprobe = p.Uprobe
				t.Runs += p.Runs
				t.Runtime += p.Runtime
				total[name] = t
			}
		}
		if requests == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n%s, %s: BPF programs that ran\n\n| program | kind | runs/req | ns/run | ns/req |\n|---|---|---|---|---|\n", sc.name, m.name)
		names := slices.SortedFunc(maps.Keys(total), func(x, y string) int {
			return int(total[y].Runtime - total[x].Runtime) // costliest first
		})
		for _, name := range names {
			t := total[name]
			if t.Runs == 0 {
				continue
			}
			kind := "tracepoint"
			if t.Uprobe {
				kind = "uprobe"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", name, kind,
				fixed(float64(t.Runs)/float64(requests), 2),
				thousands(float64(t.Runtime)/float64(t.Runs)),
				thousands(float64(t.Runtime)/float64(requests)))
		}
	}
	return b.String()
}

// renderFloorHits writes the floor's uprobe hits per request by library.
func renderFloorHits(samples []sample, scs []scenario) string {
	var b strings.Builder
	for _, sc := range scs {
		byLib := map[string]uint64{}
		var requests int64
		for _, s := range samples {
			if s.Scenario != sc.name || s.Mode != "floor" || s.Err != "" {
				continue
			}
			requests += s.Requests
			for lib, n := range s.UprobeHitsByLib {
				byLib[lib] += n
			}
		}
		if requests == 0 || len(byLib) == 0 {
			continue
		}
		var parts []string
		for _, lib := range slices.Sorted(maps.Keys(byLib)) {
			parts = append(parts, fmt.Sprintf("%s %s", lib, fixed(float64(byLib[lib])/float64(requests), 2)))
		}
		fmt.Fprintf(&b, "- %s: %s\n", sc.name, strings.Join(parts, ", "))
	}
	return b.String()
}
