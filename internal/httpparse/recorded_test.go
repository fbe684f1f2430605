package httpparse

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Recorded streams are real traffic captured by internal/record (see
// testdata/README.md). Each is parsed as it arrived, compared with its golden
// output, and then fed cut in every other way: the result must not change.

// recordedConfig keeps some body so that golden files show body decoding,
// and truncates the large one.
var recordedConfig = Config{MaxBodyBytes: 256}

type recordedConn struct {
	name     string
	toServer []byte
	toClient []byte
	log      []piece // arrival order; data filled from the two streams
}

func loadRecorded(t testing.TB) []recordedConn {
	t.Helper()
	logs, err := filepath.Glob(filepath.Join("testdata", "recorded", "*.chunks"))
	if err != nil || len(logs) == 0 {
		t.Fatalf("no recordings under testdata/recorded (%v)", err)
	}
	var out []recordedConn
	for _, lp := range logs {
		base := strings.TrimSuffix(lp, ".chunks")
		rc := recordedConn{name: filepath.Base(base)}
		if rc.toServer, err = os.ReadFile(base + ".toserver"); err != nil {
			t.Fatal(err)
		}
		if rc.toClient, err = os.ReadFile(base + ".toclient"); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(lp)
		if err != nil {
			t.Fatal(err)
		}
		var offS, offC int
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			dir, num, ok := strings.Cut(sc.Text(), " ")
			n, err := strconv.Atoi(num)
			if !ok || err != nil || n < 0 {
				t.Fatalf("%s: bad line %q", lp, sc.Text())
			}
			switch dir {
			case ">":
				if offS+n > len(rc.toServer) {
					t.Fatalf("%s: log runs past the to-server stream", lp)
				}
				rc.log = append(rc.log, piece{s: ToServer, data: string(rc.toServer[offS : offS+n])})
				offS += n
			case "<":
				if offC+n > len(rc.toClient) {
					t.Fatalf("%s: log runs past the to-client stream", lp)
				}
				rc.log = append(rc.log, piece{s: ToClient, data: string(rc.toClient[offC : offC+n])})
				offC += n
			default:
				t.Fatalf("%s: bad direction in %q", lp, sc.Text())
			}
		}
		f.Close()
		if offS != len(rc.toServer) || offC != len(rc.toClient) {
			t.Fatalf("%s: log does not cover the streams", lp)
		}
		out = append(out, rc)
	}
	return out
}

func goldenPath(name string) string { return filepath.Join("testdata", "golden", name+".json") }

func readGolden(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(goldenPath(name))
	if err != nil {
		t.Fatalf("reading golden (run with -update to create it): %v", err)
	}
	return string(b)
}

func TestRecorded(t *testing.T) {
	for _, rc := range loadRecorded(t) {
		t.Run(rc.name, func(t *testing.T) {
			res, _, _ := run(t, recordedConfig, rc.log, true)
			got := jsonOf(t, res)
			if *update {
				if err := os.MkdirAll(filepath.Dir(goldenPath(rc.name)), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(goldenPath(rc.name), []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			// Real traffic between real peers must parse cleanly, whatever
			// the golden file says.
			if res.Protocol != recordedProtocol(rc.name) || res.Err != "" || res.Stats != nil || len(res.Transactions) == 0 {
				t.Errorf("recording did not parse cleanly: protocol %s, err %q, stats %v, %d transactions",
					res.Protocol, res.Err, res.Stats, len(res.Transactions))
			}
			for i, tx := range res.Transactions {
				if tx.Response == nil || tx.Request.Incomplete || tx.Response.Incomplete || tx.Reset != "" ||
					tx.Request.HeadersPartial || tx.Response.HeadersPartial {
					t.Errorf("transaction %d (%s %s) is not complete", i, tx.Request.Method, tx.Request.Target)
				}
			}
			if want := readGolden(t, rc.name); want != got {
				t.Errorf("differs from %s: %s", goldenPath(rc.name), diffLines(want, got))
			}
			checkRelease(t, recordedConfig, rc.log, res)
		})
	}
}

// TestRecordedSplits cuts each stream in two at every byte, feeding all
// requests before the responses (a valid order: responses pair FIFO), and
// also cuts the arrival-order log at every byte of each stream.
func TestRecordedSplits(t *testing.T) {
	for _, rc := range loadRecorded(t) {
		t.Run(rc.name, func(t *testing.T) {
			t.Parallel()
			want := readGolden(t, rc.name)
			a, b := string(rc.toServer), string(rc.toClient)
			check := func(how string, pieces []piece) {
				t.Helper()
				res, _, _ := run(t, recordedConfig, pieces, true)
				if got := jsonOf(t, res); got != want {
					t.Fatalf("%s: %s", how, diffLines(want, got))
				}
			}
			for k := 0; k <= len(a); k++ {
				check(fmt.Sprintf("to-server cut at %d", k), []piece{req(a[:k]), req(a[k:]), resp(b)})
			}
			for k := 0; k <= len(b); k++ {
				check(fmt.Sprintf("to-client cut at %d", k), []piece{req(a), resp(b[:k]), resp(b[k:])})
			}
			for _, s := range []Stream{ToServer, ToClient} {
				n := len(a)
				if s == ToClient {
					n = len(b)
				}
				for k := 1; k < n; k++ {
					check(fmt.Sprintf("arrival order, %s cut at %d", s, k), cutLog(rc.log, s, k))
				}
			}
		})
	}
}

// cutLog returns log with the piece of stream s that holds offset k cut in
// two at k.
func cutLog(log []piece, s Stream, k int) []piece {
	out := make([]piece, 0, len(log)+1)
	off := 0
	for _, p := range log {
		if p.s == s && off < k && k < off+len(p.data) {
			out = append(out, piece{s: s, data: p.data[:k-off]}, piece{s: s, data: p.data[k-off:]})
		} else {
			out = append(out, p)
		}
		if p.s == s {
			off += len(p.data)
		}
	}
	return out
}

// TestRecordedRandomChunks merges neighbouring pieces of a stream and cuts
// pieces at random, keeping the arrival order between the streams.
func TestRecordedRandomChunks(t *testing.T) {
	for _, rc := range loadRecorded(t) {
		t.Run(rc.name, func(t *testing.T) {
			t.Parallel()
			want := readGolden(t, rc.name)
			for seed := range uint64(300) {
				pieces := randomChunks(rand.New(rand.NewPCG(seed, 0x9e3779b9)), rc.log)
				res, _, _ := run(t, recordedConfig, pieces, true)
				if got := jsonOf(t, res); got != want {
					t.Fatalf("seed %d (%d pieces): %s", seed, len(pieces), diffLines(want, got))
				}
			}
		})
	}
}

func randomChunks(rng *rand.Rand, log []piece) []piece {
	// Merge runs of one stream, sometimes.
	var merged []piece
	for _, p := range log {
		if n := len(merged); n > 0 && merged[n-1].s == p.s && rng.IntN(2) == 0 {
			merged[n-1].data += p.data
			continue
		}
		merged = append(merged, p)
	}
	maxCut := []int{1, 3, 16, 200, 5000}[rng.IntN(5)]
	var out []piece
	for _, p := range merged {
		d := p.data
		for len(d) > 0 {
			n := min(len(d), 1+rng.IntN(maxCut))
			out = append(out, piece{s: p.s, data: d[:n]})
			d = d[n:]
		}
	}
	return out
}

// recordedProtocol is what a recording speaks, from its session name.
func recordedProtocol(name string) string {
	if strings.HasPrefix(name, "h2-") {
		return "http2"
	}
	return "http1"
}

// TestRecordedHaveNoStrayBytes guards the recordings themselves: both
// streams start as HTTP/1.x should, or with the HTTP/2 client preface and a
// SETTINGS frame, or with an h2c upgrade.
func TestRecordedHaveNoStrayBytes(t *testing.T) {
	for _, rc := range loadRecorded(t) {
		h1 := LooksLikeRequest(rc.toServer) && bytes.HasPrefix(rc.toClient, []byte("HTTP/1."))
		h2 := bytes.HasPrefix(rc.toServer, prefaceBytes) && len(rc.toClient) > frameHeaderLen &&
			mayBeServerPreface(rc.toClient[:frameHeaderLen], nil)
		upgrade := h1 && bytes.Contains(bytes.ToLower(rc.toServer), []byte("\r\nupgrade: h2c\r\n")) && // nghttp sends it in lower case
			bytes.HasPrefix(rc.toClient, []byte("HTTP/1.1 101 "))
		if want := recordedProtocol(rc.name); want == "http1" && !h1 || want == "http2" && !h2 && !upgrade {
			t.Errorf("%s: streams do not start like %s", rc.name, want)
		}
	}
}
