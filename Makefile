# binnet's everyday commands. GoMLX v0.28 needs Go 1.27.3, and its fast
# pure-Go kernels need GOEXPERIMENT=simd (see shared/design/STACK.md): every
# target runs the go command with both.
export GOTOOLCHAIN := go1.27.3
export GOEXPERIMENT := simd

GO ?= go
# How long `make fuzz` runs each fuzz target.
FUZZTIME ?= 30s
# Extra flags of `make compare`, e.g. COMPARE_FLAGS="-seeds 1 -epochs 6 -epochs-per-layer 2".
COMPARE_FLAGS ?=

.PHONY: all build test compare vet fmt-check fuzz device-build clean

all: fmt-check vet test build

# bin/binnet for this machine.
build:
	$(GO) build -trimpath -o bin/binnet ./cmd/binnet

test:
	$(GO) test ./...

# The comparison of binarization orders on the embedded MNIST sample.
compare:
	$(GO) run ./cmd/binnet compare $(COMPARE_FLAGS)

vet:
	$(GO) vet ./...

# gofmt of the Go 1.27.3 toolchain (the gofmt on PATH may be older).
fmt-check:
	@gofmt="$$($(GO) env GOROOT)/bin/gofmt"; \
	out="$$("$$gofmt" -l .)"; \
	if [ -n "$$out" ]; then echo "gofmt -l: these files need gofmt -w:"; echo "$$out"; exit 1; fi

# Runs every fuzz target of the repository for FUZZTIME each (go test allows
# one -fuzz target per run). Minimizing is capped at 5 s: the default 60 s
# stalls runs whose interesting inputs are large (a 3,073-byte CIFAR record).
fuzz:
	@set -e; \
	for file in $$(grep -rl 'func Fuzz' --include='*_test.go' . | sort); do \
		dir="./$$(dirname "$${file#./}")"; \
		for target in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$$file"); do \
			echo "== $$dir $$target ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s "$$dir"; \
		done; \
	done

# .device/binnet and the training package's test binary .device/training.test (run by
# bench/gpu/run.sh's tests section) for the GPU machines (linux/amd64), stripped. As static as
# the XLA backend allows: it dlopen()s the CUDA PJRT plugin through cgo, so the
# binary links only libc dynamically (netgo and osusergo keep the resolver and
# user lookups in Go); a fully static glibc binary cannot dlopen.
device-build:
	GOOS=linux GOARCH=amd64 CGO_ENABLED=1 $(GO) build -trimpath -tags netgo,osusergo \
		-ldflags "-s -w" -o .device/binnet ./cmd/binnet
	GOOS=linux GOARCH=amd64 CGO_ENABLED=1 $(GO) test -c -trimpath -tags netgo,osusergo \
		-ldflags "-s -w" -o .device/training.test ./binnet/training

clean:
	rm -rf bin .device
