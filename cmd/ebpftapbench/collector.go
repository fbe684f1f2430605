package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// collectorConfig is the collector the ebpftap modes run: the receiver at
// the mode's level, following loopback (the loads are on loopback) in both
// directions, each pipeline through the batch processor to the OTLP gRPC
// exporter, as a user's would be, towards the bench's sink. Metrics are
// emitted every second instead of every 10, so the drop counters of a
// 5-second load arrive; the collector's own telemetry is off, so that its
// cost and its listening port are not part of the figures. The export is
// not compressed, as suits a sink on the same host: the exporter's default,
// gzip, took 45% of the collector's CPU at summary (16 µs a request, pprof
// of go-https, 2026-11-29), a cost of the user's exporter settings and not
// of the receiver. A ratio other than 0 sets sampling.ratio. A non-empty
// pprofEndpoint adds the pprof extension there, for -pprof.
func collectorConfig(level string, ratio float64, sinkSocket, pprofEndpoint string) ([]byte, error) {
	pipeline := map[string]any{
		"receivers":  []string{"ebpftap"},
		"processors": []string{"batch"},
		"exporters":  []string{"otlp_grpc"},
	}
	receiver := map[string]any{
		"direction":        "all",
		"ignore_loopback":  false,
		"metrics_interval": "1s",
		"capture":          map[string]any{"level": level},
	}
	if ratio != 0 {
		receiver["sampling"] = map[string]any{"ratio": ratio}
	}
	cfg := map[string]any{
		"receivers":  map[string]any{"ebpftap": receiver},
		"processors": map[string]any{"batch": nil},
		"exporters": map[string]any{
			"otlp_grpc": map[string]any{
				"endpoint":    "unix://" + sinkSocket,
				"tls":         map[string]any{"insecure": true},
				"compression": "none",
			},
		},
		"service": map[string]any{
			"telemetry": map[string]any{"metrics": map[string]any{"level": "none"}},
			"pipelines": map[string]any{"traces": pipeline, "logs": pipeline, "metrics": pipeline},
		},
	}
	if pprofEndpoint != "" {
		cfg["extensions"] = map[string]any{"pprof": map[string]any{"endpoint": pprofEndpoint}}
		cfg["service"].(map[string]any)["extensions"] = []string{"pprof"}
	}
	return yaml.Marshal(cfg)
}

// pprofEndpoint is where the collector serves pprof with -pprof.
const pprofEndpoint = "127.0.0.1:17777"

// profileCPU saves the collector's CPU profile over d to path: what it
// spent its time on during a measured load.
func profileCPU(ctx context.Context, d time.Duration, path string) error {
	url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", pprofEndpoint, max(1, int(d.Seconds())))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("profiling the collector: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profiling the collector: %s", resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, resp.Body)
	return errors.Join(err, f.Close())
}

// collectorReady is what the collector logs once every component started:
// the receiver's engine is loaded and attached by then.
const collectorReady = "Everything is ready"

// collector is a running otelcol-ebpftap.
type collector struct {
	proc *process
	log  string // its log file, for errors
}

// startCollector runs the distribution with the config and waits until it
// is ready, writing its log to logPath.
func startCollector(ctx context.Context, bin, configPath, logPath string) (*collector, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	r, w := io.Pipe()
	p, err := startProcess([]string{bin, "--config", configPath}, logFile, w)
	if err != nil {
		logFile.Close()
		return nil, err
	}
	c := &collector{proc: p, log: logPath}
	ready := make(chan struct{})
	go func() {
		// Copy the log to its file, and say when the ready line passed.
		defer logFile.Close()
		sc := bufio.NewScanner(r)
		sc.Buffer(nil, 1<<20)
		signalled := false
		for sc.Scan() {
			fmt.Fprintln(logFile, sc.Text())
			if !signalled && strings.Contains(sc.Text(), collectorReady) {
				close(ready)
				signalled = true
			}
		}
		_, _ = io.Copy(logFile, r)
	}()
	go func() {
		<-p.done
		w.Close()
	}()
	select {
	case <-ready:
		return c, nil
	case <-p.done:
		return nil, fmt.Errorf("the collector exited before it was ready (%v); its log:\n%s", p.err, tail(logPath, 30))
	case <-time.After(2 * time.Minute):
		p.kill()
		return nil, fmt.Errorf("the collector was not ready after 2 minutes; its log:\n%s", tail(logPath, 30))
	case <-ctx.Done():
		p.kill()
		return nil, ctx.Err()
	}
}

// stop shuts the collector down as a user's would be (SIGTERM): the
// receiver flushes its last transactions and metrics, the exporter sends
// them. An error exit is reported with its log.
func (c *collector) stop() error {
	if err := c.proc.terminate(30 * time.Second); err != nil {
		return fmt.Errorf("stopping the collector: %w; its log:\n%s", err, tail(c.log, 30))
	}
	return nil
}

// exporterDroppedItems is what the collector's exporter threw away, from
// its log ("Exporting failed. Dropping data.", "dropped_items": N): items
// of any signal that never reached the sink, which no receiver counter
// sees.
func exporterDroppedItems(log []byte) int64 {
	var n int64
	for line := range strings.Lines(string(log)) {
		if !strings.Contains(line, "Dropping data") {
			continue
		}
		if m := droppedItems.FindStringSubmatch(line); m != nil {
			v, _ := strconv.ParseInt(m[1], 10, 64)
			n += v
		}
	}
	return n
}

var droppedItems = regexp.MustCompile(`"dropped_items":\s*(\d+)`)

// tail is the last n lines of a file, for error messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
