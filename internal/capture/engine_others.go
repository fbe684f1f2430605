//go:build !linux || !(amd64 || arm64)

package capture

import "errors"

// Engine is only available on Linux (amd64 and arm64).
type Engine struct{}

// NewEngine fails: the capture engine needs Linux eBPF.
func NewEngine(Options, Handler) (*Engine, error) {
	return nil, errors.New("capture: the eBPF capture engine runs on Linux only (amd64, arm64)")
}

func (*Engine) Start() error { return errors.New("capture: not supported on this platform") }
func (*Engine) Close() error { return nil }
func (*Engine) Stats() Stats { return Stats{} }
