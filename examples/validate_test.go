package examples_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ebpftap/ebpftap/internal/e2e"
)

// validateTimeout bounds one `validate` run, which takes about 50 ms: it
// loads no BPF and contacts no endpoint.
const validateTimeout = time.Minute

// TestExamplesValidate runs `otelcol-ebpftap validate` on every example and
// on the Kubernetes configs. The collector's validate decodes the config
// strictly (an unknown key fails), runs each component's config validation
// (the receiver's Validate with its OTTL rules, OTTL parsing in filter and
// transform) and creates the pipelines' components without starting them,
// so it needs neither root nor the backends.
func TestExamplesValidate(t *testing.T) {
	skipShortUnlessCI(t)
	bin := e2e.Distribution(t)

	examples, err := filepath.Glob("*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, examples, "no examples/*.yaml found from %s", mustGetwd(t))
	// The Kubernetes agent's and gateway's configs, which the kustomization
	// turns into ConfigMaps, are examples too.
	deployed, err := filepath.Glob(filepath.Join("..", "deploy", "kubernetes", "*-config.yaml"))
	require.NoError(t, err)
	require.Len(t, deployed, 2, "deploy/kubernetes/*-config.yaml")
	examples = append(examples, deployed...)

	for _, example := range examples {
		t.Run(strings.TrimSuffix(filepath.Base(example), ".yaml"), func(t *testing.T) {
			out, err := validate(t, bin, example)
			require.NoError(t, err, "otelcol-ebpftap validate --config %s:\n%s", example, out)
		})
	}
}

// TestExamplesValidateRejects proves that the check above can fail: a config
// that validates, then the same config with one unknown field or one unknown
// component, which must fail with a message naming it.
func TestExamplesValidateRejects(t *testing.T) {
	skipShortUnlessCI(t)
	bin := e2e.Distribution(t)

	const base = `receivers:
  ebpftap:
    capture:
      level: full%s
processors:
  batch:
exporters:
  debug:
service:
  pipelines:
    traces:
      receivers: [ebpftap]
      processors: [%s]
      exporters: [debug]
`
	cases := []struct {
		name          string
		field, proc   string
		wantInMessage string
	}{
		{name: "valid base", proc: "batch"},
		{name: "unknown field", field: "\n      max_body_bites: 1024", proc: "batch", wantInMessage: "max_body_bites"},
		{name: "unknown component", proc: "batch, no_such_processor", wantInMessage: "no_such_processor"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			config := filepath.Join(t.TempDir(), "config.yaml")
			require.NoError(t, os.WriteFile(config, fmt.Appendf(nil, base, tc.field, tc.proc), 0o600))
			out, err := validate(t, bin, config)
			if tc.wantInMessage == "" {
				require.NoError(t, err, "the base config must validate, so that the other cases fail for their one change:\n%s", out)
				return
			}
			var exitErr *exec.ExitError
			require.ErrorAs(t, err, &exitErr, "validate accepted a config with %s:\n%s", tc.name, out)
			require.Contains(t, out, tc.wantInMessage, "validate's message should name what is wrong")
		})
	}
}

// skipShortUnlessCI skips in -short mode, as the distribution's build takes
// minutes, but never in CI, where a skipped check would pass unseen.
func skipShortUnlessCI(t *testing.T) {
	t.Helper()
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("skipping: builds the collector distribution with ocb, which takes minutes")
	}
}

// validate runs `bin validate --config config` and returns its combined output.
func validate(t *testing.T, bin, config string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), validateTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "validate", "--config", config)
	// What the agent's DaemonSet sets (deploy/kubernetes/agent-daemonset.yaml).
	cmd.Env = append(os.Environ(), "K8S_NODE_NAME=node-1")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func mustGetwd(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	require.NoError(t, err)
	return wd
}
