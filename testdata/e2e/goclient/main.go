// Command goclient is the Go net/http client the end-to-end tests capture.
//
//	goclient -n 10 URL           10 sequential GETs on one keep-alive connection
//	goclient -c 50 URL           50 concurrent clients, one GET each, each on its own connection
//	goclient -post 1048576 URL   one POST with a body of that many bytes
//	goclient -h2c ...            any of the above over HTTP/2 with prior knowledge (h2c)
//	goclient -h2 https://...     any of the above over HTTP/2 chosen by ALPN; https URLs
//	                             are HTTP/1.1 without it. Certificates are not checked.
//	goclient -n 10 -reconnect URL
//	                             10 sequential GETs, each on a new connection: the last one
//	                             is closed and garbage collected first, so that the new
//	                             one's tls.Conn, fd and socket may take the old one's places
//	goclient -delay 200ms ...    start the requests that long after starting, as a
//	                             program with more to do at start would
//	goclient -print ...          write the response bodies to standard output
//	goclient -h2c -streams 10 URL
//	                             a warm-up GET (query "warmup") opens one HTTP/2 connection,
//	                             then 10 concurrent GETs run as streams of it
//
// It exits non-zero if any request fails or answers with an unexpected status.
package main

import (
	"bytes"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"sync"
	"time"
)

func main() {
	n := flag.Int("n", 1, "sequential requests on one connection")
	c := flag.Int("c", 1, "concurrent clients, each with its own connection")
	post := flag.Int("post", -1, "POST a body of this many bytes instead of GET")
	h2c := flag.Bool("h2c", false, "speak HTTP/2 over cleartext with prior knowledge")
	h2 := flag.Bool("h2", false, "speak HTTP/2 over TLS (ALPN)")
	streams := flag.Int("streams", 0, "with -h2c or -h2: after a warm-up request, this many concurrent requests on its connection")
	delay := flag.Duration("delay", 0, "wait this long before the first request")
	print := flag.Bool("print", false, "write the response bodies to standard output")
	reconnect := flag.Bool("reconnect", false, "each sequential request on a new connection, the last one closed and collected first")
	flag.Parse()
	if *print {
		bodies = os.Stdout
	}
	url := flag.Arg(0)
	time.Sleep(*delay)
	newClient := func() *http.Client {
		tr := &http.Transport{MaxIdleConnsPerHost: 1, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
		tr.Protocols = new(http.Protocols)
		switch {
		case *h2c:
			tr.Protocols.SetUnencryptedHTTP2(true)
		case *h2:
			tr.Protocols.SetHTTP2(true)
		default:
			tr.Protocols.SetHTTP1(true)
		}
		return &http.Client{Transport: tr}
	}
	if (*h2c || *h2) && *streams > 0 {
		if err := runStreams(newClient(), url, *streams); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}

	var wg sync.WaitGroup
	errs := make(chan error, *c**n)
	for range *c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// One transport per client: its own keep-alive connection.
			client := newClient()
			defer client.CloseIdleConnections()
			for range *n {
				if *reconnect {
					client.CloseIdleConnections()
					runtime.GC()
				}
				errs <- request(client, url, *post)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}

// bodies is where response bodies go: standard output with -print.
var bodies io.Writer = io.Discard

func request(client *http.Client, url string, post int) error {
	var resp *http.Response
	var err error
	if post >= 0 {
		resp, err = client.Post(url, "application/octet-stream", bytes.NewReader(make([]byte, post)))
	} else {
		resp, err = client.Get(url)
	}
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if t, ok := client.Transport.(*http.Transport); ok && !t.Protocols.HTTP1() && resp.ProtoMajor != 2 {
		return fmt.Errorf("%s: answered in %s, not HTTP/2", url, resp.Proto)
	}
	_, err = io.Copy(bodies, resp.Body)
	return err
}

// runStreams opens one connection with a warm-up request, then makes n
// concurrent requests on it: Go's HTTP/2 transport dials a connection per
// request while it has none, but multiplexes requests on one it has.
func runStreams(client *http.Client, target string, n int) error {
	defer client.CloseIdleConnections()
	u, err := url.Parse(target)
	if err != nil {
		return err
	}
	u.RawQuery = "warmup"
	if err := request(client, u.String(), -1); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	errs := make(chan error, n)
	for range n {
		go func() { errs <- request(client, target, -1) }()
	}
	for range n {
		if err := <-errs; err != nil {
			return err
		}
	}
	return nil
}
