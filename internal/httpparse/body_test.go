package httpparse

import "testing"

func TestGrowBounded(t *testing.T) {
	full := func(n int) []byte { return make([]byte, n) }
	for _, tc := range []struct {
		name            string
		b               []byte
		n, hint, limit  int
		wantCap         int
		wantSameBacking bool
	}{
		{name: "first piece starts at 512", b: nil, n: 10, limit: 4096, wantCap: 512},
		{name: "first piece within a small limit", b: nil, n: 10, limit: 100, wantCap: 100},
		{name: "a piece larger than 512", b: nil, n: 700, limit: 4096, wantCap: 700},
		{name: "hint sizes the buffer once", b: nil, n: 10, hint: 3000, limit: 4096, wantCap: 3000},
		{name: "a small hint sizes the buffer exactly", b: nil, n: 3, hint: 3, limit: 4096, wantCap: 3},
		{name: "hint beyond the limit", b: nil, n: 10, hint: 1 << 20, limit: 4096, wantCap: 4096},
		{name: "full buffer doubles", b: full(512), n: 1, limit: 4096, wantCap: 1024},
		{name: "doubling stops at the limit", b: full(3000), n: 1000, limit: 4096, wantCap: 4096},
		{name: "room left: no copy", b: make([]byte, 10, 512), n: 100, limit: 4096, wantCap: 512, wantSameBacking: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := growBounded(tc.b, tc.n, tc.hint, tc.limit)
			if len(got) != len(tc.b) || cap(got) != tc.wantCap {
				t.Fatalf("len %d cap %d, want len %d cap %d", len(got), cap(got), len(tc.b), tc.wantCap)
			}
			if same := cap(tc.b) > 0 && &got[:1][0] == &tc.b[:1][0]; same != tc.wantSameBacking {
				t.Fatalf("same backing array: %v, want %v", same, tc.wantSameBacking)
			}
		})
	}
}
