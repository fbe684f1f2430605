package httpparse

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
)

// ErrUnknownCoding is returned for a content coding DecodeContent cannot undo.
var ErrUnknownCoding = errors.New("httpparse: unknown content coding")

// DecodeContent undoes the content codings that a Content-Encoding header
// lists (RFC 9110 §8.4: in the order they were applied, so they are undone
// last first), for showing a body. body is what was kept of the encoded
// body; at most max decoded bytes are returned. truncated reports that the
// output stops before the content's end: the input was cut, or max was
// reached. Supported: gzip (x-gzip), deflate, br, zstd, identity.
func DecodeContent(codings string, body []byte, max int) (out []byte, truncated bool, err error) {
	list := strings.Split(codings, ",")
	out = body
	for i := len(list) - 1; i >= 0; i-- {
		coding := strings.ToLower(strings.TrimSpace(list[i]))
		if coding == "" || coding == "identity" {
			continue
		}
		var cut bool
		out, cut, err = decodeOne(coding, out, max)
		if err != nil {
			return nil, false, err
		}
		truncated = truncated || cut
	}
	return out, truncated, nil
}

func decodeOne(coding string, in []byte, max int) ([]byte, bool, error) {
	var r io.Reader
	var err error
	switch coding {
	case "gzip", "x-gzip":
		r, err = gzip.NewReader(bytes.NewReader(in))
	case "deflate":
		// RFC 9110 says zlib; some servers send raw deflate (RFC 1951).
		if r, err = zlib.NewReader(bytes.NewReader(in)); err != nil {
			r, err = flate.NewReader(bytes.NewReader(in)), nil
		}
	case "br":
		r = brotli.NewReader(bytes.NewReader(in))
	case "zstd":
		var d *zstd.Decoder
		// A bounded window keeps a hostile frame from asking for memory.
		d, err = zstd.NewReader(bytes.NewReader(in), zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(8<<20), zstd.WithDecoderMaxMemory(64<<20))
		if err == nil {
			defer d.Close()
			r = d
		}
	default:
		return nil, false, fmt.Errorf("%w %q", ErrUnknownCoding, coding)
	}
	if err != nil { // including a body cut inside the coding's header
		return nil, false, fmt.Errorf("httpparse: decoding %s content: %w", coding, err)
	}
	out, err := io.ReadAll(io.LimitReader(r, int64(max)+1))
	truncated := len(out) > max
	if truncated {
		out = out[:max]
	}
	if err != nil {
		// What decoded before the input ran out is shown, marked cut; any
		// other failure (corrupt data) also ends the output where it was.
		truncated = true
	}
	return out, truncated, nil
}
