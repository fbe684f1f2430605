package translate

import (
	"encoding/binary"
	"math/rand/v2"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// idSource hands out the ids of new spans. Production ids are random; tests
// use a deterministic source so golden files stay stable.
type idSource interface {
	NewIDs() (pcommon.TraceID, pcommon.SpanID)
}

// randomIDs draws ids from math/rand/v2's global generator, which is seeded
// from the OS and safe for concurrent use; W3C Trace Context asks for random
// trace ids, not unpredictable ones.
type randomIDs struct{}

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
