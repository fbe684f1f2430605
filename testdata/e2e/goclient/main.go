// Command goclient is the Go net/http client the end-to-end tests capture.
//
//	goclient -n 10 URL           10 sequential GETs on one keep-alive connection
//	goclient -c 50 URL           50 concurrent clients, one GET each, each on its own connection
//	goclient -post 1048576 URL   one POST with a body of that many bytes
//
// It exits non-zero if any request fails or answers with an unexpected status.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
)

func main() {
	n := flag.Int("n", 1, "sequential requests on one connection")
	c := flag.Int("c", 1, "concurrent clients, each with its own connection")
	post := flag.Int("post", -1, "POST a body of this many bytes instead of GET")
	flag.Parse()
	url := flag.Arg(0)

	var wg sync.WaitGroup
	errs := make(chan error, *c**n)
	for range *c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// One transport per client: its own keep-alive connection.
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			defer client.CloseIdleConnections()
			for range *n {
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
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}
