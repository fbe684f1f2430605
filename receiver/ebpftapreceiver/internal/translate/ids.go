package translate

import (
	"encoding/binary"
	"hash/maphash"
	"math/rand/v2"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// idSource hands out the ids of new spans. Production ids are random; tests
// use a deterministic source so golden files stay stable. Describe draws
// them, on any goroutine: a production source must be safe for concurrent
// use (the tests' is not, and they describe one exchange at a time).
type idSource interface {
	NewIDs() (pcommon.TraceID, pcommon.SpanID)
	// Derived returns the same ids for the same key, so that both ends of
	// a connection captured here name the client span alike.
	Derived(k stitchKey) (pcommon.TraceID, pcommon.SpanID)
}

// randomIDs draws ids from math/rand/v2's global generator, which is seeded
// from the OS and safe for concurrent use; W3C Trace Context asks for random
// trace ids, not unpredictable ones. Derived ids hash the key with a seed of
// its own, so they look as random and differ from one run to the next.
type randomIDs struct {
	seed maphash.Seed
}

func newRandomIDs() randomIDs { return randomIDs{seed: maphash.MakeSeed()} }

func (randomIDs) NewIDs() (pcommon.TraceID, pcommon.SpanID) {
	var tid pcommon.TraceID
	var sid pcommon.SpanID
	for tid.IsEmpty() { // an all-zero id is invalid
		binary.LittleEndian.PutUint64(tid[:8], rand.Uint64())
		binary.LittleEndian.PutUint64(tid[8:], rand.Uint64())
	}
	for sid.IsEmpty() {
		binary.LittleEndian.PutUint64(sid[:], rand.Uint64())
	}
	return tid, sid
}

func (r randomIDs) Derived(k stitchKey) (pcommon.TraceID, pcommon.SpanID) {
	// The key is hashed once, and the three words of the ids are mixed out
	// of that hash: hashing the key once for each word took three times as
	// long, for ids no more distinct (two keys that share a hash collide in
	// every word either way, one chance in 2^64).
	h := k.hash(r.seed)
	var tid pcommon.TraceID
	var sid pcommon.SpanID
	binary.LittleEndian.PutUint64(tid[:8], mix64(h+1))
	binary.LittleEndian.PutUint64(tid[8:], mix64(h+2))
	binary.LittleEndian.PutUint64(sid[:], mix64(h+3))
	// An all-zero id would be invalid: 2^-64 for each, but cheap to rule out.
	tid[0] |= 1
	sid[0] |= 1
	return tid, sid
}

// hash is the seeded 64-bit hash of k.
func (k stitchKey) hash(seed maphash.Seed) uint64 {
	var h maphash.Hash
	h.SetSeed(seed)
	var n [16]byte
	binary.LittleEndian.PutUint64(n[:8], k.client)
	binary.LittleEndian.PutUint64(n[8:], k.seq)
	h.Write(n[:])
	h.WriteString(k.method)
	h.WriteByte(0)
	h.WriteString(k.target)
	return h.Sum64()
}

// mix64 is SplitMix64's finalizer: a bijection that spreads every input bit
// over the output, so that h+1, h+2 and h+3 give unrelated words.
func mix64(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}
