// Package redact decides what of a transaction and of a process never leaves
// the host: header values by name, the values of sensitive query keys, the
// credentials in a URL, the secrets on a command line, and patterns in
// bodies. A Policy is built once from the configuration and never changes,
// so every goroutine of the receiver may use it.
//
// What is replaced becomes "REDACTED", the value the semantic conventions
// use for url.full credentials, and keeps the shape of what was there
// (key=REDACTED, user:REDACTED), so a reader still sees that a value was set.
package redact // import "github.com/ebpftap/ebpftap/receiver/ebpftapreceiver/internal/redact"
