package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// mode is how a scenario's processes are traced during a round.
type mode struct {
	key   string  // as -modes takes it
	name  string  // as the table shows it
	level string  // ebpftap's capture level; "" runs no collector
	ratio float64 // ebpftap's sampling.ratio; 0 leaves its default, 1
	floor bool    // the bare probe sites, no BPF program
}

var modes = []mode{
	{key: "baseline", name: "baseline"},
	{key: "floor", name: "floor", floor: true},
	{key: "none", name: "ebpftap none", level: "none"},
	{key: "summary", name: "ebpftap summary", level: "summary"},
	{key: "full", name: "ebpftap full", level: "full"},
	// A tenth of the transactions get spans and log records: completeness
	// reads about 0.1 here, and the metrics still count every request.
	{key: "sampled", name: "ebpftap summary, sampled 0.1", level: "summary", ratio: 0.1},
}

// pickModes returns the modes a -modes list names, in the table's order.
func pickModes(list string) ([]mode, error) {
	return pick(modes, list, "-modes", func(m mode) string { return m.key })
}

// pickScenarios returns the scenarios a -scenarios list names, in the
// table's order; "all" is every one.
func pickScenarios(list string) ([]scenario, error) {
	if list == "all" {
		return scenarios, nil
	}
	return pick(scenarios, list, "-scenarios", func(s scenario) string { return s.name })
}

func pick[T any](all []T, list, flag string, key func(T) string) ([]T, error) {
	want := strings.Split(list, ",")
	var keys []string
	for _, t := range all {
		keys = append(keys, key(t))
	}
	for _, w := range want {
		if !slices.Contains(keys, w) {
			return nil, fmt.Errorf("%s: unknown %q; choose from %s", flag, w, strings.Join(keys, ","))
		}
	}
	var out []T
	for _, t := range all {
		if slices.Contains(want, key(t)) {
			out = append(out, t)
		}
	}
	return out, nil
}

// roundOrder is the order of the modes in a round: alternated, and
// reversed every other round, so that a drift of the machine during a run
// (another user's build starting, a cache warming) weighs on every mode
// alike instead of on the last ones.
func roundOrder(ms []mode, round int) []mode {
	out := slices.Clone(ms)
	if round%2 == 1 {
		slices.Reverse(out)
	}
	return out
}

// floorSites lists the uprobe sites ebpftap would probe for a scenario:
// the Go crypto/tls sites of its Go programs, and the OpenSSL functions of
// every libssl its C programs load, each file once.
func (b *bench) floorSites(sc scenario, server *process, serverPids []int) ([]uprobeSite, error) {
	loadExe, err := sc.loadExe(b)
	if err != nil {
		return nil, fmt.Errorf("finding %s's executable: %w", sc.tool.name, err)
	}
	var goExes, libs []string
	if sc.goServer {
		goExes = append(goExes, server.cmd.Path)
	} else {
		mapped, err := libsslMappedBy(serverPids)
		if err != nil {
			return nil, err
		}
		libs = append(libs, mapped...)
	}
	if sc.goLoad {
		goExes = append(goExes, loadExe)
	} else {
		linked, err := libsslLinkedBy(loadExe)
		if err != nil {
			return nil, err
		}
		libs = append(libs, linked...)
	}
	if goExes, err = sameFiles(goExes); err != nil {
		return nil, err
	}
	if libs, err = sameFiles(libs); err != nil {
		return nil, err
	}
	var sites []uprobeSite
	for i, exe := range goExes {
		s, err := goFloorSites(exe, i)
		if err != nil {
			return nil, err
		}
		sites = append(sites, s...)
	}
	for i, lib := range libs {
		s, err := opensslFloorSites(lib, i, b.sslReturns)
		if err != nil {
			return nil, err
		}
		sites = append(sites, s...)
	}
	return sites, nil
}

// writeCollectorConfig writes the collector's config for a mode into dir.
func (b *bench) writeCollectorConfig(dir string, m mode) (string, error) {
	endpoint := ""
	if b.opts.pprof != "" {
		endpoint = pprofEndpoint
	}
	cfg, err := collectorConfig(m.level, m.ratio, b.sinkSocket, endpoint)
	if err != nil {
		return "", fmt.Errorf("writing the collector config: %w", err)
	}
	path := filepath.Join(dir, "collector.yaml")
	return path, os.WriteFile(path, cfg, 0o644)
}
