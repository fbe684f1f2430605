//go:build linux && (amd64 || arm64)

package capture

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/ebpftap/ebpftap/internal/e2e"
)

// TestE2EEngineDNSNames resolves three made-up names through a DNS server on
// loopback, from a python3 client: one over a connected UDP socket (send and
// recv, as glibc's and Go's resolvers do), one with sendto and recvfrom, one
// over TCP.
// The client then opens a TCP connection to each address answered: each is
// named by its name. Both ways of reading the kernel's structures are run.
func TestE2EEngineDNSNames(t *testing.T) {
	e2e.RequireBPF(t)
	servers := map[string]netip.AddrPort{
		"cache.ebpftap.test": e2e.PongServer(t, "127.0.0.9"),
		"db.ebpftap.test":    e2e.PongServer(t, "127.0.0.10"),
		"tcp.ebpftap.test":   e2e.PongServer(t, "127.0.0.12"),
	}
	names := map[string]netip.Addr{}
	for name, ap := range servers {
		names[name] = ap.Addr()
	}
	dns := e2e.StartDNSServer(t, names, 60)
	for _, probeReads := range []bool{false, true} {
		t.Run(fmt.Sprintf("probe_reads=%v", probeReads), func(t *testing.T) {
			rec := &recorder{}
			e := startEngineWith(t, Options{ProbeReads: probeReads}, rec)
			modes := map[string]string{"cache.ebpftap.test": "connect", "db.ebpftap.test": "sendto", "tcp.ebpftap.test": "tcp"}
			for name, mode := range modes {
				port := strconv.Itoa(int(servers[name].Port()))
				ping := hex.EncodeToString([]byte("*1\r\n$4\r\nPING\r\n"))
				if out, err := exec.Command("python3", "-c", e2e.PythonResolveAndSend, dns.String(), name, mode, port, ping).CombinedOutput(); err != nil {
					t.Fatalf("resolving %s (%s) and connecting: %v\n%s", name, mode, err, out)
				}
			}
			time.Sleep(300 * time.Millisecond)
			e.Close()

			rec.mu.Lock()
			defer rec.mu.Unlock()
			got := map[netip.AddrPort]string{}
			for _, c := range rec.opened {
				if c.Role == RoleClient && c.Process.ExeName != "" {
					got[c.Remote] = c.ServerName
				}
			}
			for name, ap := range servers {
				if n, ok := got[ap]; !ok || n != name {
					t.Errorf("the client's connection to %v (resolved %s): seen %v, named %q; want %q", ap, modes[name], ok, n, name)
				}
			}
		})
	}
}
