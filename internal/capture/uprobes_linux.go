//go:build linux && (amd64 || arm64)

package capture

import (
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/link"
)

// probeSet is one program to attach at several places of a file, each with
// its cookie.
type probeSet struct {
	what      string // for errors: "entry probe"
	prog      *ebpf.Program
	uretprobe bool
	funcs     []string // the function each offset is in, for errors
	offsets   []uint64 // file offsets
	cookies   []uint64
}

func (s *probeSet) add(fn string, off, cookie uint64) {
	s.funcs = append(s.funcs, fn)
	s.offsets = append(s.offsets, off)
	s.cookies = append(s.cookies, cookie)
}

// uprobeAttacher attaches the TLS programs. With uprobe_multi links (Linux
// 6.6), a program takes one link per file however many places it is set
// at; without, one classic uprobe each. The difference shows on detach: the
// kernel waits a grace period per link (some 80 ms measured here), so a Go
// program with 17 probe sites detaches in 2 links instead of 17.
type uprobeAttacher struct {
	multi bool
}

// useUprobeMulti reports whether the kernel has uprobe_multi links; the
// programs must then be loaded for them (prepareUprobeMulti).
func useUprobeMulti() bool {
	return features.HaveBPFLinkUprobeMulti() == nil
}

// prepareUprobeMulti marks spec's programs as loaded for uprobe_multi links.
func prepareUprobeMulti(spec *ebpf.CollectionSpec) {
	for _, p := range spec.Programs {
		p.AttachType = ebpf.AttachTraceUprobeMulti
	}
}

// attach sets every set's program in the file at path; all or nothing.
func (a *uprobeAttacher) attach(path string, sets ...probeSet) (links []link.Link, err error) {
	ex, err := link.OpenExecutable(path)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			for _, l := range links {
				_ = l.Close()
			}
			links = nil
		}
	}()
	for _, s := range sets {
		if len(s.offsets) == 0 {
			continue
		}
		if a.multi {
			attach := ex.UprobeMulti
			if s.uretprobe {
				attach = ex.UretprobeMulti
			}
			l, err := attach(nil, s.prog, &link.UprobeMultiOptions{Addresses: s.offsets, Cookies: s.cookies})
			if err != nil {
				return links, fmt.Errorf("attaching the %s at %d places of %s: %w", s.what, len(s.offsets), path, err)
			}
			links = append(links, l)
			continue
		}
		attach := ex.Uprobe
		if s.uretprobe {
			attach = ex.Uretprobe
		}
		for i, off := range s.offsets {
			l, err := attach(s.funcs[i], s.prog, &link.UprobeOptions{Address: off, Cookie: s.cookies[i]})
			if err != nil {
				return links, fmt.Errorf("attaching the %s to %s at %#x in %s: %w", s.what, s.funcs[i], off, path, err)
			}
			links = append(links, l)
		}
	}
	return links, nil
}
