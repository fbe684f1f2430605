package binsym

import (
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/arch/x86/x86asm"
)

// Go programs carry their own crypto/tls, so their plaintext is caught by
// uprobes on functions inside each executable. A uretprobe cannot be used on
// them: it replaces the return address on the stack, and when a goroutine's
// stack grows the runtime copies it elsewhere and finds a return address it
// does not know, and the program dies. So the engine probes each function
// just past its prologue's stack check (reached once per call: the first
// instructions run again after the stack grew), and every RET in it.
//
// Everything here reads the file only: it builds and runs on every platform.

// The functions GoTLSProbeSites finds, by their symbol names.
const (
	GoTLSWriteFunc = "crypto/tls.(*Conn).Write"
	GoTLSReadFunc  = "crypto/tls.(*Conn).Read"
)

const (
	// maxGoFuncBytes bounds the code read from one function: (*Conn).Read
	// and Write are a few KiB; more means the bounds found are wrong.
	maxGoFuncBytes = 1 << 20
	// maxGoTableBytes bounds a table read whole into memory (.gopclntab,
	// the section searched for the module data): the largest Go programs
	// have a pclntab of some tens of MiB.
	maxGoTableBytes = 256 << 20
)

// ErrNotGoTLS says a file is not a Go executable, or is one that does not
// contain crypto/tls's (*Conn).Read and Write: nothing to probe, and nothing
// to report. Any other error of GoTLSProbeSites is a Go program that uses
// crypto/tls but cannot be probed.
var ErrNotGoTLS = errors.New("not a Go program using crypto/tls")

// GoTLSSites is where to probe crypto/tls in one Go executable: file
// offsets, as link.UprobeOptions.Address wants.
type GoTLSSites struct {
	GoVersion string    // from the build info, e.g. "go1.26.8"
	Write     FuncSites // crypto/tls.(*Conn).Write
	Read      FuncSites // crypto/tls.(*Conn).Read
}

// FuncSites are the probe sites of one function.
type FuncSites struct {
	// Entry is the file offset of the first instruction past the
	// prologue's stack check. The function's first instruction would be hit
	// twice by a call whose stack must grow: the prologue calls
	// runtime.morestack, which jumps back to it once the stack is bigger.
	Entry   uint64
	Returns []uint64 // file offsets of every RET instruction in the function
}

// funcBounds is a function's code, [entry, end), in virtual addresses.
type funcBounds struct{ entry, end uint64 }

// GoTLSProbeSites finds where to probe crypto/tls's (*Conn).Write and Read
// in the executable at path, and the Go release it was built with.
//
// Its cost for a file that is not Go is the ELF headers: 40 µs for node or
// /bin/sh. For a Go program it is reading the symbol table, or, in a
// stripped program, the whole pclntab, where gosym.NewTable decodes every
// function of the program. Measured on a 2-CPU amd64 host with a warm page
// cache (BenchmarkGoTLSProbeSites): the go command (15k functions, a 5 MB
// pclntab) takes 4 ms with its symbol table and 17 ms stripped, of which
// reading the pclntab is 8 ms and NewTable 7 ms; a small TLS client (5k
// functions) takes 2 ms, and 4 to 7 ms stripped.
func GoTLSProbeSites(path string) (*GoTLSSites, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	defer file.Close()
	f, err := elf.NewFile(file)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %v", path, ErrNotGoTLS, err)
	}
	// Go's linker writes the build info into a section of its own, in every
	// release with the register ABI this needs. Without the section,
	// buildinfo would search the whole data segment of any ELF file for it
	// (2 ms for node).
	if len(f.Sections) > 0 && f.Section(".go.buildinfo") == nil {
		return nil, fmt.Errorf("%s: %w: no .go.buildinfo section", path, ErrNotGoTLS)
	}
	info, err := buildinfo.Read(file)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %v", path, ErrNotGoTLS, err)
	}
	// Most Go programs have no crypto/tls: their pclntab, which names every
	// function, is searched for it before the symbol table is read (a
	// compiler's is some 30 ms).
	if sec := f.Section(".gopclntab"); sec != nil {
		if has, err := readerHas(sec.Open(), []byte(GoTLSReadFunc+"\x00")); err == nil && !has {
			return nil, fmt.Errorf("%s: %w", path, ErrNotGoTLS)
		}
	}
	bounds, err := goTLSFuncBounds(f)
	if err != nil {
		return nil, fmt.Errorf("finding crypto/tls in %s (%s): %w", path, info.GoVersion, err)
	}
	// Checked only now, so that a program without crypto/tls is
	// ErrNotGoTLS whatever it was built for.
	if err := checkGoTLSTarget(f, info.GoVersion); err != nil {
		return nil, fmt.Errorf("probing crypto/tls in %s: %w", path, err)
	}
	sites := &GoTLSSites{GoVersion: info.GoVersion}
	for _, fn := range []struct {
		name string
		out  *FuncSites
	}{{GoTLSWriteFunc, &sites.Write}, {GoTLSReadFunc, &sites.Read}} {
		if *fn.out, err = goFuncProbeSites(f, file, bounds[fn.name]); err != nil {
			return nil, fmt.Errorf("probing %s in %s (%s): %w", fn.name, path, info.GoVersion, err)
		}
	}
	return sites, nil
}

// readerHas reports whether r's bytes hold s, reading them in pieces
// rather than all at once.
func readerHas(r io.Reader, s []byte) (bool, error) {
	const piece = 256 << 10
	buf := make([]byte, piece+len(s))
	kept := 0 // the end of the previous piece, where s may have begun
	for {
		n, err := io.ReadFull(r, buf[kept:])
		if bytes.Contains(buf[:kept+n], s) {
			return true, nil
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		kept = copy(buf, buf[kept+n-len(s)+1:kept+n])
	}
}

// goRegABIMinor is, per architecture, the first Go 1.x release that passes
// function arguments in registers: the BPF programs read the arguments of
// Read and Write from registers, not from the stack.
var goRegABIMinor = map[elf.Machine]int{
	elf.EM_X86_64:  17,
	elf.EM_AARCH64: 18,
}

// checkGoTLSTarget says whether the BPF programs for Go can run on this
// executable: a 64-bit little-endian architecture they are written for, and
// a Go release that passes arguments in registers there.
func checkGoTLSTarget(f *elf.File, version string) error {
	if f.Class != elf.ELFCLASS64 || f.Data != elf.ELFDATA2LSB {
		return fmt.Errorf("unsupported architecture %v (%v, %v): only 64-bit little-endian x86-64 and arm64", f.Machine, f.Class, f.Data)
	}
	return checkGoVersion(version, f.Machine)
}

// checkGoVersion gates on the register ABI. A version it cannot read (a
// development build, say) is taken to be recent.
func checkGoVersion(version string, m elf.Machine) error {
	minMinor, ok := goRegABIMinor[m]
	if !ok {
		return fmt.Errorf("unsupported architecture %v: only x86-64 and arm64", m)
	}
	if major, minor, ok := parseGoVersion(version); ok && major == 1 && minor < minMinor {
		return fmt.Errorf("%s is older than go1.%d, the first release to pass arguments in registers on %v", version, minMinor, m)
	}
	return nil
}

// parseGoVersion reads the release out of build info versions such as
// "go1.22.0", "go1.21rc2", "go1.22.0 X:boringcrypto" and
// "devel go1.27-abcdef Tue ...".
func parseGoVersion(v string) (major, minor int, ok bool) {
	fields := strings.Fields(v)
	if len(fields) > 1 && fields[0] == "devel" {
		fields = fields[1:]
	}
	if len(fields) == 0 {
		return 0, 0, false
	}
	rest, found := strings.CutPrefix(fields[0], "go")
	if !found {
		return 0, 0, false
	}
	majorText, rest, found := strings.Cut(rest, ".")
	if !found {
		return 0, 0, false
	}
	minorText := rest[:len(rest)-len(strings.TrimLeft(rest, "0123456789"))]
	major, err1 := strconv.Atoi(majorText)
	minor, err2 := strconv.Atoi(minorText)
	if err1 != nil || err2 != nil || major < 1 {
		return 0, 0, false
	}
	return major, minor, true
}

// goTLSFuncBounds finds both functions, from the symbol table, or from the
// pclntab that every Go program keeps for its runtime when the symbol table
// was stripped (-ldflags=-s).
func goTLSFuncBounds(f *elf.File) (map[string]funcBounds, error) {
	names := []string{GoTLSWriteFunc, GoTLSReadFunc}
	syms, err := f.Symbols()
	if err != nil && !errors.Is(err, elf.ErrNoSymbols) {
		return nil, fmt.Errorf("reading the symbol table: %w", err)
	}
	found, sized := funcBoundsFromSymtab(syms, names)
	if len(syms) == 0 || !sized {
		if found, err = funcBoundsFromPclntab(f, syms, names); err != nil {
			return nil, err
		}
	}
	switch len(found) {
	case 0:
		return nil, ErrNotGoTLS
	case len(names):
		return found, nil
	}
	for _, n := range names {
		if _, ok := found[n]; !ok {
			return nil, fmt.Errorf("bounds of %s not found, though the program has other crypto/tls functions", n)
		}
	}
	return found, nil
}

// funcBoundsFromSymtab looks names up in the symbol table; sized is false
// when a symbol was found without a size, which the pclntab has.
func funcBoundsFromSymtab(syms []elf.Symbol, names []string) (found map[string]funcBounds, sized bool) {
	found = make(map[string]funcBounds)
	sized = true
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) != elf.STT_FUNC || s.Section == elf.SHN_UNDEF {
			continue
		}
		for _, n := range names {
			if s.Name != n {
				continue
			}
			if s.Size == 0 || s.Value+s.Size < s.Value {
				sized = false
				continue
			}
			found[n] = funcBounds{entry: s.Value, end: s.Value + s.Size}
		}
	}
	return found, sized
}

// goFuncProbeSites reads the function's code and finds its RET instructions.
func goFuncProbeSites(f *elf.File, r io.ReaderAt, b funcBounds) (FuncSites, error) {
	if b.end <= b.entry || b.end-b.entry > maxGoFuncBytes {
		return FuncSites{}, fmt.Errorf("function bounds [%#x, %#x) are empty or above %d bytes", b.entry, b.end, maxGoFuncBytes)
	}
	size := b.end - b.entry
	off, ok := fileOffset(f, b.entry)
	last, lastOK := fileOffset(f, b.end-1)
	if !ok || !lastOK || last-off != size-1 {
		return FuncSites{}, fmt.Errorf("function [%#x, %#x) is not inside one executable PT_LOAD segment", b.entry, b.end)
	}
	code := make([]byte, size)
	if _, err := r.ReadAt(code, int64(off)); err != nil {
		return FuncSites{}, fmt.Errorf("reading the code of [%#x, %#x) at file offset %#x: %w", b.entry, b.end, off, err)
	}
	var rets []uint64
	var body uint64
	var err error
	switch f.Machine {
	case elf.EM_X86_64:
		if body, err = amd64BodyStart(code); err == nil {
			rets, err = amd64Returns(code)
		}
	case elf.EM_AARCH64:
		if body, err = arm64BodyStart(code); err == nil {
			rets, err = arm64Returns(code, b.entry)
		}
	default:
		err = fmt.Errorf("unsupported architecture %v", f.Machine)
	}
	if err != nil {
		return FuncSites{}, fmt.Errorf("disassembling [%#x, %#x): %w", b.entry, b.end, err)
	}
	if len(rets) == 0 {
		return FuncSites{}, fmt.Errorf("no RET instruction in [%#x, %#x)", b.entry, b.end)
	}
	sites := FuncSites{Entry: off + body, Returns: make([]uint64, len(rets))}
	for i, r := range rets {
		sites.Returns[i] = off + r
	}
	return sites, nil
}

// maxPrologue is how many instructions a Go prologue takes to check the
// stack: CMPQ SP, 16(R14), or LEAQ -n(SP), R12 and CMPQ R12, 16(R14); for
// huge frames a subtraction and a jump on its borrow first. The check ends
// with a conditional jump forward to the runtime.morestack call at the
// function's end.
const maxPrologue = 6

// amd64BodyStart returns the offset of the instruction after the
// prologue's stack check: the first forward conditional jump that follows a
// comparison. A probe there is hit once per call, where one at the first
// instruction is hit again when the stack had to grow, and that instruction
// (PUSHQ BP) is one the kernel emulates instead of single-stepping, a trap
// fewer per call.
func amd64BodyStart(code []byte) (uint64, error) {
	var prev x86asm.Op
	for pc, n := 0, 0; n < maxPrologue && pc < len(code); n++ {
		inst, err := x86asm.Decode(code[pc:], 64)
		if err != nil || inst.Op == 0 || inst.Len <= 0 {
			return 0, fmt.Errorf("decoding the prologue at +%#x: %v", pc, err)
		}
		pc += inst.Len
		if rel, ok := inst.Args[0].(x86asm.Rel); ok && prev == x86asm.CMP && isAMD64Jcc(inst.Op) && rel > 0 && pc+int(rel) < len(code) {
			return uint64(pc), nil
		}
		prev = inst.Op
	}
	return 0, errors.New("no stack check in the first instructions: not a Go function prologue")
}

func isAMD64Jcc(op x86asm.Op) bool {
	switch op {
	case x86asm.JA, x86asm.JAE, x86asm.JB, x86asm.JBE, x86asm.JE, x86asm.JG, x86asm.JGE,
		x86asm.JL, x86asm.JLE, x86asm.JNE, x86asm.JNO, x86asm.JNP, x86asm.JNS, x86asm.JO, x86asm.JP, x86asm.JS:
		return true
	}
	return false
}

// arm64BodyStart is amd64BodyStart for arm64, whose stack check is a CMP
// (SUBS to the zero register) and a B.LS forward to the morestack call.
func arm64BodyStart(code []byte) (uint64, error) {
	for pc := 4; pc < maxPrologue*4 && pc+4 <= len(code); pc += 4 {
		w, prev := binary.LittleEndian.Uint32(code[pc:]), binary.LittleEndian.Uint32(code[pc-4:])
		isCmp := prev&0xff00001f == 0xeb00001f || prev&0xff80001f == 0xf100001f // SUBS XZR, register or immediate
		if !isCmp || w&0xff000010 != 0x54000000 {                               // B.cond: 0101010 0 imm19 0 cond
			continue
		}
		imm := int32(w<<8) >> 13 // imm19, sign-extended, in instructions
		if imm > 0 && pc+4*int(imm) < len(code) {
			return uint64(pc + 4), nil
		}
	}
	return 0, errors.New("no stack check in the first instructions: not a Go function prologue")
}

// amd64Returns decodes code from its start, one instruction after another,
// and returns the offsets of the RETs. A 0xC3 byte may be part of another
// instruction, so only decoding tells; where decoding fails it stops with an
// error, since a probe placed inside an instruction corrupts it.
func amd64Returns(code []byte) ([]uint64, error) {
	var rets []uint64
	for pc := 0; pc < len(code); {
		inst, err := x86asm.Decode(code[pc:], 64)
		if err != nil {
			return nil, fmt.Errorf("decoding the instruction at +%#x: %w", pc, err)
		}
		// x86asm returns a truncated or overlong instruction as its first
		// byte alone, with no opcode and no error.
		if inst.Op == 0 || inst.Len <= 0 {
			return nil, fmt.Errorf("decoding the instruction at +%#x: no instruction in % x", pc, code[pc:min(pc+15, len(code))])
		}
		if inst.Op == x86asm.RET {
			rets = append(rets, uint64(pc))
		}
		pc += inst.Len
	}
	return rets, nil
}

// arm64Ret is the encoding of RET (RET X30), the only return Go's compiler
// emits on arm64.
const arm64Ret = 0xd65f03c0

// arm64Returns returns the offsets of the RET words of code. Instructions
// are fixed 4-byte little-endian words, so no decoding is needed. The one
// thing it could mistake is a 64-bit constant in a literal pool that Go's
// arm64 assembler may place in the function's text, whose half equals RET's
// encoding; Read and Write have no such constant.
func arm64Returns(code []byte, entry uint64) ([]uint64, error) {
	if entry%4 != 0 || len(code)%4 != 0 {
		return nil, fmt.Errorf("code at %#x of %d bytes is not made of aligned 4-byte instructions", entry, len(code))
	}
	var rets []uint64
	for pc := 0; pc < len(code); pc += 4 {
		if binary.LittleEndian.Uint32(code[pc:]) == arm64Ret {
			rets = append(rets, uint64(pc))
		}
	}
	return rets, nil
}
