package capture

import (
	"bytes"
	"crypto/tls"
	"net"
	"sync"
	"testing"

	"github.com/ebpftap/ebpftap/internal/e2e"
)

// recordingConn keeps what is written through it.
type recordingConn struct {
	net.Conn
	mu      sync.Mutex
	written bytes.Buffer
}

func (c *recordingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.written.Write(p)
	c.mu.Unlock()
	return c.Conn.Write(p)
}

func (c *recordingConn) bytes() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.written.Bytes())
}

// handshakeBytes runs a real crypto/tls handshake over a pipe and returns
// the first bytes each side sent: the ClientHello and the ServerHello.
func handshakeBytes(t *testing.T, maxVersion uint16) (client, server []byte) {
	t.Helper()
	certFile, keyFile := e2e.SelfSignedCert(t)
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	a, b := net.Pipe()
	ca, cb := &recordingConn{Conn: a}, &recordingConn{Conn: b}
	done := make(chan error, 1)
	go func() {
		done <- tls.Server(cb, &tls.Config{Certificates: []tls.Certificate{cert}, MaxVersion: maxVersion}).Handshake()
	}()
	// Closing the pipe, not the TLS connections: a close_notify would block
	// on the synchronous pipe.
	defer a.Close()
	defer b.Close()
	c := tls.Client(ca, &tls.Config{ServerName: "example.test", InsecureSkipVerify: true, MaxVersion: maxVersion})
	if err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return ca.bytes(), cb.bytes()
}

func TestParseHello(t *testing.T) {
	for _, tc := range []struct {
		name    string
		max     uint16
		version string
	}{{"tls1.3", tls.VersionTLS13, "1.3"}, {"tls1.2", tls.VersionTLS12, "1.2"}} {
		t.Run(tc.name, func(t *testing.T) {
			client, server := handshakeBytes(t, tc.max)
			if info, st := parseHello(client); st != helloDone || info.serverName != "example.test" {
				t.Errorf("ClientHello: %+v %v, want server name example.test", info, st)
			}
			if info, st := parseHello(server); st != helloDone || info.version != tc.version {
				t.Errorf("ServerHello: %+v %v, want version %s", info, st, tc.version)
			}
			// Every cut before the end of the first record needs more.
			n := recordHeaderBytes + int(client[3])<<8 + int(client[4])
			for i := range n {
				if _, st := parseHello(client[:i]); st != helloNeedMore {
					t.Fatalf("ClientHello cut at %d of %d: %v, want need-more", i, n, st)
				}
			}
		})
	}
}

func TestParseHelloNotTLS(t *testing.T) {
	for _, in := range []string{"GET / HTTP/1.1\r\n", "\x16\x02\x00\x00\x05hello", "\x16\x03\x01\x00\x04\x01\x00\x00\xff", "\x16\x03\x01\x00\x01\x05"} {
		if _, st := parseHello([]byte(in)); st != helloNone {
			t.Errorf("parseHello(%q) = %v, want not-a-hello", in, st)
		}
	}
}

func FuzzParseHello(f *testing.F) {
	f.Add([]byte("\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		parseHello(b) // must not panic
	})
}
