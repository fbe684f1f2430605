//go:build linux

package capture

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// mountTracefs makes tracepoints attachable. The kernel finds a tracepoint's
// id through tracefs, which fresh machines often leave unmounted; mounting it
// needs CAP_SYS_ADMIN, which checkPrivileges has asked for by then.
func mountTracefs() error {
	if err := unix.Mount("nodev", "/sys/kernel/tracing", "tracefs", 0, ""); err != nil {
		if errors.Is(err, unix.EPERM) {
			return fmt.Errorf("capture: tracefs is not mounted and mounting it was refused though this process has CAP_SYS_ADMIN (a user namespace, a seccomp profile or a security module may deny mount(2)); mount it before start: mount -t tracefs nodev /sys/kernel/tracing: %w", err)
		}
		return fmt.Errorf("capture: mounting tracefs at /sys/kernel/tracing: %w", err)
	}
	return nil
}

// tracefsMounted reads the mount table, which any user may read, rather than
// looking into tracefs, which only root may.
func tracefsMounted() (bool, error) {
	f, err := os.Open("/proc/self/mounts")
	if err != nil {
		return false, fmt.Errorf("capture: reading the mount table: %w", err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		// device mountpoint fstype options ... (fstab(5))
		if f := strings.Fields(s.Text()); len(f) > 2 && f[2] == "tracefs" {
			return true, nil
		}
	}
	return false, s.Err()
}
