package capture

import "time"

// unboundPlaintext holds TLS plaintext written before the kernel knew its
// socket (a library that encrypts into memory, like node's), until the bind
// event names the socket. Bounded: what does not fit is dropped, counted.
type unboundPlaintext struct {
	maxBytes int
	bytes    int
	segments int
	byObject map[unboundKey][]Segment
	dropped  uint64 // segments thrown away (past maxUnboundSegments, or never bound) or held as a hole (past maxBytes)
}

// unboundKey names a TLS library object: its address in one process.
type unboundKey struct {
	pid    int
	object uint64
}

func newUnboundPlaintext(maxBytes int) *unboundPlaintext {
	return &unboundPlaintext{maxBytes: maxBytes, byObject: make(map[unboundKey][]Segment)}
}

// maxUnboundSegments bounds the segments held, lost-only ones included.
const maxUnboundSegments = 4096

// hold keeps a copy of s for the object. Over the bound the bytes are held
// as lost, so the stream shows the hole.
func (u *unboundPlaintext) hold(k unboundKey, s Segment) {
	if u.segments >= maxUnboundSegments {
		u.dropped++
		return
	}
	if u.bytes+len(s.Data) > u.maxBytes {
		u.dropped++
		s.Lost += len(s.Data)
		s.Data = nil
	}
	u.segments++
	s.Data = append([]byte(nil), s.Data...)
	u.bytes += len(s.Data)
	u.byObject[k] = append(u.byObject[k], s)
}

// take returns, and forgets, what is held for the object, oldest first.
func (u *unboundPlaintext) take(k unboundKey) []Segment {
	segs := u.byObject[k]
	u.drop(k)
	return segs
}

// forget drops what a process that exited still had waiting.
func (u *unboundPlaintext) forget(pid int) {
	for k, segs := range u.byObject {
		if k.pid == pid {
			u.dropped += uint64(len(segs))
			u.drop(k)
		}
	}
}

// expire drops what has waited since before cutoff for a bind that did not come.
func (u *unboundPlaintext) expire(cutoff time.Time) {
	for k, segs := range u.byObject {
		if segs[len(segs)-1].Time.Before(cutoff) {
			u.dropped += uint64(len(segs))
			u.drop(k)
		}
	}
}

func (u *unboundPlaintext) drop(k unboundKey) {
	for _, s := range u.byObject[k] {
		u.bytes -= len(s.Data)
		u.segments--
	}
	delete(u.byObject, k)
}
