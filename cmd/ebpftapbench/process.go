package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"syscall"
	"time"
)

// process is a program the bench started, in its own process group, so
// that stopping it stops everything it started too (nginx's worker outlives
// a killed master otherwise), and with SIGKILL sent to it if the bench dies
// without cleaning up.
type process struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed once Wait returned
	err  error         // Wait's error, once done is closed
}

func startProcess(args []string, stdout, stderr io.Writer) (*process, error) {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", args[0], err)
	}
	p := &process{name: args[0], cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *process) pid() int { return p.cmd.Process.Pid }

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill stops the whole process group at once and waits for the process.
func (p *process) kill() {
	_ = syscall.Kill(-p.pid(), syscall.SIGKILL)
	<-p.done
}

// terminate asks the process to stop (SIGTERM) and waits up to grace for
// it, then kills its group. It returns the process's exit error, if it
// stopped by itself with one.
func (p *process) terminate(grace time.Duration) error {
	_ = syscall.Kill(p.pid(), syscall.SIGTERM)
	select {
	case <-p.done:
		// Whatever it started is stopped too.
		_ = syscall.Kill(-p.pid(), syscall.SIGKILL)
		var exit *exec.ExitError
		if errors.As(p.err, &exit) && exit.ExitCode() == -1 {
			return nil // ended by the signal
		}
		return p.err
	case <-time.After(grace):
		p.kill()
		return fmt.Errorf("%s did not stop within %s of SIGTERM; killed", p.name, grace)
	}
}

// finished is a process that ran to its end.
type finished struct {
	pid int
	cpu time.Duration // user + system, its waited-for children included
}

// runToEnd runs a process to its end, or kills its group when ctx ends.
func runToEnd(ctx context.Context, args []string, stdout, stderr io.Writer) (finished, error) {
	p, err := startProcess(args, stdout, stderr)
	if err != nil {
		return finished{}, err
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		p.kill()
		return finished{}, ctx.Err()
	}
	f := finished{pid: p.pid()}
	if ru, ok := p.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		f.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if p.err != nil {
		return f, fmt.Errorf("%s: %w", args[0], p.err)
	}
	return f, nil
}
