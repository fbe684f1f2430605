package binsym

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The fuzz targets' seeds are small ELF files made of the parts of real
// programs that binsym reads: a Go program's buildinfo and the code of
// (*Conn).Write and Read, with a symbol table or a pclntab of just those two
// functions, and a tiny C library built with gcc. The tests here check that
// such a file gives the sites the real program gives; with -update they
// write the seeds.

// testELF is an ELF64 little-endian file put together by a test: one
// PT_LOAD segment, readable and executable, maps every allocated section at
// testELFBase plus its file offset.
type testELF struct {
	machine  elf.Machine
	sections []*testSection
}

const testELFBase = 0x400000

type testSection struct {
	name    string
	typ     elf.SectionType
	flags   elf.SectionFlag
	align   uint64
	entsize uint64
	link    string // the name of the linked section
	info    uint32
	data    []byte

	off, addr uint64 // set by layout
}

func (e *testELF) section(name string) *testSection {
	for _, s := range e.sections {
		if s.name == name {
			return s
		}
	}
	panic("no section " + name)
}

func (e *testELF) index(name string) uint32 {
	for i, s := range e.sections {
		if s.name == name {
			return uint32(i + 1) // after the null section
		}
	}
	return 0
}

// layout places the sections in the file, after the ELF and program
// headers, allocated ones first; their sizes must be final.
func (e *testELF) layout() {
	slices.SortStableFunc(e.sections, func(a, b *testSection) int {
		return int(b.flags&elf.SHF_ALLOC) - int(a.flags&elf.SHF_ALLOC)
	})
	off := uint64(64 + 56)
	for _, s := range e.sections {
		off = alignUp(off, max(s.align, 1))
		s.off = off
		if s.flags&elf.SHF_ALLOC != 0 {
			s.addr = testELFBase + off
		}
		off += uint64(len(s.data))
	}
}

func alignUp(n, a uint64) uint64 { return (n + a - 1) / a * a }

// bytes encodes the file laid out by layout, whose section contents may
// have been rewritten since, at the same sizes.
func (e *testELF) bytes() []byte {
	le := binary.LittleEndian
	shstrtab := []byte{0}
	nameOff := make([]uint32, len(e.sections)+1)
	for i, s := range e.sections {
		nameOff[i] = uint32(len(shstrtab))
		shstrtab = append(append(shstrtab, s.name...), 0)
	}
	nameOff[len(e.sections)] = uint32(len(shstrtab))
	shstrtab = append(append(shstrtab, ".shstrtab"...), 0)

	var loadEnd uint64 = 64 + 56
	out := make([]byte, 64+56)
	for _, s := range e.sections {
		if uint64(len(out)) > s.off {
			panic("section " + s.name + " resized after layout")
		}
		out = append(out, make([]byte, s.off-uint64(len(out)))...)
		out = append(out, s.data...)
		if s.flags&elf.SHF_ALLOC != 0 {
			loadEnd = uint64(len(out))
		}
	}
	shstrOff := uint64(len(out))
	out = append(out, shstrtab...)
	out = append(out, make([]byte, alignUp(uint64(len(out)), 8)-uint64(len(out)))...)
	shoff := uint64(len(out))

	header := func(name uint32, typ elf.SectionType, flags elf.SectionFlag, addr, off, size uint64, link, info uint32, align, entsize uint64) {
		var h [64]byte
		le.PutUint32(h[0:], name)
		le.PutUint32(h[4:], uint32(typ))
		le.PutUint64(h[8:], uint64(flags))
		le.PutUint64(h[16:], addr)
		le.PutUint64(h[24:], off)
		le.PutUint64(h[32:], size)
		le.PutUint32(h[40:], link)
		le.PutUint32(h[44:], info)
		le.PutUint64(h[48:], align)
		le.PutUint64(h[56:], entsize)
		out = append(out, h[:]...)
	}
	header(0, elf.SHT_NULL, 0, 0, 0, 0, 0, 0, 0, 0)
	for i, s := range e.sections {
		header(nameOff[i], s.typ, s.flags, s.addr, s.off, uint64(len(s.data)), e.index(s.link), s.info, s.align, s.entsize)
	}
	header(nameOff[len(e.sections)], elf.SHT_STRTAB, 0, 0, shstrOff, uint64(len(shstrtab)), 0, 0, 1, 0)

	// Elf64_Ehdr
	copy(out, elf.ELFMAG)
	out[elf.EI_CLASS], out[elf.EI_DATA], out[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)
	le.PutUint16(out[16:], uint16(elf.ET_EXEC))
	le.PutUint16(out[18:], uint16(e.machine))
	le.PutUint32(out[20:], uint32(elf.EV_CURRENT))
	le.PutUint64(out[24:], testELFBase) // entry: unused
	le.PutUint64(out[32:], 64)          // phoff
	le.PutUint64(out[40:], shoff)
	le.PutUint16(out[52:], 64) // ehsize
	le.PutUint16(out[54:], 56) // phentsize
	le.PutUint16(out[56:], 1)  // phnum
	le.PutUint16(out[58:], 64) // shentsize
	le.PutUint16(out[60:], uint16(len(e.sections)+2))
	le.PutUint16(out[62:], uint16(len(e.sections)+1)) // shstrndx
	// Elf64_Phdr
	p := out[64:]
	le.PutUint32(p[0:], uint32(elf.PT_LOAD))
	le.PutUint32(p[4:], uint32(elf.PF_R|elf.PF_X))
	le.PutUint64(p[8:], 0)
	le.PutUint64(p[16:], testELFBase)
	le.PutUint64(p[24:], testELFBase)
	le.PutUint64(p[32:], loadEnd)
	le.PutUint64(p[40:], loadEnd)
	le.PutUint64(p[48:], 0x1000)
	return out
}

// goTLSParts is what binsym reads of a Go program that uses crypto/tls.
type goTLSParts struct {
	machine     elf.Machine
	write, read []byte // the code of (*Conn).Write and Read
	buildinfo   []byte // the .go.buildinfo section: version and module strings inline
	minLC       byte   // the pclntab's instruction size quantum
}

// readGoTLSParts takes the parts out of a Go program with a symbol table.
func readGoTLSParts(t *testing.T, path string) goTLSParts {
	t.Helper()
	f, bounds := symtabTLSBounds(t, path)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	code := func(name string) []byte {
		b, ok := bounds[name]
		if !ok {
			t.Fatalf("%s not in the symbol table of %s", name, path)
		}
		off, ok := fileOffset(f, b.entry)
		if !ok {
			t.Fatalf("%s at %#x not in an executable segment of %s", name, b.entry, path)
		}
		return bytes.Clone(raw[off : off+(b.end-b.entry)])
	}
	section := func(name string) []byte {
		s := f.Section(name)
		if s == nil {
			t.Fatalf("no %s in %s", name, path)
		}
		b, err := s.Data()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return goTLSParts{
		machine:   f.Machine,
		write:     code(GoTLSWriteFunc),
		read:      code(GoTLSReadFunc),
		buildinfo: section(".go.buildinfo"),
		minLC:     section(".gopclntab")[6],
	}
}

// pclnFunc is one function of a minimal pclntab: its name and its code's
// offset from runtime.text.
type pclnFunc struct {
	name string
	off  uint32
}

// minimalPclntab writes a Go 1.20+ pclntab (runtime/symtab.go's pcHeader,
// then the function name table, and the function table of nfunc entry and
// record offsets and the end offset, then one _func record per function)
// with empty file, compilation unit and PC-value tables: what
// debug/gosym needs to name functions and bound them.
func minimalPclntab(ptrSize int, minLC byte, textStart uint64, funcs []pclnFunc, end uint32) []byte {
	le := binary.LittleEndian
	hdrSize := 8 + 8*ptrSize
	names := []byte{0}
	nameOff := make([]uint32, len(funcs))
	for i, fn := range funcs {
		nameOff[i] = uint32(len(names))
		names = append(append(names, fn.name...), 0)
	}
	funcnameOff := hdrSize
	pclnOff := int(alignUp(uint64(funcnameOff+len(names)), 8))
	const funcRecord = 44 // _func: ten 32-bit fields and four bytes
	functab := 4 * (2*len(funcs) + 1)
	out := make([]byte, pclnOff+functab+funcRecord*len(funcs))
	le.PutUint32(out[0:], pclntabMagicGo120)
	out[6], out[7] = minLC, byte(ptrSize)
	word := func(i int, v uint64) {
		if ptrSize == 4 {
			le.PutUint32(out[8+4*i:], uint32(v))
		} else {
			le.PutUint64(out[8+8*i:], v)
		}
	}
	word(0, uint64(len(funcs))) // nfunc
	word(1, 0)                  // nfiles
	word(2, textStart)
	word(3, uint64(funcnameOff))
	for i := 4; i <= 6; i++ { // cutab, filetab, pctab: empty
		word(i, uint64(pclnOff))
	}
	word(7, uint64(pclnOff))
	copy(out[funcnameOff:], names)
	tab := out[pclnOff:]
	for i, fn := range funcs {
		rec := functab + funcRecord*i
		le.PutUint32(tab[8*i:], fn.off)
		le.PutUint32(tab[8*i+4:], uint32(rec))
		le.PutUint32(tab[rec:], fn.off)       // entryOff
		le.PutUint32(tab[rec+4:], nameOff[i]) // nameOff
	}
	le.PutUint32(tab[8*len(funcs):], end)
	return out
}

// goTLSELF says how a minimal Go program is linked.
type goTLSELF int

const (
	goTLSSymtab     goTLSELF = iota // with a symbol table
	goTLSStripped                   // runtime.text from the module data
	goTLSPIE                        // stripped, module data from its dynamic relocations
	goTLSTextInPcln                 // stripped, runtime.text in the pclntab header (Go 1.18 to 1.25)
)

func (k goTLSELF) String() string {
	return [...]string{"symtab", "stripped", "stripped-pie", "stripped-textstart"}[k]
}

// minimalELF writes a file holding the parts, linked as k says, and returns
// it with the file offsets of Write and Read and the pclntab in it.
func (p goTLSParts) minimalELF(k goTLSELF) (file []byte, writeOff, readOff uint64, pclntab []byte) {
	le := binary.LittleEndian
	fill := byte(0xcc) // INT3 between functions, as Go's linker pads
	if p.machine != elf.EM_X86_64 {
		fill = 0
	}
	readAt := alignUp(uint64(len(p.write)), 32)
	text := append(bytes.Repeat([]byte{fill}, int(readAt)), p.read...)
	copy(text, p.write)
	ptrSize := 8
	funcs := []pclnFunc{{GoTLSWriteFunc, 0}, {GoTLSReadFunc, uint32(readAt)}}
	end := uint32(len(text))

	e := &testELF{machine: p.machine, sections: []*testSection{
		{name: ".text", typ: elf.SHT_PROGBITS, flags: elf.SHF_ALLOC | elf.SHF_EXECINSTR, align: 32, data: text},
		{name: ".gopclntab", typ: elf.SHT_PROGBITS, flags: elf.SHF_ALLOC, align: 32, data: minimalPclntab(ptrSize, p.minLC, 0, funcs, end)},
		{name: ".go.buildinfo", typ: elf.SHT_PROGBITS, flags: elf.SHF_ALLOC | elf.SHF_WRITE, align: 16, data: p.buildinfo},
	}}
	const moduleWords = moduleTextWord + 1
	switch k {
	case goTLSSymtab:
		strtab := []byte{0}
		var symtab [3 * 24]byte // the null symbol, Write, Read (Elf64_Sym)
		for i, fn := range funcs {
			s := symtab[24*(i+1):]
			le.PutUint32(s[0:], uint32(len(strtab)))
			strtab = append(append(strtab, fn.name...), 0)
			s[4] = byte(elf.ST_INFO(elf.STB_GLOBAL, elf.STT_FUNC))
		}
		e.sections = append(e.sections,
			&testSection{name: ".symtab", typ: elf.SHT_SYMTAB, align: 8, entsize: 24, link: ".strtab", info: 1, data: symtab[:]},
			&testSection{name: ".strtab", typ: elf.SHT_STRTAB, align: 1, data: strtab})
	case goTLSStripped, goTLSPIE:
		e.sections = append(e.sections, &testSection{name: ".go.module", typ: elf.SHT_PROGBITS, flags: elf.SHF_ALLOC | elf.SHF_WRITE, align: 32, data: make([]byte, 8*moduleWords)})
		if k == goTLSPIE {
			e.sections = append(e.sections, &testSection{name: ".rela.dyn", typ: elf.SHT_RELA, flags: elf.SHF_ALLOC, align: 8, entsize: 24, data: make([]byte, 24*5)})
		}
	}
	e.layout()
	textAddr := e.section(".text").addr
	pcln := e.section(".gopclntab")
	switch k {
	case goTLSSymtab:
		symtab, idx := e.section(".symtab").data, uint16(e.index(".text"))
		for i, fn := range funcs {
			s := symtab[24*(i+1):]
			le.PutUint16(s[6:], idx)
			le.PutUint64(s[8:], textAddr+uint64(fn.off))
			size := uint64(len(p.write))
			if i == 1 {
				size = uint64(len(p.read))
			}
			le.PutUint64(s[16:], size)
		}
	case goTLSStripped, goTLSPIE:
		mod := e.section(".go.module")
		words := map[int]uint64{
			0:               pcln.addr,
			1:               pcln.addr + uint64(8+8*ptrSize), // the function name table follows the header
			moduleMinPCWord: textAddr,
			moduleMaxPCWord: textAddr + uint64(end),
			moduleTextWord:  textAddr,
		}
		if k == goTLSStripped {
			for i, v := range words {
				le.PutUint64(mod.data[8*i:], v)
			}
			break
		}
		rela, n := e.section(".rela.dyn").data, 0
		for _, i := range slices.Sorted(maps.Keys(words)) {
			r := rela[24*n:]
			le.PutUint64(r[0:], mod.addr+uint64(8*i))
			le.PutUint64(r[8:], uint64(relativeReloc(p.machine)))
			le.PutUint64(r[16:], words[i])
			n++
		}
	case goTLSTextInPcln:
		pcln.data = minimalPclntab(ptrSize, p.minLC, textAddr, funcs, end)
	}
	text0 := e.section(".text").off
	return e.bytes(), text0, text0 + readAt, pcln.data
}

func relativeReloc(m elf.Machine) uint32 {
	if m == elf.EM_AARCH64 {
		return uint32(elf.R_AARCH64_RELATIVE)
	}
	return uint32(elf.R_X86_64_RELATIVE)
}

// relativeSites are sites as offsets from the start of their function, to
// compare files that lay the functions out differently.
func relativeSites(s *GoTLSSites, writeOff, readOff uint64) *GoTLSSites {
	rel := func(fs FuncSites, base uint64) FuncSites {
		out := FuncSites{Entry: fs.Entry - base}
		for _, r := range fs.Returns {
			out.Returns = append(out.Returns, r-base)
		}
		return out
	}
	return &GoTLSSites{GoVersion: s.GoVersion, Write: rel(s.Write, writeOff), Read: rel(s.Read, readOff)}
}

// TestMinimalGoTLSELF: a file of only the parts binsym reads of a Go
// program gives the sites the program gives, however it is linked. With
// -update, the files are written as seeds of FuzzELF and their pclntabs as
// seeds of FuzzGopclntab.
func TestMinimalGoTLSELF(t *testing.T) {
	arches := []string{runtime.GOARCH}
	if !testing.Short() {
		arches = []string{"amd64", "arm64"}
	}
	var builds []goBuild
	for _, a := range arches {
		builds = append(builds, goBuild{name: a, goenv: []string{"GOARCH=" + a, "CGO_ENABLED=0"}})
	}
	exes := goBuilds(t, t.TempDir(), goTLSProgram, builds)
	dir := t.TempDir()
	for _, arch := range arches {
		real, err := GoTLSProbeSites(exes[arch])
		if err != nil {
			t.Fatal(err)
		}
		f, bounds := symtabTLSBounds(t, exes[arch])
		realWrite, _ := fileOffset(f, bounds[GoTLSWriteFunc].entry)
		realRead, _ := fileOffset(f, bounds[GoTLSReadFunc].entry)
		want := relativeSites(real, realWrite, realRead)

		parts := readGoTLSParts(t, exes[arch])
		for _, k := range []goTLSELF{goTLSSymtab, goTLSStripped, goTLSPIE, goTLSTextInPcln} {
			name := fmt.Sprintf("go-%s-%s", arch, k)
			t.Run(name, func(t *testing.T) {
				file, writeOff, readOff, pclntab := parts.minimalELF(k)
				path := filepath.Join(dir, name)
				if err := os.WriteFile(path, file, 0o644); err != nil {
					t.Fatal(err)
				}
				got, err := GoTLSProbeSites(path)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, relativeSites(got, writeOff, readOff)); diff != "" {
					t.Errorf("sites in the minimal file differ from the program's (-program +minimal):\n%s", diff)
				}
				if *update {
					writeSeed(t, "FuzzELF", name, file)
					if k == goTLSSymtab {
						writeSeed(t, "FuzzGopclntab", "go-"+arch, pclntab)
					}
				}
			})
		}
		if arch == "amd64" && *update {
			// 32-bit pointers: the header's words are 4 bytes.
			readAt := uint32(alignUp(uint64(len(parts.write)), 32))
			funcs := []pclnFunc{{GoTLSWriteFunc, 0}, {GoTLSReadFunc, readAt}}
			writeSeed(t, "FuzzGopclntab", "go-ptr4", minimalPclntab(4, parts.minLC, 0, funcs, readAt+uint32(len(parts.read))))
		}
	}
}

// tlsLibrarySource defines functions by the names of OpenSSL's.
const tlsLibrarySource = `
int SSL_read(void *s, void *b, int n) { return n; }
int SSL_write(void *s, const void *b, int n) { return n; }
int SSL_get_fd(void *s) { return 3; }
`

// TestMinimalTLSLibrary: in a tiny shared library built with gcc, with a
// GNU hash table and with only the SysV one, the functions are found, at
// offsets inside its code. With -update, the libraries are written as seeds
// of FuzzELF.
func TestMinimalTLSLibrary(t *testing.T) {
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Fatalf("no gcc to build the test library with (make test needs a C compiler): %v", err)
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "lib.c")
	if err := os.WriteFile(src, []byte(tlsLibrarySource), 0o644); err != nil {
		t.Fatal(err)
	}
	names := []string{"SSL_read", "SSL_write", "SSL_get_fd"}
	for _, style := range []string{"gnu", "sysv"} {
		t.Run(style, func(t *testing.T) {
			lib := filepath.Join(dir, "lib"+style+".so")
			// Small: no start files, no unwind tables, no page alignment.
			cmd := exec.Command(gcc, "-shared", "-fPIC", "-nostdlib", "-O1", "-fno-asynchronous-unwind-tables",
				"-Wl,--hash-style="+style, "-Wl,--build-id=none", "-Wl,-z,noseparate-code", "-Wl,-z,max-page-size=16", "-Wl,-z,norelro", "-s",
				"-o", lib, src)
			if msg, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%v: %v: %s", cmd, err, msg)
			}
			got, err := DynamicFuncOffsets(lib, append(names, "no_such_function"))
			if err != nil {
				t.Fatal(err)
			}
			f, err := elf.Open(lib)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if hasHash := f.Section(".gnu.hash") != nil; hasHash != (style == "gnu") {
				t.Fatalf("%s has a .gnu.hash section: %v", lib, hasHash)
			}
			text := f.Section(".text")
			for _, n := range names {
				if off, ok := got[n]; !ok || off < text.Offset || off >= text.Offset+text.Size {
					t.Errorf("%s at %#x (found %v), not in .text [%#x, %#x)", n, off, ok, text.Offset, text.Offset+text.Size)
				}
			}
			if len(got) != len(names) {
				t.Errorf("found %v, want %v", got, names)
			}
			if *update {
				b, err := os.ReadFile(lib)
				if err != nil {
					t.Fatal(err)
				}
				writeSeed(t, "FuzzELF", "c-"+style+"hash", b)
			}
		})
	}
}

// writeSeed writes data as a seed of the fuzz target, in the corpus file
// format of go test.
func writeSeed(t *testing.T, target, name string, data []byte) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", data), 0o644); err != nil {
		t.Fatal(err)
	}
}
