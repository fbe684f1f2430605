package httpparse

import (
	"strings"
	"testing"
	"time"
)

func TestLooksLikeRequest(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"GET / HTTP/1.1\r\n", true},
		{"MKCALENDAR /c HTTP/1.1", true},
		{"DELETE ", true},
		{"GET", false}, // the space is part of the test
		{"get / HTTP/1.1", false},
		{"GETS / HTTP/1.1", false},
		{"PRI * HTTP/2.0\r\n", false},
		{"HTTP/1.1 200 OK\r\n", false},
		{"\x16\x03\x01\x02\x00", false},
		{" GET /", false},
		{"", false},
	}
	for _, tc := range tests {
		if got := LooksLikeRequest([]byte(tc.in)); got != tc.want {
			t.Errorf("LooksLikeRequest(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// TestDetection feeds the first bytes one at a time and checks after how
// many the protocol is decided, and what it is.
func TestDetection(t *testing.T) {
	tests := []struct {
		name      string
		s         Stream
		in        string
		decidedAt int // bytes after which Protocol() is no longer Unknown; 0: never
		want      Protocol
	}{
		{"TLS handshake", ToServer, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 1, ProtocolOther},
		{"SSH banner", ToServer, "SSH-2.0-OpenSSH_9.2p1\r\n", 2, ProtocolOther},
		{"lower-case method", ToServer, "get / HTTP/1.1\r\n\r\n", 1, ProtocolOther},
		{"unknown method", ToServer, "GETX / HTTP/1.1\r\n\r\n", 4, ProtocolOther},
		{"HTTP/2 preface", ToServer, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24, ProtocolHTTP2},
		{"broken HTTP/2 preface", ToServer, "PRI * HTTP/2.0\r\n\r\nXM\r\n\r\n", 19, ProtocolOther},
		{"method sharing the preface's P", ToServer, "PUT /x HTTP/1.1\r\n", 17, ProtocolHTTP1},
		{"HTTP/2 server speaks first", ToClient, "\x00\x00\x06\x04\x00\x00\x00\x00\x00\x00\x03\x00\x00\x00\x64", 0, ProtocolUnknown},
		{"SETTINGS ACK is no server preface", ToClient, "\x00\x00\x00\x04\x01\x00\x00\x00\x00", 5, ProtocolOther},
		{"HTTP/0.9", ToServer, "GET /\r\n", 7, ProtocolOther},
		{"HTTP/2.0 version", ToServer, "GET / HTTP/2.0\r\n", 16, ProtocolOther},
		{"binary after the method", ToServer, "GET /\x00\x01", 6, ProtocolOther},
		{"request line", ToServer, "GET / HTTP/1.1\r\nHost: h\r\n\r\n", 16, ProtocolHTTP1},
		{"empty lines first", ToServer, "\r\n\r\nPOST /x HTTP/1.0\r\n", 22, ProtocolHTTP1},
		{"bare LF", ToServer, "OPTIONS * HTTP/1.1\n", 19, ProtocolHTTP1},
		{"not enough bytes", ToServer, "POST /upload", 0, ProtocolUnknown},
		{"server speaks first", ToClient, "220 smtp.example.com ESMTP\r\n", 1, ProtocolOther},
		{"server binary first", ToClient, "\x0a\x35\x2e\x37", 2, ProtocolOther},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stats := &Stats{}
			c := NewConn(Config{Stats: stats}, func(*Transaction) { t.Error("unexpected transaction") })
			decided := 0
			for i := range len(tc.in) {
				c.Write(tc.s, time.Time{}, []byte{tc.in[i]}, 0)
				if decided == 0 && c.Protocol() != ProtocolUnknown {
					decided = i + 1
				}
			}
			if decided != tc.decidedAt || c.Protocol() != tc.want {
				t.Errorf("decided %v after %d bytes, want %v after %d", c.Protocol(), decided, tc.want, tc.decidedAt)
			}
			if tc.want != ProtocolOther {
				if got := stats.NotHTTP.Load(); got != 0 {
					t.Errorf("NotHTTP = %d, want 0", got)
				}
				return
			}
			// Whatever follows is ignored, cheaply and without counting again.
			c.Write(ToServer, time.Time{}, []byte("GET / HTTP/1.1\r\n\r\n"), 0)
			c.Write(ToClient, time.Time{}, []byte("HTTP/1.1 200 OK\r\n\r\n"), 5)
			c.Close(time.Time{})
			if got := stats.NotHTTP.Load(); got != 1 {
				t.Errorf("NotHTTP = %d, want 1", got)
			}
			if c.Err() == nil {
				t.Error("Err() = nil, want why it is not HTTP")
			}
		})
	}
}

// TestDetectionWholeBlock checks the common case: the first request arrives
// in one piece.
func TestDetectionWholeBlock(t *testing.T) {
	res, _, _ := run(t, Config{}, []piece{
		req("GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
		resp("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
	}, true)
	if res.Protocol != "http1" || len(res.Transactions) != 1 || res.Stats != nil {
		t.Errorf("got %+v", res)
	}
}

// TestDetectionLongRequestLine: a known method and a printable line longer
// than MaxHeaderBytes is HTTP with a header too large, not "not HTTP".
func TestDetectionLongRequestLine(t *testing.T) {
	stats := &Stats{}
	c := NewConn(Config{MaxHeaderBytes: 100, Stats: stats}, func(*Transaction) {})
	c.Write(ToServer, time.Time{}, []byte("GET /"+strings.Repeat("a", 200)), 0)
	if c.Protocol() != ProtocolHTTP1 || stats.HeaderTooLarge.Load() != 1 || stats.NotHTTP.Load() != 0 {
		t.Errorf("protocol %v, HeaderTooLarge %d, NotHTTP %d", c.Protocol(), stats.HeaderTooLarge.Load(), stats.NotHTTP.Load())
	}
}
