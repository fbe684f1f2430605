package binsym

import (
	"flag"
	"testing"

	"go.uber.org/goleak"
)

var update = flag.Bool("update", false, "rewrite the seed corpora of the fuzz targets under testdata/fuzz")

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
