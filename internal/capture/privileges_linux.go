//go:build linux

package capture

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// The engine's privileges are checked once, at start, against the process's
// effective capabilities, so that a missing one is named with what it is for
// rather than surfacing as the kernel's EPERM from whichever call needed it.
// docs/privileges.md gives the evidence behind each entry (setpriv runs of
// TestE2EPrivileges on Linux 6.18).

// capSet is a set of capabilities: bit n is capability n (capability.h).
type capSet uint64

func (s capSet) has(c int) bool { return s&(1<<uint(c)) != 0 }

// capability is one capability the engine uses: what it is for and what the
// capture lacks without it.
type capability struct {
	num      int
	name     string
	purpose  string
	required bool   // Start fails without it
	without  string // what an optional one's absence costs
	// orSysAdmin: CAP_SYS_ADMIN grants it too, as it did alone before the
	// split of Linux 5.8 (bpf_capable() and perfmon_capable() accept either).
	orSysAdmin bool
}

// capabilities are the engine's needs with tracefs mounted: two to load and
// attach, two to see into processes of other users.
var capabilities = []capability{
	{
		num: unix.CAP_BPF, name: "CAP_BPF", required: true, orSysAdmin: true,
		purpose: "create BPF maps and load BPF programs (bpf(2))",
	},
	{
		num: unix.CAP_PERFMON, name: "CAP_PERFMON", required: true, orSysAdmin: true,
		purpose: "load tracing programs that read kernel and process memory, and attach them to tracepoints and uprobes (perf_event_open(2))",
	},
	{
		// /proc/<pid>/exe, root and cwd are followed only by a process that
		// passes ptrace_may_access: another user's, or one whose permitted
		// capabilities exceed the collector's, needs CAP_SYS_PTRACE.
		num: unix.CAP_SYS_PTRACE, name: "CAP_SYS_PTRACE",
		purpose: "open the executables and libraries of other users' processes, and of processes with more capabilities, through /proc/<pid>/exe and /proc/<pid>/root",
		without: "their Go programs and the TLS libraries they load from their own files are not probed, so their HTTPS is seen encrypted only, and those started before the collector have no process.executable.path",
	},
	{
		// /proc/<pid>/environ is mode 0400, owned by the process's user.
		num: unix.CAP_DAC_READ_SEARCH, name: "CAP_DAC_READ_SEARCH",
		purpose: "read files that file modes keep from the collector's user: other users' /proc/<pid>/environ, and executables and libraries only their owner may read",
		without: "other users' processes get no service.name from OTEL_SERVICE_NAME (the executable's name instead), and their private executables and libraries are not probed for TLS",
	},
}

// privilegeCheck is what the effective capabilities lack: the capabilities
// Start cannot do without, and those the capture is poorer without.
type privilegeCheck struct {
	required []string // "CAP_BPF: create BPF maps and load BPF programs (bpf(2))"
	optional []string // "CAP_SYS_PTRACE: ...; without it, ..."
}

// classicUprobeNeed is what CAP_SYS_ADMIN is for where the TLS probes are
// classic uprobes. Linux 6.16 took uprobes made through perf_event_open
// back from CAP_PERFMON (commit ba677dbe77af, backported to stable kernels
// in July 2025: a probe in the middle of an instruction corrupts the
// process); uprobe_multi links (Linux 6.6) are not affected. Measured on
// 6.18: EACCES without CAP_SYS_ADMIN.
const classicUprobeNeed = "CAP_SYS_ADMIN: attach the TLS uprobes through perf_event_open(2), as a kernel without uprobe_multi links (before 6.6) needs, which recent kernels (6.16, and stable updates since July 2025) allow only with CAP_SYS_ADMIN; without it, TLS libraries and Go programs may not be probed: their HTTPS is seen encrypted only"

// checkPrivileges says which capabilities eff lacks. lastCap is the
// kernel's highest capability (/proc/sys/kernel/cap_last_cap): a kernel
// older than Linux 5.8 has no CAP_BPF and CAP_PERFMON, and loads and
// attaches with CAP_SYS_ADMIN alone. tracefsMounted false adds CAP_SYS_ADMIN,
// which mounting it needs; classicUprobes (no uprobe_multi links) adds it
// as optional, for the TLS probes.
func checkPrivileges(eff capSet, lastCap int, tracefsMounted, classicUprobes bool) privilegeCheck {
	var c privilegeCheck
	sysAdmin := eff.has(unix.CAP_SYS_ADMIN)
	preSplit := lastCap < unix.CAP_BPF
	if preSplit && !sysAdmin {
		c.required = append(c.required, "CAP_SYS_ADMIN: load BPF programs and attach them (this kernel predates CAP_BPF and CAP_PERFMON, Linux 5.8)")
	}
	for _, cp := range capabilities {
		if eff.has(cp.num) || (cp.orSysAdmin && (sysAdmin || preSplit)) {
			continue
		}
		if cp.required {
			c.required = append(c.required, cp.name+": "+cp.purpose)
		} else {
			c.optional = append(c.optional, cp.name+": "+cp.purpose+"; without it, "+cp.without)
		}
	}
	if !tracefsMounted && !sysAdmin && !preSplit {
		c.required = append(c.required, "CAP_SYS_ADMIN: mount tracefs, which tracepoints are found through and which is not mounted; or mount it before start: mount -t tracefs nodev /sys/kernel/tracing")
	}
	if classicUprobes && !sysAdmin && !preSplit {
		c.optional = append(c.optional, classicUprobeNeed)
	}
	return c
}

// err is the error Start fails with, or nil.
func (c privilegeCheck) err() error {
	if len(c.required) == 0 {
		return nil
	}
	return fmt.Errorf("capture: this process lacks capabilities the capture needs (run as root, or grant them; docs/privileges.md): %s", strings.Join(c.required, "; "))
}

// warning is what Start logs when it goes on without optional
// capabilities, or "".
func (c privilegeCheck) warning() string {
	if len(c.optional) == 0 {
		return ""
	}
	return "capturing without " + strings.Join(c.optional, "; ")
}

// effectiveCapabilities reads this process's effective capabilities and the
// kernel's highest capability number.
func effectiveCapabilities() (eff capSet, lastCap int, err error) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0, fmt.Errorf("capture: reading this process's capabilities: %w", err)
	}
	eff, err = parseCapEff(status)
	if err != nil {
		return 0, 0, fmt.Errorf("capture: reading this process's capabilities from /proc/self/status: %w", err)
	}
	lastCap = unix.CAP_LAST_CAP // a kernel that hides it is no older than these headers
	if b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			lastCap = n
		}
	}
	return eff, lastCap, nil
}

// parseCapEff reads the "CapEff:" line of /proc/<pid>/status: the effective
// set in hexadecimal (proc(5)).
func parseCapEff(status []byte) (capSet, error) {
	s := bufio.NewScanner(bytes.NewReader(status))
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "CapEff:"); ok {
			v, err := strconv.ParseUint(strings.TrimSpace(rest), 16, 64)
			if err != nil {
				return 0, fmt.Errorf("CapEff %q: %w", rest, err)
			}
			return capSet(v), nil
		}
	}
	return 0, fmt.Errorf("no CapEff line")
}
