// Package translate turns what the tap found into pdata, per the
// OpenTelemetry semantic conventions: each exchange into a span and, at
// capture level summary and above, a log record with the same ids; and
// connections, bytes, exchanges and capture losses into cumulative metrics.
//
// An exchange is described once (Describe), and the span, the log record
// and the duration histograms all read that description. Secrets are
// redacted here, before anything leaves, as the redact package's Policy
// says: headers, URL credentials and query values, command lines, bodies.
package translate // import "github.com/ebpftap/ebpftap/receiver/ebpftapreceiver/internal/translate"
