package binsym

import (
	"debug/elf"
	"maps"
	"os"
	"strings"
	"testing"
)

// The hash-table lookup must agree with reading every symbol, on the real
// files it is used for.
func TestDynamicOffsets(t *testing.T) {
	names := []string{"no_such_function", "SSL_get_fd", "SSL_read", "SSL_write", "SSL_read_ex", "SSL_write_ex", "gnutls_record_recv"}
	tested := 0
	for _, path := range []string{"/usr/lib/x86_64-linux-gnu/libssl.so.3", "/usr/lib/aarch64-linux-gnu/libssl.so.3", "/usr/bin/node", "/usr/bin/curl", "/usr/lib/x86_64-linux-gnu/libgnutls.so.30"} {
		if _, err := os.Stat(path); err != nil {
			continue
		}
		tested++
		fast, err := DynamicFuncOffsets(path, names)
		if err != nil {
			t.Fatal(err)
		}
		f, err := elf.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		slow, err := dynamicOffsetsByScan(f, names)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(fast, slow) {
			t.Errorf("%s: hash lookup found %v, a full scan %v", path, fast, slow)
		}
		if _, ok := fast["no_such_function"]; ok {
			t.Errorf("%s: found a function that does not exist", path)
		}
		if strings.Contains(path, "libssl") || strings.Contains(path, "node") {
			if fast["SSL_read"] == 0 || fast["SSL_write"] == 0 {
				t.Errorf("%s: SSL_read and SSL_write not found: %v", path, fast)
			}
		}
		t.Logf("%s: %v", path, fast)
	}
	if tested == 0 {
		t.Fatal("no libssl, node or curl to test on")
	}
}

func BenchmarkDynamicFuncOffsetsNode(b *testing.B) {
	if _, err := os.Stat("/usr/bin/node"); err != nil {
		b.Skip("no /usr/bin/node")
	}
	for b.Loop() {
		if _, err := DynamicFuncOffsets("/usr/bin/node", []string{"SSL_read", "SSL_write", "SSL_read_ex", "SSL_write_ex"}); err != nil {
			b.Fatal(err)
		}
	}
}
