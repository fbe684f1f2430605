package binsym

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// compressSection returns a copy of the ELF file with the named section
// replaced by a zstd-compressed one that inflates to claimed zero bytes,
// from a few bytes per 128 KiB.
func compressSection(t *testing.T, file []byte, name string, claimed uint64) []byte {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	index := -1
	for i, s := range f.Sections {
		if s.Name == name {
			index = i
		}
	}
	if index < 0 {
		t.Fatalf("no section %s", name)
	}
	le := binary.LittleEndian
	// Elf64_Chdr: type, reserved, size, alignment.
	data := le.AppendUint32(nil, uint32(elf.COMPRESS_ZSTD))
	data = le.AppendUint32(data, 0)
	data = le.AppendUint64(data, claimed)
	data = le.AppendUint64(data, 1)
	// A zstd frame (RFC 8878): magic, a descriptor with no content size,
	// a 128 KiB window, then RLE blocks of 128 KiB of one byte each.
	data = le.AppendUint32(data, 0xfd2fb528)
	data = append(data, 0x00, 7<<3)
	const block = 128 << 10
	for n := claimed / block; n > 0; n-- {
		h := uint32(1<<1 | block<<3) // RLE, its size
		if n == 1 {
			h |= 1 // the last block
		}
		data = append(data, byte(h), byte(h>>8), byte(h>>16), 0)
	}

	out := append(bytes.Clone(file), data...)
	hdr := out[le.Uint64(out[40:])+uint64(index)*64:] // e_shoff, Elf64_Shdr
	flags := elf.SectionFlag(le.Uint64(hdr[8:]))
	le.PutUint64(hdr[8:], uint64(flags&^elf.SHF_ALLOC|elf.SHF_COMPRESSED))
	le.PutUint64(hdr[24:], uint64(len(file)))
	le.PutUint64(hdr[32:], uint64(len(data)))
	return out
}

// TestCompressedSectionRefused: debug/elf inflates a compressed section to
// the size its header claims, whatever the file's size. A file whose
// symbols or Go tables are compressed is refused, not inflated. With
// -update, the library with a compressed string table is written as a seed
// of FuzzELF, claiming 1 MiB to keep it small.
func TestCompressedSectionRefused(t *testing.T) {
	seeds := readSeeds(t, "FuzzELF")
	dir := t.TempDir()
	const claimed = 64 << 20 // from 2 KiB of zstd
	dynamic := func(path string) error {
		_, err := DynamicFuncOffsets(path, fuzzDynamicNames)
		return err
	}
	goTLS := func(path string) error {
		_, err := GoTLSProbeSites(path)
		return err
	}
	tests := []struct {
		name string
		file []byte
		call func(path string) error
	}{
		{".dynstr", compressSection(t, seeds["c-sysvhash"], ".dynstr", claimed), dynamic},
		{".strtab", compressSection(t, seeds["go-amd64-symtab"], ".strtab", claimed), goTLS},
		{".gopclntab", compressSection(t, seeds["go-amd64-stripped"], ".gopclntab", claimed), goTLS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "file")
			if err := os.WriteFile(path, tt.file, 0o644); err != nil {
				t.Fatal(err)
			}
			var err error
			checkAllocBound(t, len(tt.file), tt.name, func() { err = tt.call(path) })
			if err == nil || !strings.Contains(err.Error(), "compressed") {
				t.Errorf("error %v, want one about the compressed section", err)
			}
			if *update && tt.name == ".dynstr" {
				writeSeed(t, "FuzzELF", "compressed-dynstr", compressSection(t, seeds["c-sysvhash"], ".dynstr", 1<<20))
			}
		})
	}
}
