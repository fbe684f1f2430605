package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// tool is a program the bench runs, with the package that brings it.
type tool struct{ name, install string }

var (
	toolWrk     = tool{"wrk", "apt-get install wrk"}
	toolH2load  = tool{"h2load", "apt-get install nghttp2-client"}
	toolNginx   = tool{"nginx", "apt-get install nginx"}
	toolOpenssl = tool{"openssl", "apt-get install openssl"} // the servers' certificate
	toolLdd     = tool{"ldd", "apt-get install libc-bin"}    // the libssl a load tool loads, for the floor
	toolGo      = tool{"go", "the Go toolchain of go.mod"}   // builds the Go servers and goload
)

// toolsFor lists what the chosen scenarios and modes run.
func toolsFor(scs []scenario, ms []mode) []tool {
	need := []tool{toolGo, toolOpenssl}
	add := func(t tool) {
		for _, n := range need {
			if n == t {
				return
			}
		}
		need = append(need, t)
	}
	floor := false
	for _, m := range ms {
		floor = floor || m.floor
	}
	for _, sc := range scs {
		for _, t := range sc.tools {
			add(t)
		}
		if floor && !sc.goLoad {
			add(toolLdd)
		}
	}
	return need
}

// checkPrerequisites reports everything missing at once, each with how to
// get it; the bench installs nothing itself.
func checkPrerequisites(scs []scenario, ms []mode, collectorBin string) error {
	var errs []error
	if os.Geteuid() != 0 {
		errs = append(errs, errors.New("run as root: the collector loads BPF programs and the floor writes tracefs (sudo make bench)"))
	}
	var missing []string
	for _, t := range toolsFor(scs, ms) {
		if _, err := exec.LookPath(t.name); err != nil {
			missing = append(missing, fmt.Sprintf("%s (%s)", t.name, t.install))
		}
	}
	if len(missing) > 0 {
		errs = append(errs, fmt.Errorf("missing programs: %s", strings.Join(missing, ", ")))
	}
	collector := false
	floor := false
	for _, m := range ms {
		collector = collector || m.level != ""
		floor = floor || m.floor
	}
	if collector {
		if _, err := os.Stat(collectorBin); err != nil {
			errs = append(errs, fmt.Errorf("no collector distribution at %s: build it with make build", collectorBin))
		}
		if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
			errs = append(errs, fmt.Errorf("kernel BTF is missing (/sys/kernel/btf/vmlinux), which ebpftap's CO-RE programs need: %w", err))
		}
	}
	if floor {
		if _, err := os.Stat(filepath.Join(tracefsRoot, "uprobe_events")); err != nil {
			errs = append(errs, fmt.Errorf("tracefs is not mounted at %s, which the floor's probes need: mount -t tracefs nodev %s", tracefsRoot, tracefsRoot))
		}
	}
	return errors.Join(errs...)
}
