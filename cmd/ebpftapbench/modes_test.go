package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPickModes(t *testing.T) {
	ms, err := pickModes("full,baseline")
	require.NoError(t, err)
	require.Len(t, ms, 2)
	assert.Equal(t, "baseline", ms[0].key, "the table's order, not the flag's")
	assert.Equal(t, "full", ms[1].level)

	_, err = pickModes("baseline,fast")
	assert.ErrorContains(t, err, `-modes: unknown "fast"; choose from baseline,floor,none,summary,full`)
}

func TestPickScenarios(t *testing.T) {
	all, err := pickScenarios("all")
	require.NoError(t, err)
	assert.Len(t, all, 5)
	some, err := pickScenarios("grpc,go-https")
	require.NoError(t, err)
	require.Len(t, some, 2)
	assert.Equal(t, "go-https", some[0].name)
	_, err = pickScenarios("http3")
	assert.ErrorContains(t, err, `-scenarios: unknown "http3"`)
}

func TestRoundOrder(t *testing.T) {
	keys := func(ms []mode) (out []string) {
		for _, m := range ms {
			out = append(out, m.key)
		}
		return out
	}
	assert.Equal(t, []string{"baseline", "floor", "none", "summary", "full", "sampled"}, keys(roundOrder(modes, 0)))
	assert.Equal(t, []string{"sampled", "full", "summary", "none", "floor", "baseline"}, keys(roundOrder(modes, 1)))
	assert.Equal(t, []string{"baseline", "floor", "none", "summary", "full", "sampled"}, keys(modes), "the table's order is kept")
}

func TestToolsFor(t *testing.T) {
	names := func(ts []tool) (out []string) {
		for _, t := range ts {
			out = append(out, t.name)
		}
		return out
	}
	h2, _ := pickScenarios("h2-tls")
	goHTTPS, _ := pickScenarios("go-https")
	floor, _ := pickModes("floor")
	base, _ := pickModes("baseline")
	assert.Equal(t, []string{"go", "openssl", "h2load", "nginx", "ldd"}, names(toolsFor(h2, floor)))
	assert.Equal(t, []string{"go", "openssl", "h2load", "nginx"}, names(toolsFor(h2, base)))
	assert.Equal(t, []string{"go", "openssl"}, names(toolsFor(goHTTPS, floor)), "Go load tools are not ldd'd")
}
