package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseUprobeProfile(t *testing.T) {
	// The kernel's format: "  %s %-44s %15lu\n" (file, event, hits).
	profile := []byte("  /usr/lib/x86_64-linux-gnu/libssl.so.3 etb_SSL_read_0                                      1200\n" +
		"  /usr/lib/x86_64-linux-gnu/libssl.so.3 etb_SSL_read_ret_0                                  1200\n" +
		"  /usr/bin/other other_probe                                                                  7\n")
	hits, err := parseUprobeProfile(profile)
	require.NoError(t, err)
	assert.Equal(t, map[string]uint64{"etb_SSL_read_0": 1200, "etb_SSL_read_ret_0": 1200, "other_probe": 7}, hits)

	_, err = parseUprobeProfile([]byte("  /a b c d\n"))
	assert.ErrorContains(t, err, "want file, event and hits")
}

func TestFloorEvents(t *testing.T) {
	defs := []byte("p:ebpftapbench/etb_go_write_0 /tmp/goserver:0x0000000000123400\n" +
		"r:ebpftapbench/etb_SSL_read_ret_0 /usr/lib/x86_64-linux-gnu/libssl.so.3:0x0000000000039ab0\n" +
		"p:someoneelse/probe /bin/true:0x0000000000001000\n" +
		"p:ebpftapbenchx/lookalike /bin/true:0x0000000000001000\n")
	assert.Equal(t, []string{"etb_go_write_0", "etb_SSL_read_ret_0"}, floorEvents(defs))
	assert.Empty(t, floorEvents(nil))
}

func TestOpensslReturns(t *testing.T) {
	all, err := opensslReturns("all")
	require.NoError(t, err)
	assert.Equal(t, opensslFuncs, all)
	reads, err := opensslReturns("reads")
	require.NoError(t, err)
	assert.Equal(t, []string{"SSL_read", "SSL_read_ex"}, reads)
	_, err = opensslReturns("writes")
	assert.ErrorContains(t, err, "must be all or reads")
}

// TestGoFloorSites finds the floor's sites in goload, the bench's Go load
// tool, which calls crypto/tls.
func TestGoFloorSites(t *testing.T) {
	exe := filepath.Join(t.TempDir(), "goload")
	out, err := exec.Command("go", "build", "-o", exe, "./goload").CombinedOutput()
	require.NoError(t, err, "%s", out)
	sites, err := goFloorSites(exe, 3)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(sites), 3, "Write's entry, Read's entry and at least one RET of Read")
	assert.Equal(t, "etb_go_write_3", sites[0].event)
	assert.Equal(t, "etb_go_read_3", sites[1].event)
	for _, s := range sites {
		assert.Equal(t, "go", s.library)
		assert.Equal(t, exe, s.path)
		assert.NotZero(t, s.offset)
		assert.False(t, s.ret, "Go's returns are probed at their RET instructions, never with a uretprobe")
	}
	for _, s := range sites[2:] {
		assert.True(t, strings.HasPrefix(s.event, "etb_go_readret_3_"), s.event)
	}

	// A file that is no Go program using crypto/tls has no site, as the
	// engine probes none in it.
	notGo := filepath.Join(t.TempDir(), "plain")
	require.NoError(t, os.WriteFile(notGo, []byte("#!/bin/sh\n"), 0o755))
	sites, err = goFloorSites(notGo, 0)
	assert.NoError(t, err)
	assert.Empty(t, sites)
}

// TestEngineTracepoints reads the engine's committed BPF object: the floor
// enables what the engine attaches, whatever bpf/syscalls.c becomes.
func TestEngineTracepoints(t *testing.T) {
	tps, err := engineTracepoints(filepath.Join("..", ".."))
	require.NoError(t, err)
	for _, want := range []string{"syscalls/sys_enter_read", "syscalls/sys_exit_write", "sched/sched_process_exec", "sock/inet_sock_set_state"} {
		assert.Contains(t, tps, want)
	}
	for _, tp := range tps {
		assert.Equal(t, 1, strings.Count(tp, "/"), tp)
	}
}

func TestSameFiles(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	require.NoError(t, os.WriteFile(a, nil, 0o644))
	require.NoError(t, os.WriteFile(b, nil, 0o644))
	require.NoError(t, os.Symlink(a, filepath.Join(dir, "a-link")))
	got, err := sameFiles([]string{a, filepath.Join(dir, "a-link"), b, a})
	require.NoError(t, err)
	assert.Equal(t, []string{a, b}, got)
}
