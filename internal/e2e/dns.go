package e2e

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// dnsServerAddrs are loopback addresses a test DNS server may take port 53
// on: systemd-resolved holds 127.0.0.53 and 127.0.0.54, so the first of
// these that is free is used.
var dnsServerAddrs = []string{"127.0.0.153", "127.0.1.53", "127.0.2.53", "127.0.3.53"}

// StartDNSServer answers DNS queries over UDP and TCP on port 53 of a
// loopback address until t ends: an A record with TTL ttl for each name of names
// (case-insensitive, without the final dot), NXDOMAIN for any other. It
// returns the server's address. It runs in the test's process, which the
// capture never sees: only the clients' reads are captured.
func StartDNSServer(t testing.TB, names map[string]netip.Addr, ttl uint32) netip.Addr {
	t.Helper()
	var pc net.PacketConn
	var ln net.Listener
	var errs []error
	for _, a := range dnsServerAddrs {
		c, err := net.ListenPacket("udp4", net.JoinHostPort(a, "53"))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		l, err := net.Listen("tcp4", net.JoinHostPort(a, "53"))
		if err != nil {
			c.Close()
			errs = append(errs, err)
			continue
		}
		pc, ln = c, l
		break
	}
	if pc == nil {
		t.Fatalf("no loopback address has port 53 free for the test DNS server: %v", errors.Join(errs...))
	}
	t.Cleanup(func() { pc.Close(); ln.Close() })
	go serveEach(ln, func(c net.Conn) { answerOverTCP(c, names, ttl) })
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return // closed
			}
			if resp, err := dnsResponse(buf[:n], names, ttl); err == nil {
				_, _ = pc.WriteTo(resp, from)
			}
		}
	}()
	return netip.MustParseAddr(pc.LocalAddr().(*net.UDPAddr).IP.String())
}

// serveEach calls serve on a goroutine of its own for each connection ln
// accepts, and closes the connection after, until ln is closed.
func serveEach(ln net.Listener, serve func(net.Conn)) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return // closed
		}
		go func() {
			defer c.Close()
			serve(c)
		}()
	}
}

// answerOverTCP answers one query on c, each message after its two-byte
// length (RFC 1035 section 4.2.2).
func answerOverTCP(c net.Conn, names map[string]netip.Addr, ttl uint32) {
	var n [2]byte
	if _, err := io.ReadFull(c, n[:]); err != nil {
		return
	}
	q := make([]byte, binary.BigEndian.Uint16(n[:]))
	if _, err := io.ReadFull(c, q); err != nil {
		return
	}
	if resp, err := dnsResponse(q, names, ttl); err == nil {
		_, _ = c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(resp))), resp...))
	}
}

// dnsResponse answers the query q from names.
func dnsResponse(q []byte, names map[string]netip.Addr, ttl uint32) ([]byte, error) {
	var p dnsmessage.Parser
	h, err := p.Start(q)
	if err != nil {
		return nil, fmt.Errorf("reading a DNS query: %w", err)
	}
	question, err := p.Question()
	if err != nil {
		return nil, fmt.Errorf("reading a DNS query's question: %w", err)
	}
	ip, found := names[strings.ToLower(strings.TrimSuffix(question.Name.String(), "."))]
	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired}
	if !found {
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, rh)
	b.EnableCompression()
	err = errors.Join(b.StartQuestions(), b.Question(question), b.StartAnswers())
	if found && question.Type == dnsmessage.TypeA && ip.Is4() {
		err = errors.Join(err, b.AResource(dnsmessage.ResourceHeader{Name: question.Name, Class: dnsmessage.ClassINET, TTL: ttl},
			dnsmessage.AResource{A: ip.As4()}))
	}
	if err != nil {
		return nil, fmt.Errorf("building a DNS response: %w", err)
	}
	return b.Finish()
}

// PythonResolveAndSend is a python3 program that resolves argv[2] with an A
// query to the DNS server at argv[1], port 53, over UDP: with connect, send
// and recv (as glibc's and Go's resolvers do) when argv[3] is "connect",
// over TCP when it is "tcp", else with sendto and recvfrom. Then it connects to the address answered,
// port argv[4], sends the bytes hex-encoded in argv[5] and reads until the
// server closes. (It does not shut its sending side first: a socket that did
// is closed by TCP as soon as the server's FIN arrives, before the process
// reads what came with it, and the engine drops those reads as late.)
const PythonResolveAndSend = `import socket, struct, sys
dns, name, mode, port, payload = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), bytes.fromhex(sys.argv[5])
q = struct.pack(">HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0" + struct.pack(">HH", 1, 1)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(5)
if mode == "tcp":
    t = socket.create_connection((dns, 53))
    t.sendall(struct.pack(">H", len(q)) + q)
    r = b""
    while len(r) < 2 or len(r) < 2 + struct.unpack(">H", r[:2])[0]:
        d = t.recv(2048)
        assert d, "the DNS server closed early"
        r += d
    r = r[2:]
    t.close()
elif mode == "connect":
    u.connect((dns, 53))
    u.send(q)
    r = u.recv(2048)
else:
    u.sendto(q, (dns, 53))
    r, _ = u.recvfrom(2048)
u.close()
assert struct.unpack(">H", r[6:8])[0] == 1, "no answer for " + name
ip = socket.inet_ntoa(r[-4:])  # the one A record's address ends the message
s = socket.create_connection((ip, port))
s.sendall(payload)
while s.recv(4096):
    pass
s.close()`

// PongServer answers every connection to addr (a loopback address, port
// chosen) with a Redis "+PONG" once the client's first bytes arrived, then
// closes it; it stops with t.
func PongServer(t testing.TB, addr string) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp4", net.JoinHostPort(addr, "0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go serveEach(ln, func(c net.Conn) {
		buf := make([]byte, 512)
		if _, err := c.Read(buf); err == nil {
			_, _ = c.Write([]byte("+PONG\r\n"))
		}
	})
	return netip.MustParseAddrPort(ln.Addr().String())
}
