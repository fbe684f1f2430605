//go:build !linux || !(amd64 || arm64)

package capture

import "errors"

// errLinuxOnly is what every platform but Linux on amd64 and arm64 gets.
var errLinuxOnly = errors.New("capture: the eBPF capture engine runs on Linux only (amd64, arm64)")

// Engine is only available on Linux (amd64 and arm64).
type Engine struct{}

// NewEngine fails: the capture engine needs Linux eBPF.
func NewEngine(Options, Handler) (*Engine, error) { return nil, errLinuxOnly }

func (*Engine) Start() error                { return errLinuxOnly }
func (*Engine) Close() error                { return nil }
func (*Engine) Stats() Stats                { return Stats{} }
func (*Engine) ProgramStats() []ProgramStat { return nil }
