//go:generate go tool bpf2go -tags linux -cc clang -cflags "-O2 -g -Wall -Werror -I/usr/include/x86_64-linux-gnu -I/usr/include/aarch64-linux-gnu" -target amd64,arm64 -type event_header -type data_event -type conn_tuple -type counter -type exec_event -type tls_bind_event -type lib_open_event -type event_kind -type conn_role -type data_dir -type conn_policy -type event_flag -type tls_library -type tls_cookie syscalls ../../bpf/syscalls.c -- -I../../bpf/headers
//go:generate go tool bpf2go -tags linux -cc clang -cflags "-O2 -g -Wall -Werror -I/usr/include/x86_64-linux-gnu -I/usr/include/aarch64-linux-gnu" -target amd64,arm64 tlslib ../../bpf/tlslib.c -- -I../../bpf/headers
//go:generate go tool bpf2go -tags linux -cc clang -cflags "-O2 -g -Wall -Werror -I/usr/include/x86_64-linux-gnu -I/usr/include/aarch64-linux-gnu" -target amd64,arm64 gotls ../../bpf/gotls.c -- -I../../bpf/headers

// Package capture runs the eBPF programs that watch TCP connections, and turns
// what they report into connections, processes and ordered byte streams for a
// Handler. It knows nothing of HTTP or OpenTelemetry.
package capture
