package httpparse

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
)

func encode(t *testing.T, coding string, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w interface {
		Write([]byte) (int, error)
		Close() error
	}
	switch coding {
	case "gzip":
		w = gzip.NewWriter(&buf)
	case "deflate":
		w = zlib.NewWriter(&buf)
	case "br":
		w = brotli.NewWriter(&buf)
	case "zstd":
		z, err := zstd.NewWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		w = z
	}
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestDecodeContent(t *testing.T) {
	text := []byte(strings.Repeat(`{"item": "value"}`, 200)) // 3400 bytes
	for _, coding := range []string{"gzip", "deflate", "br", "zstd"} {
		t.Run(coding, func(t *testing.T) {
			enc := encode(t, coding, text)
			out, cut, err := DecodeContent(coding, enc, 1<<20)
			if err != nil || cut || !bytes.Equal(out, text) {
				t.Fatalf("whole: %d bytes, cut %v, %v", len(out), cut, err)
			}
			out, cut, err = DecodeContent(" "+strings.ToUpper(coding)+" ", enc, 100)
			if err != nil || !cut || !bytes.Equal(out, text[:100]) {
				t.Errorf("bounded to 100: %q, cut %v, %v", out, cut, err)
			}
			out, cut, err = DecodeContent(coding, enc[:len(enc)/2], 1<<20)
			if err != nil || !cut || !bytes.HasPrefix(text, out) {
				t.Errorf("half the input: %d bytes, cut %v, %v; want a cut prefix", len(out), cut, err)
			}
		})
	}
}

func TestDecodeContentStacked(t *testing.T) {
	text := []byte("hello, hello, hello")
	enc := encode(t, "br", encode(t, "gzip", text)) // Content-Encoding: gzip, br
	out, cut, err := DecodeContent("gzip, br", enc, 1<<10)
	if err != nil || cut || string(out) != string(text) {
		t.Errorf("got %q, cut %v, %v", out, cut, err)
	}
}

func TestDecodeContentUnknown(t *testing.T) {
	if _, _, err := DecodeContent("compress", []byte("x"), 10); !errors.Is(err, ErrUnknownCoding) {
		t.Errorf("got %v, want ErrUnknownCoding", err)
	}
	if out, cut, err := DecodeContent("identity", []byte("plain"), 10); err != nil || cut || string(out) != "plain" {
		t.Errorf("identity: %q %v %v", out, cut, err)
	}
}

func FuzzDecodeContent(f *testing.F) {
	f.Add("gzip", []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff})
	f.Add("zstd", []byte{0x28, 0xb5, 0x2f, 0xfd, 0, 0})
	f.Add("br", []byte{0x0b, 0x02, 0x80})
	f.Fuzz(func(t *testing.T, coding string, b []byte) {
		out, _, _ := DecodeContent(coding, b, 4096)
		if len(out) > 4096 {
			t.Fatalf("%d bytes out, bound 4096", len(out))
		}
	})
}
