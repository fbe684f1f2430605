package dnscache

import (
	"testing"
	"time"
)

// FuzzParse feeds any bytes to Parse, as a captured message may be: no
// panic, and what comes out is bounded and cacheable. The seed corpus
// (testdata/fuzz/FuzzParse) holds responses encoded by golang.org/x/net's
// dnsmessage: A, AAAA, a CNAME chain, NXDOMAIN, one cut short.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, msg []byte) {
		a, err := Parse(msg)
		if err != nil {
			if a.Name != "" || a.Addrs != nil {
				t.Fatalf("Parse failed with %v but returned %+v", err, a)
			}
			return
		}
		if len(a.Name) > maxName || len(a.Addrs) > maxAddrs {
			t.Fatalf("Parse returned a %d-byte name and %d addresses", len(a.Name), len(a.Addrs))
		}
		c := New(4, time.Second)
		c.Add(a, t0)
		for _, ad := range a.Addrs {
			if ad.TTL < 0 {
				t.Fatalf("negative TTL %v", ad.TTL)
			}
			if c.Len() > 0 && c.Name(ad.IP, t0) == "" && a.Name != "" {
				if len(a.Addrs) <= 4 {
					t.Fatalf("address %v of %q not cached", ad.IP, a.Name)
				}
			}
		}
	})
}
