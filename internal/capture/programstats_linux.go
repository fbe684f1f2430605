//go:build linux && (amd64 || arm64)

package capture

import (
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// namedProgram is a loaded program under its function's name: the kernel
// keeps only 15 characters of a name.
type namedProgram struct {
	name string
	prog *ebpf.Program
}

// namedPrograms lists the programs of a bpf2go programs struct (a pointer
// to one) under the names their ebpf tags give; nil lists none.
func namedPrograms(progs any) []namedProgram {
	v := reflect.ValueOf(progs)
	if v.IsNil() {
		return nil
	}
	v = v.Elem()
	var out []namedProgram
	for i := range v.NumField() {
		name := v.Type().Field(i).Tag.Get("ebpf")
		if p, ok := v.Field(i).Interface().(*ebpf.Program); ok && name != "" && p != nil {
			out = append(out, namedProgram{name, p})
		}
	}
	return out
}

// enableProgramStats has the kernel count the programs' runs and run time
// until the returned Closer is closed. Without CAP_SYS_ADMIN it succeeds,
// with nothing to close, only where the sysctl counts them already.
func enableProgramStats() (io.Closer, error) {
	on, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
	switch {
	case err == nil:
		return on, nil
	case errors.Is(err, unix.EPERM):
		if b, _ := os.ReadFile("/proc/sys/kernel/bpf_stats_enabled"); strings.TrimSpace(string(b)) == "1" {
			return nil, nil
		}
		return nil, fmt.Errorf("capture: counting the BPF programs' run time (BPF_ENABLE_STATS) needs CAP_SYS_ADMIN, or the sysctl kernel.bpf_stats_enabled set to 1 before start: %w", err)
	default:
		return nil, fmt.Errorf("capture: counting the BPF programs' run time (BPF_ENABLE_STATS, Linux 5.8 and later): %w", err)
	}
}

// ProgramStats returns what the kernel counted of each of the engine's
// programs, syscall and TLS ones, with Options.ProgramStats; nil without.
// After Close it returns the counts the programs had when they were
// closed. Safe from any goroutine.
func (e *Engine) ProgramStats() []ProgramStat {
	if !e.opts.ProgramStats {
		return nil
	}
	e.countersMu.Lock()
	defer e.countersMu.Unlock()
	if e.unloaded {
		return e.finalPrograms
	}
	return e.readPrograms()
}

// readPrograms reads the programs' counts. Callers hold countersMu, which
// orders it with closing the programs.
func (e *Engine) readPrograms() []ProgramStat {
	out := make([]ProgramStat, 0, len(e.programs))
	for _, p := range e.programs {
		st, err := p.prog.Stats()
		if err != nil {
			continue // not counted: the caller sees the program missing
		}
		out = append(out, ProgramStat{Name: p.name, Runs: st.RunCount, Runtime: st.Runtime})
	}
	return out
}
