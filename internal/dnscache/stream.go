package dnscache

import "encoding/binary"

// maxStreamBytes bounds what a Stream reads of a connection: DNS over TCP
// carries a few messages (a truncated answer retried, a zone transfer's
// first ones), and a message is at most 65,535 bytes.
const maxStreamBytes = 1 << 17

// Stream cuts the messages out of the bytes a DNS server sent over TCP, each
// after its two-byte length (RFC 1035 section 4.2.2), holding at most one
// message at a time. It reads at most maxStreamBytes of a connection.
type Stream struct {
	buf  []byte // the message being read, with its length
	read int    // bytes taken so far
	done bool
}

// Write takes the next bytes of the stream and calls f with each message
// they complete (valid only during the call). lost is how many bytes
// followed data in the stream but were not captured: the framing is lost
// with them. Write reports whether the Stream wants more bytes.
func (s *Stream) Write(data []byte, lost int, f func(msg []byte)) bool {
	for len(data) > 0 && !s.done {
		if s.read+len(data) > maxStreamBytes {
			s.stop()
			break
		}
		need := 2
		if len(s.buf) >= 2 {
			need += int(binary.BigEndian.Uint16(s.buf))
		}
		n := min(need-len(s.buf), len(data))
		s.buf = append(s.buf, data[:n]...)
		s.read += n
		data = data[n:]
		if len(s.buf) >= 2 && len(s.buf) == 2+int(binary.BigEndian.Uint16(s.buf)) {
			f(s.buf[2:])
			s.buf = s.buf[:0]
		}
	}
	if lost > 0 {
		s.stop()
	}
	return !s.done
}

func (s *Stream) stop() { s.done, s.buf = true, nil }
