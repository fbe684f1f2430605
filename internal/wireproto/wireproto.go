// Package wireproto names the application protocol of a TCP connection from
// the first bytes each end sent and the server's port: the names of the
// semantic conventions' network.protocol.name where they have one. It knows
// nothing of BPF, connections or OpenTelemetry: bytes in, a name out.
//
// Bytes decide; the port only confirms a signature too weak on its own
// (Kafka's binary header, an SMTP greeting). A protocol whose first message
// does not fit its signature is "other", never a guess from the port alone.
package wireproto

import (
	"bytes"
	"encoding/binary"
)

// Protocol is an application protocol's name.
type Protocol string

const (
	Unknown    Protocol = ""     // not enough bytes yet to tell
	HTTP       Protocol = "http" // HTTP/1.x, or HTTP/2 with prior knowledge
	TLS        Protocol = "tls"  // a TLS handshake: what it carries is unknown
	SSH        Protocol = "ssh"  // RFC 4253 identification string
	PostgreSQL Protocol = "postgresql"
	MySQL      Protocol = "mysql"
	Redis      Protocol = "redis"
	MongoDB    Protocol = "mongodb"
	SMTP       Protocol = "smtp"
	Kafka      Protocol = "kafka"
	Other      Protocol = "other"
)

// Need is how many bytes of each direction Identify looks at: enough for
// every signature below (the longest, HTTP/2's preface, is 24 bytes).
const Need = 64

// Identify names the protocol from the first bytes the client and the server
// sent (either may be empty, at most Need bytes are read of each) and the
// server's port. It returns Unknown while the bytes seen cannot decide yet:
// nothing was sent, or a signature's first bytes match but it is cut short.
func Identify(fromClient, fromServer []byte, serverPort uint16) Protocol {
	c, s := fromClient[:min(len(fromClient), Need)], fromServer[:min(len(fromServer), Need)]
	if len(c) == 0 && len(s) == 0 {
		return Unknown
	}
	for _, sig := range signatures {
		switch sig.match(c, s, serverPort) {
		case yes:
			return sig.protocol
		case maybe:
			return Unknown
		}
	}
	return Other
}

// verdict is what a signature says of the bytes seen.
type verdict int

const (
	no    verdict = iota
	yes           // the bytes are this protocol's
	maybe         // they could be, once more arrive
)

type signature struct {
	protocol Protocol
	match    func(client, server []byte, port uint16) verdict
}

// signatures are tried in order: the ones told apart by text first, then the
// binary headers, the weakest (Kafka) last.
var signatures = []signature{
	{SSH, func(c, s []byte, _ uint16) verdict { return prefixEither(c, s, "SSH-") }},
	{HTTP, matchHTTP},
	{TLS, func(c, s []byte, _ uint16) verdict { return either(matchTLSRecord(c), matchTLSRecord(s)) }},
	{SMTP, matchSMTP},
	{Redis, matchRedis},
	{PostgreSQL, func(c, _ []byte, _ uint16) verdict { return matchPostgres(c) }},
	{MySQL, func(_, s []byte, _ uint16) verdict { return matchMySQL(s) }},
	{MongoDB, func(c, _ []byte, _ uint16) verdict { return matchMongo(c) }},
	{Kafka, matchKafka},
}

func either(a, b verdict) verdict {
	switch {
	case a == yes || b == yes:
		return yes
	case a == maybe || b == maybe:
		return maybe
	}
	return no
}

// prefix says whether b starts with p, or could once longer.
func prefix(b []byte, p string) verdict {
	n := min(len(b), len(p))
	switch {
	case len(b) == 0 || string(b[:n]) != p[:n]:
		return no
	case n < len(p):
		return maybe
	}
	return yes
}

func prefixEither(c, s []byte, p string) verdict { return either(prefix(c, p), prefix(s, p)) }

// httpMethods are the request methods HTTP/1.x clients send first; a method
// outside them is another protocol, as the HTTP parser also decides.
var httpMethods = []string{"GET ", "POST ", "PUT ", "DELETE ", "HEAD ", "OPTIONS ", "PATCH ", "CONNECT ", "TRACE "}

func matchHTTP(c, s []byte, _ uint16) verdict {
	v := prefix(c, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
	for _, m := range httpMethods {
		v = either(v, prefix(c, m))
	}
	if len(c) == 0 { // the server spoke first: only a response can say HTTP
		v = either(v, prefix(s, "HTTP/1."))
	}
	return v
}

// matchTLSRecord: a handshake record (type 22) of TLS 1.0 to 1.3's record
// layer version 3.1 to 3.4 (RFC 8446 section 5.1), or an alert (21).
func matchTLSRecord(b []byte) verdict {
	switch {
	case len(b) == 0:
		return no
	case b[0] != 22 && b[0] != 21:
		return no
	case len(b) < 3:
		return maybe
	case b[1] == 3 && b[2] <= 4:
		return yes
	}
	return no
}

// matchSMTP: the client's EHLO or HELO; or the server's greeting, "220" then
// a space or a hyphen (RFC 5321 section 4.2), which other line protocols
// (FTP) share, so it needs a mail port or the word SMTP in its line.
func matchSMTP(c, s []byte, port uint16) verdict {
	if v := either(prefix(c, "EHLO "), prefix(c, "HELO ")); v != no || len(c) > 0 {
		return v // an SMTP client speaks only after the greeting, and then says EHLO
	}
	if v := either(prefix(s, "220 "), prefix(s, "220-")); v != yes {
		return v
	}
	switch port {
	case 25, 465, 587, 2525:
		return yes
	}
	line, _, complete := bytes.Cut(s, []byte("\r\n"))
	switch {
	case bytes.Contains(bytes.ToUpper(line), []byte("SMTP")):
		return yes
	case !complete && len(s) < Need:
		return maybe // the rest of the line may still say it
	}
	return no
}

// matchRedis: RESP arrays of bulk strings, "*<n>\r\n$<len>\r\n" (the form
// every client sends commands in), or an inline PING.
func matchRedis(c, _ []byte, _ uint16) verdict {
	if v := prefix(c, "PING\r\n"); v != no {
		return v
	}
	if len(c) == 0 || c[0] != '*' {
		return no
	}
	i := 1
	for i < len(c) && c[i] >= '0' && c[i] <= '9' {
		i++
	}
	if i == 1 && i < len(c) {
		return no
	}
	return prefix(c[i:], "\r\n$")
}

// Startup-phase codes of the PostgreSQL protocol (version 3.0, and the
// requests a client may send instead of a startup message).
const (
	pgProtocol3  = 196608 // 3 << 16
	pgSSLRequest = 80877103
	pgGSSEncReq  = 80877104
	pgCancel     = 80877102
)

// The binary signatures below need their whole header in the first bytes:
// clients and servers write a message with one call, so a shorter first
// write is another protocol.

// matchPostgres: the client's first message is an untyped length (int32,
// big-endian, including itself) and a protocol or request code.
func matchPostgres(c []byte) verdict {
	if len(c) < 8 {
		return no
	}
	n, code := binary.BigEndian.Uint32(c), binary.BigEndian.Uint32(c[4:])
	switch {
	case code == pgSSLRequest || code == pgGSSEncReq:
		return boolVerdict(n == 8)
	case code == pgCancel:
		return boolVerdict(n == 16)
	case code == pgProtocol3:
		return boolVerdict(n >= 8 && n < 10000)
	}
	return no
}

// matchMySQL: the server speaks first, a packet (3-byte little-endian
// length, sequence 0) holding the protocol version 10 and a server version
// string.
func matchMySQL(s []byte) verdict {
	if len(s) < 6 {
		return no
	}
	n := int(s[0]) | int(s[1])<<8 | int(s[2])<<16
	if s[3] != 0 || s[4] != 10 || n < 20 || n > 1024 {
		return no
	}
	// The version string ("8.0.36", "5.5.5-10.11.6-MariaDB") starts with a digit.
	return boolVerdict(s[5] >= '0' && s[5] <= '9')
}

// MongoDB wire protocol opcodes a client sends first.
const (
	mongoOpMsg   = 2013
	mongoOpQuery = 2004
)

// matchMongo: a message header of four little-endian int32s, length,
// request id, response-to (0 for a request) and opcode.
func matchMongo(c []byte) verdict {
	if len(c) < 16 {
		return no
	}
	n := binary.LittleEndian.Uint32(c)
	responseTo, op := binary.LittleEndian.Uint32(c[8:]), binary.LittleEndian.Uint32(c[12:])
	if n < 16 || n > 48<<20 || responseTo != 0 {
		return no
	}
	return boolVerdict(op == mongoOpMsg || op == mongoOpQuery)
}

// matchKafka: a request's size (int32, big-endian), API key (int16), API
// version (int16), correlation id (int32) and client id length (int16, -1
// for none). The header is plausible for many binary protocols, so the port
// must be Kafka's too.
func matchKafka(c, _ []byte, port uint16) verdict {
	if port != 9092 && port != 9093 && port != 9094 {
		return no
	}
	if len(c) < 14 {
		return no
	}
	size := binary.BigEndian.Uint32(c)
	key, version := int16(binary.BigEndian.Uint16(c[4:])), int16(binary.BigEndian.Uint16(c[6:]))
	clientID := int16(binary.BigEndian.Uint16(c[12:]))
	return boolVerdict(size >= 10 && size < 100<<20 && key >= 0 && key < 100 && version >= 0 && version < 30 && clientID >= -1)
}

func boolVerdict(ok bool) verdict {
	if ok {
		return yes
	}
	return no
}
