// Package binsym finds where in an executable or shared library a TLS
// library's functions are: files in, file offsets out. The capture engine
// (internal/capture) asks it, for each file its TLS probe scheduling
// inspects, where to set the uprobes whose BPF programs read TLS plaintext;
// binsym itself knows nothing of BPF, reads files only, and builds and runs
// on every platform.
//
// Two questions are answered:
//
//   - DynamicFuncOffsets: where the functions a C TLS library exports
//     (OpenSSL's SSL_read, GnuTLS's gnutls_record_recv, ...) are, looked up
//     in the ELF dynamic symbol table through its GNU hash table (elfsyms.go).
//   - GoTLSProbeSites: where to probe crypto/tls's (*Conn).Read and Write in
//     a Go program, with the Go release it was built with: the functions'
//     bounds come from the symbol table, or from .gopclntab in a stripped
//     program (gopclntab.go); the sites are found by disassembly, past the
//     prologue's stack check and at every RET (gobinary.go).
//
// The files read are any executable found on the host, so nothing in them is
// trusted: every read is bounded, a malformed file is an error and never a
// panic, and FuzzELF and FuzzGopclntab check it.
package binsym
