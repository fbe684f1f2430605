// Command goload is the Go load tool of `make bench`: for a fixed time,
// -c workers each send requests one after another, and it prints what
// completed. It stands where wrk stands for the C servers, so that Go's
// crypto/tls is traced on the client side too.
//
//	goload -d 5s -c 16 https://127.0.0.1:8443/ok   HTTP/1.1 GETs, keep-alive, one connection per
//	                                               worker; https is not verified
//	goload -d 5s -c 16 -grpc 127.0.0.1:9000        unary grpc.health.v1.Health/Check calls, all
//	                                               workers multiplexed on one HTTP/2 connection,
//	                                               as a gRPC client shares one
//
// It prints one JSON object, {"requests":N,"errors":N,"seconds":S}, where
// requests is the count that completed with the expected answer (HTTP 200,
// SERVING). With -log-file it also writes one line per completed request in
// h2load's --log-file format (start in µs since the epoch, status, µs until
// the response ended, tab-separated), so one reader serves both tools.
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// completed is one request that got its expected answer.
type completed struct {
	start   time.Time
	latency time.Duration
}

// summary is what goload prints.
type summary struct {
	Requests int64   `json:"requests"`
	Errors   int64   `json:"errors"`
	Seconds  float64 `json:"seconds"`
}

func main() {
	duration := flag.Duration("d", 5*time.Second, "how long to send requests")
	workers := flag.Int("c", 16, "concurrent workers")
	useGRPC := flag.Bool("grpc", false, "call grpc.health.v1.Health/Check on host:port instead of GETting a URL")
	logFile := flag.String("log-file", "", "write one line per completed request here (h2load's format)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: goload [-d 5s] [-c 16] [-grpc] [-log-file F] URL|host:port")
		os.Exit(2)
	}
	target := flag.Arg(0)

	var call func(worker int) error
	if *useGRPC {
		conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			fmt.Fprintf(os.Stderr, "dialing %s: %v\n", target, err)
			os.Exit(1)
		}
		defer conn.Close()
		client := healthpb.NewHealthClient(conn)
		call = func(int) error { return checkHealth(client) }
	} else {
		clients := make([]*http.Client, *workers)
		for i := range clients {
			clients[i] = newHTTP1Client()
		}
		call = func(worker int) error { return get(clients[worker], target) }
	}

	results, errs, elapsed := drive(*workers, *duration, call)
	var n int64
	for _, r := range results {
		n += int64(len(r))
	}
	if *logFile != "" {
		if err := writeLog(*logFile, results); err != nil {
			fmt.Fprintf(os.Stderr, "writing %s: %v\n", *logFile, err)
			os.Exit(1)
		}
	}
	out, _ := json.Marshal(summary{Requests: n, Errors: errs, Seconds: elapsed.Seconds()})
	fmt.Println(string(out))
	if n == 0 {
		os.Exit(1)
	}
}

// drive runs call in a loop on each worker until the duration is over. A
// request in flight at the deadline is let finish, so no connection is cut
// mid-exchange: the traced ends see whole exchanges only.
func drive(workers int, d time.Duration, call func(worker int) error) ([][]completed, int64, time.Duration) {
	results := make([][]completed, workers)
	var errMu sync.Mutex
	var errs int64
	var firstErr error
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Room for some 20k requests/s shared by the workers, so appends
			// rarely copy while the load runs.
			out := make([]completed, 0, int(d.Seconds()*20000)/workers+64)
			for now := time.Now(); now.Before(deadline); now = time.Now() {
				if err := call(w); err != nil {
					errMu.Lock()
					errs++
					if firstErr == nil {
						firstErr = err
					}
					errMu.Unlock()
					continue
				}
				out = append(out, completed{start: now, latency: time.Since(now)})
			}
			results[w] = out
		}()
	}
	wg.Wait()
	if firstErr != nil {
		fmt.Fprintf(os.Stderr, "goload: %d requests failed, the first: %v\n", errs, firstErr)
	}
	return results, errs, time.Since(start)
}

// newHTTP1Client is one worker's client: its own transport, so its own
// keep-alive connection, HTTP/1.1 only (HTTP/2 over TLS is h2load's
// scenario), certificates not checked.
func newHTTP1Client() *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 1, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	tr.Protocols = new(http.Protocols)
	tr.Protocols.SetHTTP1(true)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func get(client *http.Client, url string) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	// Read to the end: the connection is reused only after its body is read.
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return fmt.Errorf("reading the body of %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: status %d", url, resp.StatusCode)
	}
	return nil
}

func checkHealth(client healthpb.HealthClient) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := client.Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		return fmt.Errorf("Check: %w", err)
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("Check: status %v, want SERVING", resp.GetStatus())
	}
	return nil
}

// writeLog writes h2load's per-request format; a gRPC call that returned
// SERVING is written with status 200, the HTTP status that carried it.
func writeLog(path string, results [][]completed) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for _, rs := range results {
		for _, r := range rs {
			fmt.Fprintf(w, "%d\t200\t%d\n", r.start.UnixMicro(), r.latency.Microseconds())
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
