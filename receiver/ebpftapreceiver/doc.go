//go:generate go tool mdatagen metadata.yaml

// Package ebpftapreceiver captures the HTTP exchanges of every process on a
// Linux host with eBPF and turns them into spans, logs and metrics.
package ebpftapreceiver // import "github.com/ebpftap/ebpftap/receiver/ebpftapreceiver"
