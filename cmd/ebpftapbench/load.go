package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// loadResult is what a load tool reports of one run.
type loadResult struct {
	requests int64   // completed
	rps      float64 // completed per second, as the tool computed it
	p50, p99 time.Duration
}

// loadTool says how to run one load generator and read its report.
type loadTool struct {
	name string
	// args is the command line for a run of d against target; logFile is a
	// path the tool may write per-request latencies to.
	args func(bin, target string, d time.Duration, logFile string) []string
	// parse reads the tool's standard output and, if it wrote one, logFile.
	parse func(stdout []byte, logFile io.Reader) (loadResult, error)
}

// loadConnections is the concurrency of every load: 16 connections (or,
// for gRPC, 16 concurrent calls), as in the held-out load.
const loadConnections = 16

var (
	wrkTool = loadTool{
		name: "wrk",
		args: func(_, target string, d time.Duration, _ string) []string {
			return []string{"wrk", "-t2", fmt.Sprintf("-c%d", loadConnections), "-d" + seconds(d), "--latency", target}
		},
		parse: func(out []byte, _ io.Reader) (loadResult, error) { return parseWrk(out) },
	}
	// h2loadTool keeps 16 connections with one stream each, so that its
	// concurrency is wrk's and the difference is the protocol.
	h2loadTool = loadTool{
		name: "h2load",
		args: func(_, target string, d time.Duration, logFile string) []string {
			return []string{"h2load", fmt.Sprintf("-c%d", loadConnections), "-m1", "-D", seconds(d), "--log-file=" + logFile, target}
		},
		parse: parseH2load,
	}
	goloadHTTPTool = loadTool{
		name: "goload",
		args: func(bin, target string, d time.Duration, logFile string) []string {
			return []string{bin, "-d", d.String(), "-c", strconv.Itoa(loadConnections), "-log-file", logFile, target}
		},
		parse: parseGoload,
	}
	goloadGRPCTool = loadTool{
		name: "goload -grpc",
		args: func(bin, target string, d time.Duration, logFile string) []string {
			return []string{bin, "-grpc", "-d", d.String(), "-c", strconv.Itoa(loadConnections), "-log-file", logFile, target}
		},
		parse: parseGoload,
	}
)

// seconds writes d in whole seconds, at least 1, as wrk and h2load take it.
func seconds(d time.Duration) string {
	return strconv.Itoa(max(1, int(d.Round(time.Second)/time.Second))) + "s"
}

var (
	wrkRequests = regexp.MustCompile(`(?m)^\s*(\d+) requests in `)
	wrkRPS      = regexp.MustCompile(`(?m)^Requests/sec:\s+([\d.]+)`)
	wrkP50      = regexp.MustCompile(`(?m)^\s+50%\s+([\d.]+)(us|ms|s)\s*$`)
	wrkP99      = regexp.MustCompile(`(?m)^\s+99%\s+([\d.]+)(us|ms|s)\s*$`)
	wrkNon2xx   = regexp.MustCompile(`(?m)^\s*Non-2xx or 3xx responses: (\d+)`)
)

// parseWrk reads wrk's report (run with --latency). Requests answered with
// a status other than 2xx or 3xx are an error: the servers answer 200 to
// everything, so such answers mean the scenario is broken.
func parseWrk(out []byte) (loadResult, error) {
	var r loadResult
	m := wrkRequests.FindSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("wrk's report has no request count:\n%s", out)
	}
	r.requests, _ = strconv.ParseInt(string(m[1]), 10, 64)
	if m = wrkRPS.FindSubmatch(out); m == nil {
		return r, fmt.Errorf("wrk's report has no Requests/sec:\n%s", out)
	}
	r.rps, _ = strconv.ParseFloat(string(m[1]), 64)
	var err error
	if r.p50, err = wrkLatency(wrkP50.FindSubmatch(out)); err != nil {
		return r, fmt.Errorf("wrk's 50%% latency: %w:\n%s", err, out)
	}
	if r.p99, err = wrkLatency(wrkP99.FindSubmatch(out)); err != nil {
		return r, fmt.Errorf("wrk's 99%% latency: %w:\n%s", err, out)
	}
	if m = wrkNon2xx.FindSubmatch(out); m != nil {
		return r, fmt.Errorf("wrk: %s requests were not answered 200:\n%s", m[1], out)
	}
	if r.requests == 0 {
		return r, fmt.Errorf("wrk completed no request:\n%s", out)
	}
	return r, nil
}

func wrkLatency(m [][]byte) (time.Duration, error) {
	if m == nil {
		return 0, errors.New("missing (was --latency given?)")
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		return 0, err
	}
	unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[string(m[2])]
	return time.Duration(v * float64(unit)), nil
}

var (
	h2loadFinished = regexp.MustCompile(`(?m)^finished in [\d.]+m?s, ([\d.]+) req/s`)
	h2loadRequests = regexp.MustCompile(`(?m)^requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout`)
)

// parseH2load reads h2load's report and, for the percentiles it does not
// print, its --log-file. Completed requests are those done: a non-2xx
// answer is still an exchange on the wire, but the servers answer 200 to
// everything, so one that failed means the scenario is broken.
func parseH2load(out []byte, log io.Reader) (loadResult, error) {
	var r loadResult
	m := h2loadRequests.FindSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("h2load's report has no request counts:\n%s", out)
	}
	r.requests, _ = strconv.ParseInt(string(m[1]), 10, 64)
	if succeeded, _ := strconv.ParseInt(string(m[2]), 10, 64); succeeded != r.requests {
		return r, fmt.Errorf("h2load: %d requests done but %d succeeded:\n%s", r.requests, succeeded, out)
	}
	if m = h2loadFinished.FindSubmatch(out); m == nil {
		return r, fmt.Errorf("h2load's report has no req/s:\n%s", out)
	}
	r.rps, _ = strconv.ParseFloat(string(m[1]), 64)
	if r.requests == 0 {
		return r, fmt.Errorf("h2load completed no request:\n%s", out)
	}
	var err error
	r.p50, r.p99, err = logPercentiles(log)
	return r, err
}

// parseGoload reads goload's JSON summary and its log file.
func parseGoload(out []byte, log io.Reader) (loadResult, error) {
	var s struct {
		Requests int64   `json:"requests"`
		Errors   int64   `json:"errors"`
		Seconds  float64 `json:"seconds"`
	}
	line := out
	if i := bytes.LastIndexByte(bytes.TrimSpace(out), '\n'); i >= 0 {
		line = out[i+1:]
	}
	if err := json.Unmarshal(bytes.TrimSpace(line), &s); err != nil {
		return loadResult{}, fmt.Errorf("goload's summary: %w:\n%s", err, out)
	}
	if s.Errors > 0 {
		return loadResult{}, fmt.Errorf("goload: %d requests failed:\n%s", s.Errors, out)
	}
	if s.Requests == 0 || s.Seconds <= 0 {
		return loadResult{}, fmt.Errorf("goload completed no request:\n%s", out)
	}
	r := loadResult{requests: s.Requests, rps: float64(s.Requests) / s.Seconds}
	var err error
	r.p50, r.p99, err = logPercentiles(log)
	return r, err
}

// logPercentiles reads h2load's --log-file format (start µs, status,
// latency µs; tab-separated) and returns the 50th and 99th percentiles of
// the latency, nearest-rank.
func logPercentiles(log io.Reader) (p50, p99 time.Duration, err error) {
	if log == nil {
		return 0, 0, errors.New("no per-request log to read latencies from")
	}
	var lat []time.Duration
	sc := bufio.NewScanner(log)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		if len(fields) < 3 {
			return 0, 0, fmt.Errorf("per-request log line %q: want 3 tab-separated fields", sc.Text())
		}
		us, err := strconv.ParseInt(fields[2], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("per-request log line %q: latency: %w", sc.Text(), err)
		}
		lat = append(lat, time.Duration(us)*time.Microsecond)
	}
	if err := sc.Err(); err != nil {
		return 0, 0, fmt.Errorf("reading the per-request log: %w", err)
	}
	if len(lat) == 0 {
		return 0, 0, errors.New("the per-request log is empty")
	}
	slices.Sort(lat)
	return nearestRank(lat, 0.50), nearestRank(lat, 0.99), nil
}

// nearestRank is the q-quantile of sorted: the smallest value with at least
// q of the values at or below it.
func nearestRank(sorted []time.Duration, q float64) time.Duration {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
