// Command memload is the load of the end-to-end memory tests: many
// connections at once, from a process of its own so that the collector's
// memory is measured apart from the load's.
//
//	memload -addr 127.0.0.1:8080 -idle 10000 -churn 60s -rate 200
//	    opens 10000 TCP connections and leaves them idle, prints "idle 10000",
//	    then makes 200 GETs a second, each on a new connection, for 60s, and
//	    prints "churn ok=N failed=M"
//	memload -addr 127.0.0.1:8080 -uploads 1000 -size 131072 -over 10s
//	    runs 1000 POSTs at once, each sending its body of that many bytes
//	    (Content-Length) in pieces spread over 10s, and prints "uploads ok=N
//	    failed=M" once every response is read
//
// Then it waits for its standard input to close, holding its connections,
// and exits. RLIMIT_NOFILE is raised to its hard limit first.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("addr", "", "server address, host:port")
	idle := flag.Int("idle", 0, "idle connections to open and hold")
	churn := flag.Duration("churn", 0, "how long to make short requests")
	rate := flag.Int("rate", 200, "short requests a second")
	uploads := flag.Int("uploads", 0, "concurrent slow uploads")
	size := flag.Int("size", 128<<10, "body bytes of each upload")
	over := flag.Duration("over", 10*time.Second, "how long each upload takes to send its body")
	flag.Parse()
	log.SetFlags(0)
	if *addr == "" {
		log.Fatal("memload: -addr is required")
	}
	if err := raiseFileLimit(); err != nil {
		log.Fatalf("memload: %v", err)
	}

	conns, err := openIdle(*addr, *idle)
	if err != nil {
		log.Fatalf("memload: %v", err)
	}
	if *idle > 0 {
		fmt.Printf("idle %d\n", len(conns))
	}
	if *churn > 0 {
		ok, failed := churnRequests(*addr, *churn, *rate)
		fmt.Printf("churn ok=%d failed=%d\n", ok, failed)
	}
	if *uploads > 0 {
		ok, failed := slowUploads(*addr, *uploads, *size, *over)
		fmt.Printf("uploads ok=%d failed=%d\n", ok, failed)
	}
	_, _ = io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		c.Close()
	}
}

func raiseFileLimit() error {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return fmt.Errorf("reading RLIMIT_NOFILE: %w", err)
	}
	l.Cur = l.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return fmt.Errorf("raising RLIMIT_NOFILE to %d: %w", l.Max, err)
	}
	return nil
}

// openIdle opens n connections to addr, 64 at a time so that the server's
// accept backlog keeps up.
func openIdle(addr string, n int) ([]net.Conn, error) {
	conns := make([]net.Conn, n)
	errs := make(chan error, n)
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := net.DialTimeout("tcp", addr, 10*time.Second)
			if err != nil {
				errs <- fmt.Errorf("idle connection %d: %w", i, err)
				return
			}
			conns[i] = c
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	return conns, nil
}

// churnRequests makes rate GETs a second for d, each on a connection of its
// own, from up to 64 at a time.
func churnRequests(addr string, d time.Duration, rate int) (ok, failed int64) {
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var okN, failedN atomic.Int64
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	for end := time.Now().Add(d); time.Now().Before(end); <-tick.C {
		select {
		case sem <- struct{}{}:
		default:
			failedN.Add(1) // the server fell behind: counted, not queued
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			resp, err := client.Get("http://" + addr + "/churn")
			if err != nil {
				failedN.Add(1)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				failedN.Add(1)
				return
			}
			okN.Add(1)
		}()
	}
	wg.Wait()
	return okN.Load(), failedN.Load()
}

// slowUploads runs n POSTs at once, each writing its head and then its body
// in 16 pieces spread over d.
func slowUploads(addr string, n, size int, d time.Duration) (ok, failed int64) {
	var okN, failedN atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := upload(addr, i, size, start, d); err != nil {
				log.Printf("upload %d: %v", i, err)
				failedN.Add(1)
				return
			}
			okN.Add(1)
		}()
	}
	wg.Wait()
	return okN.Load(), failedN.Load()
}

func upload(addr string, i, size int, start time.Time, d time.Duration) error {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	const pieces = 16
	piece := []byte(strings.Repeat("u", size/pieces+1))
	if _, err := fmt.Fprintf(c, "POST /upload/%d HTTP/1.1\r\nHost: %s\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", i, addr, size); err != nil {
		return err
	}
	for sent, k := 0, 0; sent < size; k++ {
		time.Sleep(time.Until(start.Add(d * time.Duration(k) / pieces)))
		m := min(len(piece), size-sent)
		if _, err := c.Write(piece[:m]); err != nil {
			return err
		}
		sent += m
	}
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}
