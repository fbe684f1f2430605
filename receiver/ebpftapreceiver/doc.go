//go:generate go tool mdatagen metadata.yaml

// Package ebpftapreceiver captures the HTTP exchanges of every process on a
// Linux host with eBPF and turns them into spans, logs and metrics.
//
// It is the last room of the flow and does the wiring only: the factory
// (factory.go) hands the traces, metrics and logs receivers of one config a
// single shared instance (shared.go), whose Start builds the chain
//
//	capture.Engine -> tap.Tap -> receiver (tap.Sink) -> translate -> pipelines
//
// The engine (internal/capture) reads the kernel's events on its goroutine
// and calls the tap (internal/tap), which parses HTTP with internal/httpparse
// and hands finished exchanges, each with an immutable copy of its
// connection's facts, to this receiver. The receiver queues them (bounded:
// what does not fit is counted as pipeline_busy) and its flusher goroutine
// describes each exchange once, counts it in the metrics, translates it to
// pdata (internal/translate) and hands batches to the pipelines. Connection
// counts, bytes and every counter of what a bound threw away (drops.go) go
// to the metrics every metrics_interval.
package ebpftapreceiver // import "github.com/ebpftap/ebpftap/receiver/ebpftapreceiver"
