//go:build linux

package capture

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// ensureTracefs makes tracepoints attachable. The kernel finds a tracepoint's
// id through tracefs, which fresh machines often leave unmounted; mounting it
// needs CAP_SYS_ADMIN.
func ensureTracefs() error {
	for _, dir := range []string{"/sys/kernel/tracing/events", "/sys/kernel/debug/tracing/events"} {
		if _, err := os.Stat(dir); err == nil {
			return nil
		}
	}
	if err := unix.Mount("nodev", "/sys/kernel/tracing", "tracefs", 0, ""); err != nil {
		if errors.Is(err, unix.EPERM) {
			return fmt.Errorf("tracefs is not mounted and mounting it at /sys/kernel/tracing was refused (needs CAP_SYS_ADMIN; or mount it: mount -t tracefs nodev /sys/kernel/tracing): %w", err)
		}
		return fmt.Errorf("mounting tracefs at /sys/kernel/tracing: %w", err)
	}
	return nil
}
