//go:build linux

package capture

import (
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func caps(nums ...int) capSet {
	var s capSet
	for _, n := range nums {
		s |= 1 << uint(n)
	}
	return s
}

// names is the capability each message starts with.
func names(msgs []string) []string {
	var out []string
	for _, m := range msgs {
		name, _, _ := strings.Cut(m, ":")
		out = append(out, name)
	}
	return out
}

func TestCapabilitiesCheck(t *testing.T) {
	minimum := caps(unix.CAP_BPF, unix.CAP_PERFMON, unix.CAP_SYS_PTRACE, unix.CAP_DAC_READ_SEARCH)
	root := capSet(1<<(unix.CAP_CHECKPOINT_RESTORE+1) - 1)
	for _, tc := range []struct {
		name     string
		eff      capSet
		lastCap  int
		tracefs  bool
		classic  bool // TLS probes as classic uprobes
		required []string
		optional []string
	}{
		{"root", root, 40, true, false, nil, nil},
		{"root, tracefs not mounted", root, 40, false, false, nil, nil},
		{"the minimum", minimum, 40, true, false, nil, nil},
		{"none", 0, 40, true, false, []string{"CAP_BPF", "CAP_PERFMON"}, []string{"CAP_SYS_PTRACE", "CAP_DAC_READ_SEARCH"}},
		{"none, tracefs not mounted", 0, 40, false, false, []string{"CAP_BPF", "CAP_PERFMON", "CAP_SYS_ADMIN"}, []string{"CAP_SYS_PTRACE", "CAP_DAC_READ_SEARCH"}},
		{"no CAP_BPF", minimum &^ caps(unix.CAP_BPF), 40, true, false, []string{"CAP_BPF"}, nil},
		{"no CAP_PERFMON", minimum &^ caps(unix.CAP_PERFMON), 40, true, false, []string{"CAP_PERFMON"}, nil},
		{"no CAP_SYS_PTRACE", minimum &^ caps(unix.CAP_SYS_PTRACE), 40, true, false, nil, []string{"CAP_SYS_PTRACE"}},
		{"no CAP_DAC_READ_SEARCH", minimum &^ caps(unix.CAP_DAC_READ_SEARCH), 40, true, false, nil, []string{"CAP_DAC_READ_SEARCH"}},
		{"the minimum, tracefs not mounted", minimum, 40, false, false, []string{"CAP_SYS_ADMIN"}, nil},
		// CAP_SYS_ADMIN passes bpf_capable() and perfmon_capable().
		{"CAP_SYS_ADMIN for BPF", caps(unix.CAP_SYS_ADMIN, unix.CAP_SYS_PTRACE, unix.CAP_DAC_READ_SEARCH), 40, false, false, nil, nil},
		// Before Linux 5.8 (cap_last_cap 37) only CAP_SYS_ADMIN loads and attaches.
		{"before 5.8, CAP_SYS_ADMIN", caps(unix.CAP_SYS_ADMIN, unix.CAP_SYS_PTRACE, unix.CAP_DAC_READ_SEARCH), 37, false, false, nil, nil},
		{"before 5.8, no CAP_SYS_ADMIN", minimum, 37, true, false, []string{"CAP_SYS_ADMIN"}, nil},
		{"classic uprobes, the minimum", minimum, 40, true, true, nil, []string{"CAP_SYS_ADMIN"}},
		{"classic uprobes, root", root, 40, true, true, nil, nil},
		{"classic uprobes, before 5.8", caps(unix.CAP_SYS_ADMIN), 37, true, true, nil, []string{"CAP_SYS_PTRACE", "CAP_DAC_READ_SEARCH"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := checkPrivileges(tc.eff, tc.lastCap, tc.tracefs, tc.classic)
			if got := names(c.required); !slices.Equal(got, tc.required) {
				t.Errorf("required: missing %v, want %v", got, tc.required)
			}
			if got := names(c.optional); !slices.Equal(got, tc.optional) {
				t.Errorf("optional: missing %v, want %v", got, tc.optional)
			}
			err := c.err()
			if (err != nil) != (len(tc.required) > 0) {
				t.Fatalf("err %v with %d required capabilities missing", err, len(tc.required))
			}
			for _, name := range tc.required {
				if !strings.Contains(err.Error(), name+": ") {
					t.Errorf("error %q does not name %s with its purpose", err, name)
				}
			}
			w := c.warning()
			if (w != "") != (len(tc.optional) > 0) {
				t.Fatalf("warning %q with %d optional capabilities missing", w, len(tc.optional))
			}
			for _, name := range tc.optional {
				if !strings.Contains(w, name+": ") {
					t.Errorf("warning %q does not name %s with its purpose", w, name)
				}
			}
		})
	}
}

// TestCapabilitiesMessages pins the texts users read.
func TestCapabilitiesMessages(t *testing.T) {
	c := checkPrivileges(caps(unix.CAP_SYS_PTRACE), 40, true, false)
	want := "capture: this process lacks capabilities the capture needs (run as root, or grant them; docs/privileges.md): " +
		"CAP_BPF: create BPF maps and load BPF programs (bpf(2)); " +
		"CAP_PERFMON: load tracing programs that read kernel and process memory, and attach them to tracepoints and uprobes (perf_event_open(2))"
	if got := c.err().Error(); got != want {
		t.Errorf("error\n%s\nwant\n%s", got, want)
	}
	want = "capturing without CAP_DAC_READ_SEARCH: read files that file modes keep from the collector's user: other users' /proc/<pid>/environ, " +
		"and executables and libraries only their owner may read; without it, other users' processes get no service.name from OTEL_SERVICE_NAME " +
		"(the executable's name instead), and their private executables and libraries are not probed for TLS"
	if got := c.warning(); got != want {
		t.Errorf("warning\n%s\nwant\n%s", got, want)
	}
}

func TestCapabilitiesParseCapEff(t *testing.T) {
	status := "Name:\tcat\nCapInh:\t0000000000000000\nCapPrm:\t000001fffeffffff\nCapEff:\t000000c000080004\nCapBnd:\t000001fffeffffff\n"
	got, err := parseCapEff([]byte(status))
	if want := caps(unix.CAP_DAC_READ_SEARCH, unix.CAP_SYS_PTRACE, unix.CAP_PERFMON, unix.CAP_BPF); err != nil || got != want {
		t.Errorf("parseCapEff = %x, %v; want %x", got, err, want)
	}
	if _, err := parseCapEff([]byte("Name:\tcat\n")); err == nil {
		t.Error("no CapEff line: no error")
	}
	if _, err := parseCapEff([]byte("CapEff:\tzz\n")); err == nil {
		t.Error("CapEff zz: no error")
	}
}
