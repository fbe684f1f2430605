package httpparse

import "testing"

func TestParseRequestLine(t *testing.T) {
	tests := []struct {
		line                  string
		method, target, proto string
		err                   error
	}{
		{"GET / HTTP/1.1", "GET", "/", "1.1", nil},
		{"GET http://example.com/a?b=c HTTP/1.0", "GET", "http://example.com/a?b=c", "1.0", nil},
		{"CONNECT example.com:443 HTTP/1.1", "CONNECT", "example.com:443", "1.1", nil},
		{"OPTIONS * HTTP/1.1", "OPTIONS", "*", "1.1", nil},
		{"X-CUSTOM /x HTTP/1.1", "X-CUSTOM", "/x", "1.1", nil},
		{"GET /é HTTP/1.1", "GET", "/é", "1.1", nil},
		{"GET  / HTTP/1.1", "", "", "", errBadRequestLine},
		{"GET / x HTTP/1.1", "", "", "", errBadRequestLine},
		{"GET /\t HTTP/1.1", "", "", "", errBadRequestLine},
		{"GET / http/1.1", "", "", "", errBadVersion},
		{"GET / HTTP/2.0", "", "", "", errBadVersion},
		{"GET / HTTP/1.10", "", "", "", errBadVersion},
		{"GET /", "", "", "", errBadRequestLine},
		{"G(T / HTTP/1.1", "", "", "", errBadRequestLine},
		{" / HTTP/1.1", "", "", "", errBadRequestLine},
		{"", "", "", "", errBadRequestLine},
	}
	for _, tc := range tests {
		m, tg, p, err := parseRequestLine(tc.line)
		if m != tc.method || tg != tc.target || p != tc.proto || err != tc.err {
			t.Errorf("parseRequestLine(%q) = %q %q %q %v, want %q %q %q %v",
				tc.line, m, tg, p, err, tc.method, tc.target, tc.proto, tc.err)
		}
	}
}

func TestParseStatusLine(t *testing.T) {
	tests := []struct {
		line   string
		proto  string
		code   int
		reason string
		err    error
	}{
		{"HTTP/1.1 200 OK", "1.1", 200, "OK", nil},
		{"HTTP/1.0 404 Not Found", "1.0", 404, "Not Found", nil},
		{"HTTP/1.1 204 ", "1.1", 204, "", nil},
		{"HTTP/1.1 500", "1.1", 500, "", nil},
		{"HTTP/1.1 599 Whatever: it is", "1.1", 599, "Whatever: it is", nil},
		{"HTTP/1.1 099 Low", "", 0, "", errBadStatusLine},
		{"HTTP/1.1 20 OK", "", 0, "", errBadStatusLine},
		{"HTTP/1.1 2000 OK", "", 0, "", errBadStatusLine},
		{"HTTP/1.1  200 OK", "", 0, "", errBadStatusLine},
		{"HTTP/2.0 200 OK", "", 0, "", errBadVersion},
		{"HTTP/1.1 200 O\x00K", "", 0, "", errBadStatusLine},
		{"ICY 200 OK", "", 0, "", errBadStatusLine},
	}
	for _, tc := range tests {
		p, code, reason, err := parseStatusLine(tc.line)
		if p != tc.proto || code != tc.code || reason != tc.reason || err != tc.err {
			t.Errorf("parseStatusLine(%q) = %q %d %q %v, want %q %d %q %v",
				tc.line, p, code, reason, err, tc.proto, tc.code, tc.reason, tc.err)
		}
	}
}

func TestParseContentLength(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"42", 42, true},
		{"42, 42", 42, true},
		{"42,42 ,42", 42, true},
		{"4611686018427387904", 1 << 62, true},
		{"4611686018427387905", 0, false},
		{"99999999999999999999999", 0, false},
		{"42, 43", 0, false},
		{"42,", 0, false},
		{"", 0, false},
		{"-1", 0, false},
		{"+1", 0, false},
		{"0x10", 0, false},
		{"1 2", 0, false},
	}
	for _, tc := range tests {
		got, ok := parseContentLength(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseContentLength(%q) = %d, %v, want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// TestFraming checks what header blocks say about their bodies
// (RFC 9112 §6.3).
func TestFraming(t *testing.T) {
	tests := []struct {
		fields string
		want   framing
	}{
		{"", framing{contentLength: -1}},
		{"Content-Length: 5\r\n", framing{contentLength: 5}},
		{"content-length: 5\r\nCONTENT-LENGTH: 5\r\n", framing{contentLength: 5}},
		{"Content-Length: 5\r\nContent-Length: 6\r\n", framing{contentLength: 5, clInvalid: true}},
		{"Transfer-Encoding: chunked\r\n", framing{contentLength: -1, te: true, chunked: true}},
		{"Transfer-Encoding: gzip, CHUNKED \r\n", framing{contentLength: -1, te: true, chunked: true}},
		{"Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n", framing{contentLength: -1, te: true}},
		{"Transfer-Encoding: chunked, \r\n", framing{contentLength: -1, te: true, chunked: true}},
		{"Transfer-Encoding: chunked;q=1\r\n", framing{contentLength: -1, te: true}},
		{"Content-Length: 1\r\n 2\r\n", framing{contentLength: 1, clInvalid: true}},
	}
	for _, tc := range tests {
		var m Message
		got, err := parseFields(tc.fields+"\r\n", &m, false)
		if err != nil || got != tc.want {
			t.Errorf("parseFields(%q) = %+v, %v, want %+v", tc.fields, got, err, tc.want)
		}
	}
}

func TestHeadEnd(t *testing.T) {
	tests := []struct {
		in   string
		from int
		want int
	}{
		{"GET / HTTP/1.1\r\n\r\nrest", 0, 18},
		{"GET / HTTP/1.1\n\nrest", 0, 16},
		{"GET / HTTP/1.1\r\nA: b\n\r\n", 0, 23},
		{"GET / HTTP/1.1\r\nA: b\r\n", 0, -1},
		{"GET / HTTP/1.1\r\n\r", 0, -1},
		{"GET / HTTP/1.1\r\n\r\n", 17, 18},
		{"", 0, -1},
	}
	for _, tc := range tests {
		if got := headEnd([]byte(tc.in), tc.from); got != tc.want {
			t.Errorf("headEnd(%q, %d) = %d, want %d", tc.in, tc.from, got, tc.want)
		}
	}
}
