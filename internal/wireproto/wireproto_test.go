package wireproto

import (
	"encoding/hex"
	"testing"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestIdentify names recorded first bytes: the first write of each end of a
// real client and server of each protocol, as a capture sees them.
func TestIdentify(t *testing.T) {
	// A ClientHello's first bytes: handshake record, TLS 1.0 record version.
	clientHello := unhex(t, "160301020001000200030365d2")
	// PostgreSQL 16 psql's startup message: length 0x54, protocol 3.0, "user".
	pgStartup := unhex(t, "000000540003000075736572007061756c0064617461626173650070")
	pgSSLRequest := unhex(t, "0000000804d2162f")
	// MySQL 8's greeting: length 0x4a, sequence 0, protocol 10, "8.0.36".
	mysqlGreeting := append(unhex(t, "4a0000000a"), []byte("8.0.36\x00\x08\x00\x00\x00")...)
	// mongosh's hello, an OP_MSG: length 0x13a, request id 1, response to 0, opcode 2013.
	mongoHello := unhex(t, "3a01000001000000"+"00000000"+"dd070000"+"0000000000")
	// librdkafka's ApiVersions request: size 0x14, key 18, version 3, correlation 1, client id "rdkafka".
	kafkaAPIVersions := unhex(t, "0000001400120003000000010007726466616b6b61")

	for _, tc := range []struct {
		name           string
		client, server []byte
		port           uint16
		want           Protocol
	}{
		{"http/1.1", []byte("GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n"), nil, 8080, HTTP},
		{"http/1.1 post on an odd port", []byte("POST /v1 HTTP/1.1\r\n"), []byte("HTTP/1.1 200 OK\r\n"), 1234, HTTP},
		{"http/2 prior knowledge", []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x12\x04"), nil, 50051, HTTP},
		{"tls", clientHello, nil, 443, TLS},
		{"tls on another port", clientHello, unhex(t, "160303007a020000"), 8443, TLS},
		{"ssh, the server first", nil, []byte("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"), 22, SSH},
		{"ssh, the client first", []byte("SSH-2.0-Go\r\n"), nil, 2222, SSH},
		{"postgresql startup", pgStartup, nil, 5432, PostgreSQL},
		{"postgresql ssl request", pgSSLRequest, nil, 5433, PostgreSQL},
		{"mysql greeting", nil, mysqlGreeting, 3306, MySQL},
		{"redis resp", []byte("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"), nil, 6379, Redis},
		{"redis inline ping", []byte("PING\r\n"), nil, 6380, Redis},
		{"mongodb op_msg", mongoHello, nil, 27017, MongoDB},
		{"smtp greeting on port 25", nil, []byte("220 mail.example.com ESMTP Postfix (Debian)\r\n"), 25, SMTP},
		{"smtp greeting elsewhere", nil, []byte("220 mx ESMTP ready\r\n"), 2500, SMTP},
		{"smtp client", []byte("EHLO client.example.com\r\n"), []byte("220 x\r\n"), 10025, SMTP},
		{"ftp greets like smtp", nil, []byte("220 ProFTPD Server (Debian) ready.\r\n"), 21, Other},
		{"kafka on its port", kafkaAPIVersions, nil, 9092, Kafka},
		{"kafka's header on another port", kafkaAPIVersions, nil, 7000, Other},
		{"binary noise", unhex(t, "8d2c19a0ff000000aa55aa55"), nil, 7000, Other},
		{"a line protocol", []byte("HELLO there\r\n"), nil, 7000, Other},
		{"nothing yet", nil, nil, 80, Unknown},
		{"a method cut short", []byte("GE"), nil, 80, Unknown},
		{"an ssh banner cut short", nil, []byte("SS"), 22, Unknown},
		{"a tls record cut short", []byte{22, 3}, nil, 443, Unknown},
	} {
		if got := Identify(tc.client, tc.server, tc.port); got != tc.want {
			t.Errorf("%s: Identify = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// FuzzIdentify: any bytes, any port, never a panic, and a protocol named
// from a short prefix stays named when one more byte arrives.
func FuzzIdentify(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\n"), []byte(nil), uint16(80))
	f.Add([]byte(nil), []byte("SSH-2.0-x\r\n"), uint16(22))
	f.Add([]byte{0, 0, 0, 8, 4, 210, 22, 47}, []byte(nil), uint16(5432))
	f.Fuzz(func(t *testing.T, c, s []byte, port uint16) {
		got := Identify(c, s, port)
		if got == Unknown || len(c) >= Need || len(s) >= Need {
			return
		}
		if again := Identify(append(c[:len(c):len(c)], 'x'), s, port); again != got && got != Other {
			t.Errorf("Identify(%q, %q, %d) = %q, but %q with one more client byte", c, s, port, got, again)
		}
	})
}
