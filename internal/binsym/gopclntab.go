package binsym

// Reading .gopclntab, the function table every Go program keeps for its
// runtime: in a stripped program the only place that still names its
// functions.

import (
	"bufio"
	"debug/elf"
	"debug/gosym"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// pclntab magics, by the first release that wrote each (debug/gosym and
// runtime/symtab.go describe the layouts). From Go 1.18 on, the function
// table holds offsets from the start of the Go text instead of addresses.
const (
	pclntabMagicGo12  = 0xfffffffb
	pclntabMagicGo116 = 0xfffffffa
	pclntabMagicGo118 = 0xfffffff0
	pclntabMagicGo120 = 0xfffffff1
)

// minPclntabFuncBytes is the least room one function takes in a pclntab: a
// function table entry (8 bytes) and its _func record (40 bytes or more).
const minPclntabFuncBytes = 48

// pclntabHeader is the start of a pclntab: magic, two zero bytes, the
// instruction size quantum, the pointer size, then pointer-sized words.
type pclntabHeader struct {
	magic   uint32
	ptrSize int
	words   []uint64
}

// relative says the function table holds offsets from runtime.text.
func (h pclntabHeader) relative() bool {
	return h.magic == pclntabMagicGo118 || h.magic == pclntabMagicGo120
}

// readPclntabHeader reads the header and checks the function count against
// the table's size. debug/gosym trusts the count: it allocates a record per
// function before it reads any, so a corrupt count would exhaust memory.
func readPclntabHeader(data []byte, order binary.ByteOrder) (pclntabHeader, error) {
	if len(data) < 16 {
		return pclntabHeader{}, fmt.Errorf("%d bytes, too short", len(data))
	}
	h := pclntabHeader{magic: order.Uint32(data), ptrSize: int(data[7])}
	if h.ptrSize != 4 && h.ptrSize != 8 {
		return pclntabHeader{}, fmt.Errorf("pointer size %d", h.ptrSize)
	}
	var nwords, functabWord int // header words; which one locates the function table
	switch h.magic {
	case pclntabMagicGo118, pclntabMagicGo120:
		nwords, functabWord = 8, 7
	case pclntabMagicGo116:
		nwords, functabWord = 7, 6
	case pclntabMagicGo12:
		nwords, functabWord = 1, -1 // the table follows the count
	default:
		return pclntabHeader{}, fmt.Errorf("unknown magic %#x", h.magic)
	}
	if len(data) < 8+nwords*h.ptrSize {
		return pclntabHeader{}, fmt.Errorf("%d bytes, too short for the header", len(data))
	}
	for i := range nwords {
		b := data[8+i*h.ptrSize:]
		if h.ptrSize == 4 {
			h.words = append(h.words, uint64(order.Uint32(b)))
		} else {
			h.words = append(h.words, order.Uint64(b))
		}
	}
	functab, field := uint64(8+h.ptrSize), uint64(h.ptrSize)
	if functabWord >= 0 {
		functab = h.words[functabWord]
	}
	if h.relative() {
		field = 4
	}
	size, nfunc := uint64(len(data)), h.words[0]
	if nfunc == 0 || nfunc > size/minPclntabFuncBytes || functab > size || (size-functab)/field < 2*nfunc+1 {
		return pclntabHeader{}, fmt.Errorf("%d functions with the function table at %#x do not fit in %d bytes", nfunc, functab, size)
	}
	return h, nil
}

// funcBoundsFromPclntab looks names up in the Go runtime's function table.
// It returns what it found, nothing when none of names is there.
func funcBoundsFromPclntab(f *elf.File, syms []elf.Symbol, names []string) (map[string]funcBounds, error) {
	sec := f.Section(".gopclntab")
	if sec == nil {
		sec = f.Section(".data.rel.ro.gopclntab") // where some PIE links put it
	}
	if sec == nil {
		return nil, errors.New("no symbol table and no .gopclntab section")
	}
	data, err := readGoTable(sec)
	if err != nil {
		return nil, err
	}
	hdr, err := readPclntabHeader(data, f.ByteOrder)
	if err != nil {
		return nil, fmt.Errorf("malformed %s: %w", sec.Name, err)
	}
	var base uint64 // NewLineTable's text: added to every entry from Go 1.18 on
	if !hdr.relative() {
		if text := f.Section(".text"); text != nil {
			base = text.Addr
		}
	}
	tab, err := newGoFuncTable(data, base)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", sec.Name, err)
	}
	found := make(map[string]funcBounds)
	for _, n := range names {
		if fn := tab.LookupFunc(n); fn != nil && fn.Entry < fn.End {
			found[n] = funcBounds{entry: fn.Entry, end: fn.End}
		}
	}
	if len(found) == 0 || !hdr.relative() {
		return found, nil
	}
	text, err := goTextStart(f, sec.Addr, hdr, syms, tab.Funcs)
	if err != nil {
		return nil, err
	}
	for n, b := range found {
		found[n] = funcBounds{entry: text + b.entry, end: text + b.end}
	}
	return found, nil
}

func readGoTable(sec *elf.Section) ([]byte, error) {
	if sec.Type == elf.SHT_NOBITS || sec.Size > maxGoTableBytes {
		return nil, fmt.Errorf("%s: %v of %d bytes, at most %d read", sec.Name, sec.Type, sec.Size, maxGoTableBytes)
	}
	data, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", sec.Name, err)
	}
	return data, nil
}

// newGoFuncTable decodes a pclntab. debug/gosym recovers from the index
// panics a malformed table causes, and then finds no function; the recover
// here is for any it does not catch, since the file is not trusted.
func newGoFuncTable(data []byte, text uint64) (tab *gosym.Table, err error) {
	defer func() {
		if r := recover(); r != nil {
			tab, err = nil, fmt.Errorf("malformed pclntab: %v", r)
		}
	}()
	return gosym.NewTable(nil, gosym.NewLineTable(data, text))
}

// goTextStart is the address of runtime.text, the base of the function
// offsets of a Go 1.18+ pclntab at address pclntab. The .text section's
// address will not do: with external linking the C start-up code comes
// first (256 bytes of it for a cgo program linked by GNU ld), and a probe off
// by that much lands inside another function.
func goTextStart(f *elf.File, pclntab uint64, hdr pclntabHeader, syms []elf.Symbol, funcs []gosym.Func) (uint64, error) {
	// The header's third word held runtime.text from Go 1.18; it is zero in
	// recent releases (Go 1.26 calls it unused), and in position-independent
	// programs whose linker left the address to a dynamic relocation.
	if text := hdr.words[2]; text != 0 {
		return text, nil
	}
	for _, s := range syms {
		if s.Name == "runtime.text" {
			return s.Value, nil
		}
	}
	if len(funcs) == 0 {
		return 0, errors.New("pclntab without functions")
	}
	md := goModuleRef{
		pclntab:  pclntab,
		funcname: pclntab + hdr.words[3],
		minpcOff: funcs[0].Entry,
		maxpcOff: funcs[len(funcs)-1].End,
		ptrSize:  hdr.ptrSize,
	}
	return md.textStart(f)
}

// goModuleRef is what identifies the runtime's moduledata (runtime/symtab.go)
// of a program, whose text field is runtime.text: its first word points at
// the pclntab header and its second at the function name table; its minpc
// and maxpc fields are runtime.text plus the pclntab's first and last
// function offsets.
type goModuleRef struct {
	pclntab, funcname  uint64
	minpcOff, maxpcOff uint64
	ptrSize            int
}

// Word indexes in moduledata as Go 1.26 lays it out: pcHeader, five slices
// of three words, ftab (3), findfunctab, minpc, maxpc, text. The checks of
// minpc and maxpc reject a release that lays it out otherwise.
const (
	moduleMinPCWord = 20
	moduleMaxPCWord = 21
	moduleTextWord  = 22
)

// textStart finds the moduledata and returns its text field. The linker
// puts moduledata in .go.module (Go 1.26) or in .noptrdata (before). In a
// position-independent program the file may hold zero where the pointers
// are, the addresses being the addends of relative dynamic relocations.
func (m goModuleRef) textStart(f *elf.File) (uint64, error) {
	for _, name := range []string{".go.module", ".noptrdata"} {
		sec := f.Section(name)
		if sec == nil {
			continue
		}
		data, err := readGoTable(sec)
		if err != nil {
			return 0, err
		}
		relocs, err := relativeRelocs(f, sec.Addr, sec.Addr+uint64(len(data)))
		if err != nil {
			return 0, err
		}
		word := func(i int) uint64 {
			if a, ok := relocs[sec.Addr+uint64(i)]; ok {
				return a
			}
			if m.ptrSize == 4 {
				return uint64(f.ByteOrder.Uint32(data[i:]))
			}
			return f.ByteOrder.Uint64(data[i:])
		}
		for i := 0; i+(moduleTextWord+1)*m.ptrSize <= len(data); i += m.ptrSize {
			if word(i) != m.pclntab || word(i+m.ptrSize) != m.funcname {
				continue
			}
			text := word(i + moduleTextWord*m.ptrSize)
			if word(i+moduleMinPCWord*m.ptrSize) == text+m.minpcOff && word(i+moduleMaxPCWord*m.ptrSize) == text+m.maxpcOff {
				return text, nil
			}
		}
	}
	return 0, errors.New("no symbol table, and no runtime module data that says where the Go text starts")
}

// relativeRelocs returns the addends of the relative dynamic relocations
// (ELF64 RELA) that write into [lo, hi), by the address they write.
func relativeRelocs(f *elf.File, lo, hi uint64) (map[uint64]uint64, error) {
	var relative uint32
	switch f.Machine {
	case elf.EM_X86_64:
		relative = uint32(elf.R_X86_64_RELATIVE)
	case elf.EM_AARCH64:
		relative = uint32(elf.R_AARCH64_RELATIVE)
	default:
		return nil, nil
	}
	if f.Class != elf.ELFCLASS64 {
		return nil, nil
	}
	out := make(map[uint64]uint64)
	for _, sec := range f.Sections {
		if sec.Type != elf.SHT_RELA || sec.Flags&elf.SHF_ALLOC == 0 {
			continue
		}
		r := bufio.NewReader(sec.Open())
		var rela [24]byte // Elf64_Rela: offset u64, info u64, addend i64
		for {
			if _, err := io.ReadFull(r, rela[:]); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return nil, fmt.Errorf("reading %s: %w", sec.Name, err)
			}
			off := f.ByteOrder.Uint64(rela[0:])
			if uint32(f.ByteOrder.Uint64(rela[8:])) == relative && lo <= off && off < hi {
				out[off] = f.ByteOrder.Uint64(rela[16:])
			}
		}
	}
	return out, nil
}
