package translate

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/ottl"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/ottl/contexts/ottlspan"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/ottl/ottlfuncs"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// A transaction's level is decided, in this order, by:
//
//  1. the capture rules: the first whose OTTL condition matches the span;
//  2. the endpoints: the most specific domain matching server.address (an
//     exact name over any wildcard, a longer wildcard over a shorter one);
//  3. Settings.Level.
//
// Conditions see the span as exported at the highest level any rule or
// endpoint gives (header attributes included when that is headers or full),
// and its resource; the span then keeps what its own level allows.

// Rule sets the level of the transactions whose span matches Condition, an
// OTTL condition in the span context (attributes["http.response.status_code"]
// >= 500, resource.attributes["service.name"] == "checkout", ...).
type Rule struct {
	Condition string
	Level     Level
}

// Endpoint sets the level of the transactions with a server: Domain is a
// name ("api.example.com") or a wildcard for the names under one
// ("*.example.com", which does not match example.com itself).
type Endpoint struct {
	Domain string
	Level  Level
}

// levels decides each transaction's level. It never changes once built.
type levels struct {
	base      Level
	max       Level // the highest level any source gives
	rules     []compiledRule
	exact     map[string]Level // lowercase domain
	wildcards []wildcard       // longest suffix first
}

type compiledRule struct {
	condition *ottl.Condition[*ottlspan.TransformContext]
	level     Level
}

type wildcard struct {
	suffix string // ".example.com", lowercase
	level  Level
}

// ParseCondition parses an OTTL condition as a capture rule does, so that a
// configuration can be checked before anything starts. The error is the
// parser's.
func ParseCondition(condition string, set component.TelemetrySettings) error {
	parser, err := newConditionParser(set)
	if err != nil {
		return err
	}
	_, err = parser.ParseCondition(condition)
	return err
}

func newConditionParser(set component.TelemetrySettings) (ottl.Parser[*ottlspan.TransformContext], error) {
	return ottlspan.NewParser(ottlfuncs.StandardConverters[*ottlspan.TransformContext](), set)
}

func newLevels(base Level, rules []Rule, endpoints []Endpoint, set component.TelemetrySettings) (*levels, error) {
	l := &levels{base: base, max: base, exact: make(map[string]Level)}
	if len(rules) > 0 {
		parser, err := newConditionParser(set)
		if err != nil {
			return nil, err
		}
		for i, r := range rules {
			c, err := parser.ParseCondition(r.Condition)
			if err != nil {
				return nil, fmt.Errorf("rule %d: %w", i, err)
			}
			l.rules = append(l.rules, compiledRule{condition: c, level: r.Level})
			l.max = max(l.max, r.Level)
		}
	}
	for _, e := range endpoints {
		domain := strings.ToLower(e.Domain)
		if suffix, ok := strings.CutPrefix(domain, "*"); ok {
			l.wildcards = append(l.wildcards, wildcard{suffix: suffix, level: e.Level})
		} else {
			l.exact[domain] = e.Level
		}
		l.max = max(l.max, e.Level)
	}
	slices.SortStableFunc(l.wildcards, func(a, b wildcard) int { return len(b.suffix) - len(a.suffix) })
	return l, nil
}

// hasRules reports whether rules decide levels: then a span must be built
// before its level is known.
func (l *levels) hasRules() bool { return len(l.rules) > 0 }

// of returns the level of the transaction whose span, as built at l.max, is
// span in rs and ss, and whose server is serverAddress.
func (l *levels) of(rs ptrace.ResourceSpans, ss ptrace.ScopeSpans, span ptrace.Span, serverAddress string) Level {
	if len(l.rules) == 0 {
		return l.forServer(serverAddress)
	}
	tc := ottlspan.NewTransformContext(rs, ss, span)
	defer tc.Close()
	for _, r := range l.rules {
		// A condition that fails to evaluate (a type mismatch on odd
		// input) does not match: the next source decides.
		if ok, err := r.condition.Eval(context.Background(), tc); err == nil && ok {
			return r.level
		}
	}
	return l.forServer(serverAddress)
}

// forServer returns the level the endpoints give serverAddress, else the
// base level.
func (l *levels) forServer(serverAddress string) Level {
	if len(l.exact) == 0 && len(l.wildcards) == 0 {
		return l.base
	}
	name := strings.ToLower(strings.TrimSuffix(serverAddress, "."))
	if level, ok := l.exact[name]; ok {
		return level
	}
	for _, w := range l.wildcards {
		if len(name) > len(w.suffix) && strings.HasSuffix(name, w.suffix) {
			return w.level
		}
	}
	return l.base
}
