package httpparse

import (
	"bytes"
	"time"
)

// The chunked transfer coding (RFC 9112 §7.1):
//
//	chunked-body   = *chunk
//	                 last-chunk
//	                 trailer-section
//	                 CRLF
//	chunk          = chunk-size [ chunk-ext ] CRLF
//	                 chunk-data CRLF
//	chunk-size     = 1*HEXDIG
//	last-chunk     = 1*("0") [ chunk-ext ] CRLF
//	chunk-ext      = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
//	trailer-section = *( field-line CRLF )
//
// It is decoded byte by byte as it arrives, so no chunk line is buffered:
// extensions are skipped ("A recipient MUST ignore unrecognized chunk
// extensions") and trailer fields are checked for shape and thrown away,
// since a Transaction has no place for them.

const (
	// maxChunkLine bounds a chunk-size line with its extensions; longer lines
	// are treated as malformed, as Go's net/http does at 4096 bytes.
	maxChunkLine = 4 << 10
	// maxChunkSize keeps chunk arithmetic far from int64 overflow.
	maxChunkSize = 1 << 60
)

func (c *Conn) beginChunked(r *reader) {
	r.state = stChunkSize
	r.remain, r.chunkLine = 0, 0
}

// readChunked decodes the chunked coding in p until the body ends or p does,
// and returns how many bytes of p it used.
func (c *Conn) readChunked(r *reader, ts time.Time, p []byte) int {
	r.last = ts
	i := 0
	for i < len(p) {
		b := p[i]
		switch r.state {
		case stChunkSize:
			if v, ok := unhex(b); ok {
				if r.remain > maxChunkSize>>4 {
					c.fail(r.stream, KindMalformed, errChunkTooLarge)
					return len(p)
				}
				r.remain = r.remain<<4 | int64(v)
				r.chunkLine++
				if r.chunkLine > maxChunkLine {
					c.fail(r.stream, KindMalformed, errChunkLineTooLong)
					return len(p)
				}
				i++
				continue
			}
			if r.chunkLine == 0 {
				c.fail(r.stream, KindMalformed, errBadChunkSize)
				return len(p)
			}
			switch b {
			case '\r':
				r.state = stChunkSizeLF
			case '\n':
				c.chunkLineDone(r)
			case ';', ' ', '\t':
				// BWS or the start of chunk-ext.
				r.state = stChunkExt
			default:
				c.fail(r.stream, KindMalformed, errBadChunkSize)
				return len(p)
			}
			i++
		case stChunkExt:
			j := bytes.IndexByte(p[i:], '\n')
			n := j
			if j < 0 {
				n = len(p) - i
			}
			r.chunkLine += n
			if r.chunkLine > maxChunkLine {
				c.fail(r.stream, KindMalformed, errChunkLineTooLong)
				return len(p)
			}
			if j < 0 {
				return len(p)
			}
			i += j + 1
			c.chunkLineDone(r)
		case stChunkSizeLF:
			if b != '\n' {
				c.fail(r.stream, KindMalformed, errBadChunkSize)
				return len(p)
			}
			i++
			c.chunkLineDone(r)
		case stChunkData:
			n := len(p) - i
			if int64(n) > r.remain {
				n = int(r.remain)
			}
			c.keep(r, p[i:i+n])
			r.remain -= int64(n)
			i += n
			if r.remain == 0 {
				r.state = stChunkDataEnd
			}
		case stChunkDataEnd, stChunkDataLF:
			switch {
			case b == '\r' && r.state == stChunkDataEnd:
				r.state = stChunkDataLF
			case b == '\n':
				c.beginChunked(r)
			default:
				c.fail(r.stream, KindMalformed, errBadChunkEnd)
				return len(p)
			}
			i++
		case stTrailer:
			switch b {
			case '\r':
				r.state = stTrailerLF
				i++
			case '\n':
				c.endMessage(r, ts)
				return i + 1
			default:
				r.state = stTrailerLine
				r.chunkLine = 0
				r.colon = b == ' ' || b == '\t' // an obs-fold continues a checked line
			}
		case stTrailerLine:
			j := bytes.IndexByte(p[i:], '\n')
			seg := p[i:]
			if j >= 0 {
				seg = p[i : i+j]
			}
			r.trailer += len(seg) + 1
			if r.trailer > c.cfg.MaxHeaderBytes {
				c.fail(r.stream, KindHeaderTooLarge, errTrailerTooLarge)
				return len(p)
			}
			if k := bytes.IndexByte(seg, ':'); k >= 0 && r.chunkLine+k > 0 {
				r.colon = true // a field name precedes it
			}
			r.chunkLine += len(seg)
			if bytes.IndexByte(seg, 0) >= 0 {
				c.fail(r.stream, KindMalformed, errBadTrailer)
				return len(p)
			}
			if j < 0 {
				return len(p)
			}
			if !r.colon {
				c.fail(r.stream, KindMalformed, errBadTrailer)
				return len(p)
			}
			i += j + 1
			r.state = stTrailer
		case stTrailerLF:
			if b != '\n' {
				c.fail(r.stream, KindMalformed, errBadTrailer)
				return len(p)
			}
			c.endMessage(r, ts)
			return i + 1
		default:
			return i
		}
	}
	return i
}

// chunkLineDone acts on a complete chunk-size line: a zero size is the
// last-chunk, after which the trailer section follows.
func (c *Conn) chunkLineDone(r *reader) {
	r.chunkLine = 0
	if r.remain == 0 {
		r.state = stTrailer
		r.trailer = 0
		return
	}
	r.state = stChunkData
}

func unhex(b byte) (byte, bool) {
	switch {
	case '0' <= b && b <= '9':
		return b - '0', true
	case 'a' <= b && b <= 'f':
		return b - 'a' + 10, true
	case 'A' <= b && b <= 'F':
		return b - 'A' + 10, true
	}
	return 0, false
}
