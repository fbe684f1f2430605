//go:generate go tool bpf2go -tags linux -cc clang -cflags "-O2 -g -Wall -Werror -I/usr/include/x86_64-linux-gnu -I/usr/include/aarch64-linux-gnu" -target amd64,arm64 -type event_header -type data_event -type conn_tuple -type counter -type exec_event -type close_event -type tls_bind_event -type lib_open_event -type dns_event -type event_kind -type conn_role -type data_dir -type conn_policy -type policy_entry -type port_filter_mode -type event_flag -type tls_library -type tls_cookie syscalls ../../bpf/syscalls.c -- -I../../bpf/headers
//go:generate go tool bpf2go -tags linux -cc clang -cflags "-O2 -g -Wall -Werror -I/usr/include/x86_64-linux-gnu -I/usr/include/aarch64-linux-gnu" -target amd64,arm64 tlslib ../../bpf/tlslib.c -- -I../../bpf/headers
//go:generate go tool bpf2go -tags linux -cc clang -cflags "-O2 -g -Wall -Werror -I/usr/include/x86_64-linux-gnu -I/usr/include/aarch64-linux-gnu" -target amd64,arm64 gotls ../../bpf/gotls.c -- -I../../bpf/headers

// Package capture is the engine: the first room after the kernel. It loads
// and attaches the eBPF programs of bpf/ (syscall and sched tracepoints, TLS
// library and Go crypto/tls uprobes), reads the one ring buffer they all
// write to, and turns what they report into processes, connections and
// ordered byte streams for a Handler. It knows nothing of HTTP or
// OpenTelemetry.
//
// The flow: Engine.Start loads the objects (objects_linux.go) and attaches
// them; the TLS probe scheduling (tls_linux.go) inspects each library and
// executable processes map, asking internal/binsym where to probe. The
// reader goroutine (Engine.run) decodes each event (events_linux.go), keeps
// the connection table (conntrack.go) and the process cache (process.go),
// reads the TLS hellos on the wire (tlshello.go), holds TLS plaintext until
// its socket is known (unbound.go), and calls the Handler: ConnOpened, then
// Data per segment in stream order, then ConnClosed. A Conn belongs to that
// goroutine: a Handler reads it during its calls and copies what it keeps.
package capture
