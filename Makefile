# ebpftap: build, run and test the receiver and its collector distribution.
# Every variable can be overridden: `make test TEST_TIMEOUT=10m PKGS=./internal/...`.

GO           ?= go
OCB          ?= $(GO) tool builder
BUILD_DIR    ?= _build
DIST         ?= $(BUILD_DIR)/otelcol-ebpftap
BUILDER_CFG  ?= builder-config.yaml
# ocb runs `go mod tidy`, which also loads the tests of the components' packages; -e lets it pass a
# test-only import the module proxy refuses (k8sattributesprocessor v1.0.0's tests import
# pkg/semconvtest, served at no version). The build itself still fails on any missing dependency.
OCB_GOFLAGS  ?= $(strip $(shell $(GO) env GOFLAGS) -e)
CONFIG       ?= config.yaml
PKGS         ?= ./...
TEST_TIMEOUT ?= 20m
# -p 1: one package's tests at a time. The end-to-end tests of capture, the receiver and the
# examples each load the machine, and some measure it (memory under load, the ring buffer): run
# side by side on two cores, a collector's reader starved long enough to fill its ring buffer
# (TestE2EMemory, CI of 2026-11-30), which alone it never did. CI took 12 minutes with it, 11.5 without.
TEST_FLAGS   ?= -race -count=1 -p 1
BENCH        ?= .
BENCH_FLAGS  ?= -benchmem -count=1
# Flags of cmd/ebpftapbench, e.g. BENCH_ARGS='-scenarios go-https -modes baseline,summary -duration 10s'.
BENCH_ARGS   ?=
RUN_FLAGS    ?=
# A count, not a duration: Go 1.26 can fail a duration-bound run at its deadline with a bare
# "context deadline exceeded" (golang/go#75804, fixed in 1.27). 50000 runs take 2-16 s per target here.
FUZZTIME     ?= 50000x
# The fuzz targets `make test` runs briefly, each for $(FUZZTIME), as package:target.
FUZZ_TARGETS ?= ./internal/httpparse:FuzzConn ./internal/httpparse:FuzzH2 ./internal/httpparse:FuzzDecodeContent \
                ./internal/capture:FuzzParseHello ./internal/binsym:FuzzELF ./internal/binsym:FuzzGopclntab \
                ./internal/capture:FuzzDispatch ./internal/wireproto:FuzzIdentify ./internal/dnscache:FuzzParse

.PHONY: all generate build run test fuzz bench microbench lint

all: build

## generate: regenerate bpf2go bindings and mdatagen code (go:generate lines).
generate:
	$(GO) generate $(PKGS)

## build: build the collector distribution with ocb into $(DIST).
build:
	GOFLAGS='$(OCB_GOFLAGS)' $(OCB) --config $(BUILDER_CFG)

## run: build, then run the distribution with $(CONFIG); loading BPF needs root.
run: build
	@if [ "$$(id -u)" != 0 ]; then echo "make run: loading BPF programs needs root; try: sudo make run" >&2; exit 1; fi
	$(DIST) --config $(CONFIG) $(RUN_FLAGS)

## test: a short fuzz run, then every test, E2E included (as root, else E2E tests skip; with CI=true they fail).
test: fuzz
	@if [ "$$(id -u)" != 0 ]; then echo "make test: not root, so the E2E tests will skip" >&2; fi
	$(GO) test $(TEST_FLAGS) -timeout $(TEST_TIMEOUT) $(PKGS)

## fuzz: run each of $(FUZZ_TARGETS) for $(FUZZTIME), minimising new inputs for 1s at most (else a short
## run of FuzzELF, whose inputs are executables, mostly minimises); a crash fails and leaves its input under testdata/fuzz.
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		echo "fuzz $${t##*:} ($${t%%:*}, $(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$${t##*:}$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 1s "$${t%%:*}" || exit 1; \
	done

## bench: build, then real loads on loopback without capture, at the bare-probe floor and with ebpftap
## at each level (cmd/ebpftapbench, as root); prints a markdown table and writes $(BUILD_DIR)/bench.md.
bench: build
	@if [ "$$(id -u)" != 0 ]; then echo "make bench: loading BPF programs and tracefs probes needs root; try: sudo make bench" >&2; exit 1; fi
	$(GO) build -o $(BUILD_DIR)/ebpftapbench ./cmd/ebpftapbench
	$(BUILD_DIR)/ebpftapbench -collector $(DIST) -out $(BUILD_DIR)/bench.md $(BENCH_ARGS)

## microbench: Go benchmarks (parsers, translator, the receiver's path without a kernel).
microbench:
	$(GO) test -run '^$$' -bench '$(BENCH)' $(BENCH_FLAGS) $(PKGS)

## lint: fail on unformatted Go files, then go vet.
lint:
	@unformatted="$$(find . -name '*.go' -not -path './$(BUILD_DIR)/*' -not -path './.git/*' -print0 | xargs -0 gofmt -l)"; \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)
