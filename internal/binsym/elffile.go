package binsym

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"strings"
)

// errNotELF says a file is not an ELF file binsym reads: not ELF, malformed,
// or refused by openELF.
var errNotELF = errors.New("not a readable ELF file")

// openELF opens the file at path and reads its ELF headers; the caller
// closes file. It refuses a file whose sections could make reading it cost
// more than its size, with errNotELF.
//
// debug/elf reads a section whole at the size its header claims, past the
// end of the file too, but allocates at most 10 MiB before the read fails.
// A compressed section, though, it inflates to the size its header claims,
// which nothing bounds by the file's: a 3 KiB library whose string table
// claims 64 MiB of zstd made DynamicFuncOffsets allocate 270 MB
// (TestCompressedSectionRefused), and reading such a section through takes
// as long as it inflates. Linkers compress debug information only, which
// nothing here reads, so a compressed section of another kind, or one that
// a symbol or version table names as its string table, is refused.
func openELF(path string) (file *os.File, f *elf.File, err error) {
	file, err = os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("opening %s: %w", path, err)
	}
	if f, err = elf.NewFile(file); err == nil {
		err = checkSections(f)
	}
	if err != nil {
		file.Close()
		return nil, nil, fmt.Errorf("%s: %w: %v", path, errNotELF, err)
	}
	return file, f, nil
}

func checkSections(f *elf.File) error {
	for _, s := range f.Sections {
		if isCompressed(s) && (s.Type != elf.SHT_PROGBITS || !isDebugSection(s.Name)) {
			return fmt.Errorf("section %s is compressed: linkers compress debug information only", s.Name)
		}
		if s.Link != 0 && int(s.Link) < len(f.Sections) && isCompressed(f.Sections[s.Link]) {
			return fmt.Errorf("section %s links to the compressed section %s", s.Name, f.Sections[s.Link].Name)
		}
	}
	return nil
}

// isCompressed reports whether debug/elf inflates the section when it reads
// it: flagged SHF_COMPRESSED, or in the older GNU form named .zdebug*.
func isCompressed(s *elf.Section) bool {
	return s.Flags&elf.SHF_COMPRESSED != 0 || strings.HasPrefix(s.Name, ".zdebug")
}

func isDebugSection(name string) bool {
	return strings.HasPrefix(name, ".debug_") || strings.HasPrefix(name, ".zdebug_")
}
