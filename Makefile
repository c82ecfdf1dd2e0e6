# strata: build, test, lint, bench, demo. Every target installs what it
# needs (Debian packages, Go tools) only when it is missing.

GO        ?= go
BIN       := bin/strata
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
GOBIN     := $(shell $(GO) env GOPATH)/bin
LINT      := $(GOBIN)/golangci-lint
FUZZTIME  ?= 5s
export CGO_ENABLED = 0

.PHONY: all build deps test unit integration fuzz lint lint-install vet bench demo registry-image clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/strata

# Debian packages the tests, the demo and the benchmarks use.
deps:
	@scripts/deps.sh

test: deps build vet
	$(GO) test -count=1 -p 2 -timeout 20m ./...
	@$(MAKE) --no-print-directory fuzz

unit:
	$(GO) test -count=1 -short ./internal/...

integration: build
	$(GO) test -count=1 -timeout 20m ./test/...

# Runs every fuzz target for FUZZTIME (their seed corpora already run in test).
fuzz:
	@scripts/fuzz.sh $(FUZZTIME)

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet ./...

LINT_VERSION ?= v2.15.0

$(LINT):
	GOFLAGS= $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(LINT_VERSION)

lint-install: $(LINT)

lint: $(LINT) vet
	$(LINT) run ./...

bench: deps build
	@scripts/bench.sh

demo: deps build
	@scripts/demo.sh

# The "registry" image (strata's binary, ENTRYPOINT registry serve, :5000,
# /var/lib/registry), built by strata itself into its default store.
registry-image: build
	@ctx=$$(mktemp -d) && cp $(BIN) deploy/registry/Dockerfile $$ctx/ && \
	  $(BIN) build -t registry:latest $$ctx; rc=$$?; rm -rf $$ctx; exit $$rc

clean:
	rm -rf bin
