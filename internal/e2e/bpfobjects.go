package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// HeldBPF returns the ids of the BPF objects of a kind ("prog", "map",
// "link") that process pid holds open, from the fdinfo of its descriptors
// (the kernel writes prog_id, map_id or link_id there).
func HeldBPF(t testing.TB, kind string, pid int) []uint32 {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fdinfo", pid)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("listing the descriptors of process %d: %v", pid, err)
	}
	var ids []uint32
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue // closed since the listing
		}
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, kind+"_id:"); ok {
				id, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
				if err != nil {
					t.Fatalf("%s in %s: %v", line, dir, err)
				}
				if !slices.Contains(ids, uint32(id)) {
					ids = append(ids, uint32(id))
				}
			}
		}
	}
	return ids
}

// ListedBPF counts how many of ids bpftool lists among the kernel's objects
// of a kind.
func ListedBPF(t testing.TB, kind string, ids []uint32) int {
	t.Helper()
	out, err := exec.Command("bpftool", "--json", kind, "show").Output()
	if err != nil {
		t.Fatalf("bpftool %s show: %v", kind, err)
	}
	var objs []struct {
		ID uint32 `json:"id"`
	}
	if err := json.Unmarshal(out, &objs); err != nil {
		t.Fatalf("parsing bpftool's %s listing: %v", kind, err)
	}
	n := 0
	for _, o := range objs {
		if slices.Contains(ids, o.ID) {
			n++
		}
	}
	return n
}
