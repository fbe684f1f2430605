package translate

import (
	"strings"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/ebpftap/ebpftap/internal/capture"
	"github.com/ebpftap/ebpftap/receiver/ebpftapreceiver/internal/metadata"
	"github.com/ebpftap/ebpftap/receiver/ebpftapreceiver/internal/redact"
)

// processKey names one process image: pid and start time name the process,
// and the executable tells the images before and after an exec apart.
type processKey struct {
	pid   int
	start uint64
	exe   string
}

func keyOf(p *capture.Process) processKey {
	if p == nil {
		return processKey{pid: -1}
	}
	return processKey{pid: p.PID, start: p.StartTime, exe: p.ExePath}
}

// buildProcessResource describes a process through rb, which drops the
// attributes the configuration disabled, with the secrets of its command line
// redacted by policy. Unknown values are left out rather than sent empty.
func buildProcessResource(rb *metadata.ResourceBuilder, p *capture.Process, hostName string, policy *redact.Policy) pcommon.Resource {
	if hostName != "" {
		rb.SetHostName(validUTF8(hostName))
	}
	if p == nil {
		rb.SetServiceName("unknown_service")
		return rb.Emit()
	}
	rb.SetProcessPid(int64(p.PID))
	rb.SetProcessParentPid(int64(p.ParentPID))
	if p.ExeName != "" {
		rb.SetProcessExecutableName(validUTF8(p.ExeName))
	}
	if p.ExePath != "" {
		rb.SetProcessExecutablePath(validUTF8(p.ExePath))
	}
	// A process's resource is built once per batch it appears in, so the
	// scrubbing is not per request.
	commandLine := p.CommandLine
	args, changed := policy.Arguments(p.Args)
	if changed {
		commandLine = strings.Join(args, " ") // as capture joins them
	}
	if commandLine != "" {
		rb.SetProcessCommandLine(validUTF8(commandLine))
	}
	if len(args) > 0 {
		values := make([]any, len(args))
		for i, a := range args {
			values[i] = validUTF8(a)
		}
		rb.SetProcessCommandArgs(values)
	}
	if p.Owner != "" {
		rb.SetProcessOwner(validUTF8(p.Owner))
	}
	if p.ContainerID != "" {
		rb.SetContainerID(validUTF8(p.ContainerID))
	}
	// The SDK rule: service.name falls back to unknown_service:<executable>.
	// capture already falls back to the executable name, which the
	// architecture asks for; only a process with neither gets the SDK form.
	switch {
	case p.ServiceName != "":
		rb.SetServiceName(validUTF8(p.ServiceName))
	case p.ExeName != "":
		rb.SetServiceName(validUTF8(p.ExeName))
	default:
		rb.SetServiceName("unknown_service")
	}
	return rb.Emit()
}

// validUTF8 makes wire bytes safe for pdata strings: OTLP/protobuf rejects
// invalid UTF-8, which would fail a whole export for one odd header.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
