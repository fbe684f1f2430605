package httpparse

import (
	"flag"
	"testing"

	"go.uber.org/goleak"
)

var update = flag.Bool("update", false, "rewrite golden files and the FuzzConn seed corpus")

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
