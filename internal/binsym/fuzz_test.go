package binsym

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// fuzzDynamicNames are looked up by FuzzELF: the functions of the seed
// libraries, one of another library, and one no file has.
var fuzzDynamicNames = []string{"SSL_read", "SSL_write", "SSL_get_fd", "gnutls_record_recv", "no_such_function"}

// Allocation bounds of one call on an input of n bytes. The fixed part
// covers the buffers sized by constants: debug/elf's first chunk of a
// section it reads (up to 10 MiB, allocated before a read past the end of
// the file fails), the code of one function (up to 1 MiB), readerHas's
// piece. The part per byte covers the tables decoded from the file; measured
// on real files it is far smaller (the go command, 15 MB: 3.9 MB allocated
// by GoTLSProbeSites; libssl, 690 KB: 290 KB by DynamicFuncOffsets).
const (
	fuzzAllocFixed   = 16 << 20
	fuzzAllocPerByte = 64
)

// FuzzELF gives arbitrary bytes, as a file, to every entry point of the
// package. Nothing may panic or allocate beyond a bound linear in the file's
// size; errors name the file, and sites found are inside it.
func FuzzELF(f *testing.F) {
	path := filepath.Join(f.TempDir(), "file")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		checkAllocBound(t, len(data), "DynamicFuncOffsets", func() {
			offsets, err := DynamicFuncOffsets(path, fuzzDynamicNames)
			if err != nil {
				if !strings.Contains(err.Error(), path) {
					t.Errorf("error %q does not name the file", err)
				}
				return
			}
			for n := range offsets {
				if !slices.Contains(fuzzDynamicNames, n) {
					t.Errorf("found %q, not asked for", n)
				}
			}
		})
		checkAllocBound(t, len(data), "GoTLSProbeSites", func() {
			sites, err := GoTLSProbeSites(path)
			if err != nil {
				if !strings.Contains(err.Error(), path) {
					t.Errorf("error %q does not name the file", err)
				}
				return
			}
			if sites.GoVersion == "" {
				t.Error("sites without a Go version")
			}
			for _, fn := range []FuncSites{sites.Write, sites.Read} {
				if fn.Entry >= uint64(len(data)) || len(fn.Returns) == 0 {
					t.Errorf("%+v: entry outside the file of %d bytes, or no returns", fn, len(data))
				}
				for _, r := range fn.Returns {
					if r >= uint64(len(data)) {
						t.Errorf("return at %#x outside the file of %d bytes", r, len(data))
					}
				}
			}
		})
	})
}

// FuzzGopclntab gives arbitrary bytes, as a .gopclntab section, to the
// pclntab reader, in both byte orders. Nothing may panic or allocate beyond
// a bound linear in the table's size, and what is found has code.
func FuzzGopclntab(f *testing.F) {
	names := []string{GoTLSWriteFunc, GoTLSReadFunc}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
			checkAllocBound(t, len(data), "decodePclntab", func() {
				tab, err := decodePclntab(data, order, 0x401000)
				if err != nil {
					return
				}
				if n := len(tab.funcs.Funcs); n > len(data)/minPclntabFuncBytes {
					t.Errorf("%d functions in %d bytes", n, len(data))
				}
				for n, b := range tab.funcBounds(names) {
					if b.entry >= b.end {
						t.Errorf("%s: empty bounds [%#x, %#x)", n, b.entry, b.end)
					}
				}
			})
		}
	})
}

// checkAllocBound runs call and fails t if it allocated more than the bound
// for an input of n bytes.
func checkAllocBound(t *testing.T, n int, name string, call func()) {
	t.Helper()
	before := heapAllocBytes()
	call()
	if got, bound := heapAllocBytes()-before, uint64(fuzzAllocFixed+fuzzAllocPerByte*n); got > bound {
		t.Errorf("%s allocated %d bytes for an input of %d bytes, bound %d", name, got, n, bound)
	}
}

// heapAllocBytes is the count of bytes the program has allocated on the
// heap, read without stopping the world.
func heapAllocBytes() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestFuzzSeeds: the committed seeds, made from real programs and libraries
// by TestMinimalGoTLSELF and TestMinimalTLSLibrary, still lead to what they
// were made for, so the fuzzers start from inputs that reach every step.
func TestFuzzSeeds(t *testing.T) {
	dir := t.TempDir()
	elfSeeds := readSeeds(t, "FuzzELF")
	for _, want := range []string{"go-amd64-symtab", "go-amd64-stripped", "go-amd64-stripped-pie", "go-amd64-stripped-textstart",
		"go-arm64-symtab", "go-arm64-stripped", "go-arm64-stripped-pie", "go-arm64-stripped-textstart", "c-gnuhash", "c-sysvhash"} {
		if _, ok := elfSeeds[want]; !ok {
			t.Errorf("no FuzzELF seed %s (write the seeds with -update)", want)
		}
	}
	for name, data := range elfSeeds {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		switch {
		case strings.HasPrefix(name, "go-"):
			if sites, err := GoTLSProbeSites(path); err != nil || len(sites.Read.Returns) == 0 {
				t.Errorf("FuzzELF seed %s: %+v, %v", name, sites, err)
			}
		case strings.HasPrefix(name, "c-"):
			if offsets, err := DynamicFuncOffsets(path, fuzzDynamicNames); err != nil || len(offsets) != 3 {
				t.Errorf("FuzzELF seed %s: found %v, %v; want SSL_read, SSL_write and SSL_get_fd", name, offsets, err)
			}
		}
	}
	pclnSeeds := readSeeds(t, "FuzzGopclntab")
	for _, want := range []string{"go-amd64", "go-arm64", "go-ptr4"} {
		data, ok := pclnSeeds[want]
		if !ok {
			t.Errorf("no FuzzGopclntab seed %s (write the seeds with -update)", want)
			continue
		}
		tab, err := decodePclntab(data, binary.LittleEndian, 0)
		if err != nil {
			t.Errorf("FuzzGopclntab seed %s: %v", want, err)
			continue
		}
		if got := tab.funcBounds([]string{GoTLSWriteFunc, GoTLSReadFunc}); len(got) != 2 {
			t.Errorf("FuzzGopclntab seed %s: found %v", want, got)
		}
	}
}

// readSeeds reads the committed corpus of a fuzz target whose one argument
// is a []byte.
func readSeeds(t *testing.T, target string) map[string][]byte {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", target)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	seeds := make(map[string][]byte)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		rest, ok := bytes.CutPrefix(b, []byte("go test fuzz v1\n[]byte("))
		rest, ok2 := bytes.CutSuffix(rest, []byte(")\n"))
		if !ok || !ok2 {
			t.Fatalf("%s/%s: not a corpus file of one []byte", dir, e.Name())
		}
		s, err := strconv.Unquote(string(rest))
		if err != nil {
			t.Fatalf("%s/%s: %v", dir, e.Name(), err)
		}
		seeds[e.Name()] = []byte(s)
	}
	return seeds
}
