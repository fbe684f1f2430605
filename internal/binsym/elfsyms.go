package binsym

import (
	"debug/elf"
	"errors"
	"fmt"
	"io"
)

// DynamicFuncOffsets returns the file offsets of those of names that the ELF
// file at path defines as functions in its dynamic symbol table: what a
// uprobe is attached at. Names the file does not define are absent from the
// map; an error is a file that is not ELF or whose tables are malformed. It looks names up in the GNU hash table, a few small reads
// however many symbols the file has. Reading the whole table instead takes
// 100 ms for node's 100k symbols: time enough for a process that was just
// started to make its first TLS calls before its probes are set.
func DynamicFuncOffsets(path string, names []string) (map[string]uint64, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	hash, syms, strs := f.Section(".gnu.hash"), f.Section(".dynsym"), f.Section(".dynstr")
	if f.Class != elf.ELFCLASS64 || hash == nil || syms == nil || strs == nil {
		return dynamicOffsetsByScan(f, names)
	}
	t, err := readGNUHash(hash, f.ByteOrder)
	if err != nil {
		return nil, fmt.Errorf("reading the GNU hash table of %s: %w", path, err)
	}
	out := make(map[string]uint64)
	for _, name := range names {
		sym, ok, err := t.lookup(name, syms, strs, f.ByteOrder)
		if err != nil {
			return nil, fmt.Errorf("looking up %s in %s: %w", name, path, err)
		}
		if ok && elf.ST_TYPE(sym.Info) == elf.STT_FUNC && sym.Section != elf.SHN_UNDEF {
			if off, ok := fileOffset(f, sym.Value); ok {
				out[name] = off
			}
		}
	}
	return out, nil
}

// dynamicOffsetsByScan is DynamicFuncOffsets for files without a GNU hash
// table: it reads every dynamic symbol.
func dynamicOffsetsByScan(f *elf.File, names []string) (map[string]uint64, error) {
	syms, err := f.DynamicSymbols()
	if err != nil {
		return nil, err
	}
	want := make(map[string]bool, len(names))
	for _, n := range names {
		want[n] = true
	}
	out := make(map[string]uint64)
	for _, s := range syms {
		if want[s.Name] && elf.ST_TYPE(s.Info) == elf.STT_FUNC && s.Section != elf.SHN_UNDEF {
			if off, ok := fileOffset(f, s.Value); ok {
				out[s.Name] = off
			}
		}
	}
	return out, nil
}

// fileOffset maps a virtual address to its place in the file, through the
// loadable segment that holds it.
func fileOffset(f *elf.File, vaddr uint64) (uint64, bool) {
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && p.Flags&elf.PF_X != 0 && p.Vaddr <= vaddr && vaddr < p.Vaddr+p.Memsz {
			return vaddr - p.Vaddr + p.Off, true
		}
	}
	return 0, false
}

// gnuHash is the table of DT_GNU_HASH (as the GNU linker and glibc's dynamic
// loader define it): buckets of symbol indexes, and per symbol a chain word
// holding its hash with the low bit marking the end of the bucket's chain.
type gnuHash struct {
	r          io.ReaderAt
	nbuckets   uint32
	symoffset  uint32 // index of the first symbol the table covers
	bucketsOff int64
	chainsOff  int64
}

var errBadHashTable = errors.New("malformed GNU hash table")

func readGNUHash(s *elf.Section, order interface{ Uint32([]byte) uint32 }) (*gnuHash, error) {
	var hdr [16]byte
	if _, err := s.ReadAt(hdr[:], 0); err != nil {
		return nil, err
	}
	t := &gnuHash{r: s, nbuckets: order.Uint32(hdr[0:]), symoffset: order.Uint32(hdr[4:])}
	bloomWords := int64(order.Uint32(hdr[8:]))
	if t.nbuckets == 0 || bloomWords > 1<<24 {
		return nil, errBadHashTable
	}
	t.bucketsOff = 16 + 8*bloomWords // 64-bit bloom words in ELFCLASS64
	t.chainsOff = t.bucketsOff + 4*int64(t.nbuckets)
	return t, nil
}

func gnuHashOf(name string) uint32 {
	h := uint32(5381)
	for i := 0; i < len(name); i++ {
		h = h*33 + uint32(name[i])
	}
	return h
}

// maxChain bounds a chain walk, so a corrupt table cannot make it loop long.
const maxChain = 1 << 16

func (t *gnuHash) lookup(name string, syms, strs *elf.Section, order interface {
	Uint16([]byte) uint16
	Uint32([]byte) uint32
	Uint64([]byte) uint64
}) (elf.Symbol, bool, error) {
	h := gnuHashOf(name)
	var w [4]byte
	if _, err := t.r.ReadAt(w[:], t.bucketsOff+4*int64(h%t.nbuckets)); err != nil {
		return elf.Symbol{}, false, err
	}
	i := order.Uint32(w[:])
	if i == 0 {
		return elf.Symbol{}, false, nil
	}
	if i < t.symoffset {
		return elf.Symbol{}, false, errBadHashTable
	}
	for n := 0; n < maxChain; n, i = n+1, i+1 {
		if _, err := t.r.ReadAt(w[:], t.chainsOff+4*int64(i-t.symoffset)); err != nil {
			return elf.Symbol{}, false, err
		}
		chain := order.Uint32(w[:])
		if chain|1 == h|1 {
			// Elf64_Sym: name u32, info u8, other u8, shndx u16, value u64, size u64.
			var raw [24]byte
			if _, err := syms.ReadAt(raw[:], 24*int64(i)); err != nil {
				return elf.Symbol{}, false, err
			}
			got := make([]byte, len(name)+1)
			if _, err := strs.ReadAt(got, int64(order.Uint32(raw[0:]))); err != nil && !errors.Is(err, io.EOF) {
				return elf.Symbol{}, false, err
			}
			if string(got[:len(name)]) == name && got[len(name)] == 0 {
				return elf.Symbol{
					Name:    name,
					Info:    raw[4],
					Other:   raw[5],
					Section: elf.SectionIndex(order.Uint16(raw[6:])),
					Value:   order.Uint64(raw[8:]),
					Size:    order.Uint64(raw[16:]),
				}, true, nil
			}
		}
		if chain&1 != 0 {
			return elf.Symbol{}, false, nil
		}
	}
	return elf.Symbol{}, false, errBadHashTable
}
