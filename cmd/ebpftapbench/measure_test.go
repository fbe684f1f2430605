package main

import (
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseProcStat(t *testing.T) {
	// A command name with a space and a ')' of its own: fields are counted
	// from the last ')'. utime 250 and stime 50 ticks: 3 s.
	line := []byte("4242 (nginx: worker) x) S 4241 4241 2430 0 -1 4194560 1230 0 0 0 250 50 0 0 20 0 1 0 540041 2998272 423 18446744073709551615\n")
	s, err := parseProcStat(line)
	require.NoError(t, err)
	assert.Equal(t, procStat{pgrp: 4241, cpu: 3 * time.Second}, s)

	_, err = parseProcStat([]byte("4242 (short) S 1 2"))
	assert.ErrorContains(t, err, "want at least 13")
	_, err = parseProcStat([]byte("no command"))
	assert.Error(t, err)
}

func TestReadProcStatOfSelf(t *testing.T) {
	s, err := readProcStat(os.Getpid())
	require.NoError(t, err)
	assert.Equal(t, syscall.Getpgrp(), s.pgrp)

	rss, err := peakRSS(os.Getpid())
	require.NoError(t, err)
	assert.Greater(t, rss, uint64(1<<20), "a Go test binary peaks above 1 MiB")
}

func TestParseHostCPU(t *testing.T) {
	// user 100, nice 20, system 30, idle 500, iowait 7, irq 2, softirq 8,
	// steal 3, guest 40 (inside user), guest_nice 0: busy 160 ticks, all 670.
	stat := []byte("cpu  100 20 30 500 7 2 8 3 40 0\ncpu0 50 10 15 250 3 1 4 1 20 0\nintr 1\n")
	h, err := parseHostCPU(stat)
	require.NoError(t, err)
	assert.Equal(t, hostCPU{busy: 1600 * time.Millisecond, total: 6700 * time.Millisecond}, h)

	_, err = parseHostCPU([]byte("cpu0 1 2 3 4 5 6 7 8\n"))
	assert.ErrorContains(t, err, "want the cpu line")
	_, err = parseHostCPU([]byte("cpu 1 2 3 x 5 6 7 8\n"))
	assert.ErrorContains(t, err, "cpu line")

	now, err := readHostCPU()
	require.NoError(t, err)
	assert.Greater(t, now.total, now.busy, "this host has been idle at some point since boot")
}

func TestFdinfoProgID(t *testing.T) {
	prog := []byte("pos:\t0\nflags:\t02000002\nmnt_id:\t15\nino:\t2072\nprog_type:\t2\nprog_jited:\t1\nprog_tag:\t0a1b2c3d4e5f6a7b\nmemlock:\t4096\nprog_id:\t123\nrun_time_ns:\t0\nrun_cnt:\t0\n")
	id, ok := fdinfoProgID(prog)
	assert.True(t, ok)
	assert.Equal(t, ebpf.ProgramID(123), id)

	link := []byte("pos:\t0\nflags:\t02000000\nlink_type:\tuprobe_multi\nlink_id:\t42\nprog_tag:\t0a1b2c3d4e5f6a7b\nprog_id:\t124\n")
	id, ok = fdinfoProgID(link)
	assert.True(t, ok)
	assert.Equal(t, ebpf.ProgramID(124), id)

	_, ok = fdinfoProgID([]byte("pos:\t0\nflags:\t02\nmnt_id:\t15\nino:\t1\n"))
	assert.False(t, ok, "a file descriptor of no BPF program")
}

func TestProgramDelta(t *testing.T) {
	before := map[ebpf.ProgramID]progStat{
		1: {name: "enter_read", runs: 100, runtime: time.Millisecond},
		2: {name: "go_tls_enter", uprobe: true, runs: 10, runtime: 20 * time.Microsecond},
	}
	after := map[ebpf.ProgramID]progStat{
		1: {name: "enter_read", runs: 150, runtime: 2 * time.Millisecond},
		2: {name: "go_tls_enter", uprobe: true, runs: 30, runtime: 60 * time.Microsecond},
		3: {name: "go_tls_enter", uprobe: true, runs: 5, runtime: 10 * time.Microsecond}, // loaded since
	}
	assert.Equal(t, map[string]progStat{
		"enter_read":   {name: "enter_read", runs: 50, runtime: time.Millisecond},
		"go_tls_enter": {name: "go_tls_enter", uprobe: true, runs: 25, runtime: 50 * time.Microsecond},
	}, programDelta(before, after))
}
