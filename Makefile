# container — build, test, install.
#
#   make build            binaries and plugin tree in _output/
#   make test             vet, unit tests, then integration tests (root)
#   make install PREFIX=  build, then copy the _output/ tree under PREFIX (default /usr/local)
#   make install-only     copy an already built _output/ tree (what scripts/setup.sh uses with sudo)
#   make proto            regenerate api/**/*.pb.go (needs protoc and the pinned plugins, see .ci/run)
#   make check-proto      fail if the generated code differs from what `make proto` writes

GO        ?= go
PREFIX    ?= /usr/local
OUT       := _output
PKG       := github.com/berth/container
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.0.0-dev)
COMMIT    ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
BUILDDATE ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS   := -X $(PKG)/internal/version.Version=$(VERSION) \
             -X $(PKG)/internal/version.Commit=$(COMMIT) \
             -X $(PKG)/internal/version.BuildDate=$(BUILDDATE)
GOFLAGS_BUILD := -trimpath -ldflags "$(LDFLAGS)"

PROTOS := $(shell find api -name '*.proto')

BINARIES := container container-apiserver
# Every cmd/<name> with a config.toml is a built-in plugin.
PLUGINS  := $(notdir $(patsubst %/,%,$(dir $(wildcard cmd/*/config.toml))))

.PHONY: all build test unit integration install install-only proto check-proto clean fmt vet bench

all: build

# The CLI is static too: no dynamic loader on every call (≈ 0.7 ms of each
# `container` invocation, measured in bench/).
build:
	@mkdir -p $(OUT)/bin $(OUT)/libexec/container/plugins
	$(GO) build $(GOFLAGS_BUILD) -o $(OUT)/bin/ ./cmd/container-apiserver
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_BUILD) -o $(OUT)/bin/ ./cmd/container
	@for p in $(PLUGINS); do \
		mkdir -p $(OUT)/libexec/container/plugins/$$p/bin; \
		CGO_ENABLED=0 $(GO) build $(GOFLAGS_BUILD) -o $(OUT)/libexec/container/plugins/$$p/bin/$$p ./cmd/$$p || exit 1; \
		cp cmd/$$p/config.toml $(OUT)/libexec/container/plugins/$$p/config.toml; \
	done
	# The hibernated form of a supervisor, exec'd by it (internal/monitor).
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_BUILD) -o $(OUT)/libexec/container/plugins/container-runtime-linux/bin/ ./cmd/container-runtime-monitor

install: build
	$(MAKE) install-only

# --remove-destination: replacing a running binary (the apiserver, a
# supervisor) must not fail with "text file busy".
install-only:
	@test -x $(OUT)/bin/container || { echo "nothing built in $(OUT)/; run make build" >&2; exit 1; }
	mkdir -p $(DESTDIR)$(PREFIX)
	cp -a --remove-destination $(OUT)/. $(DESTDIR)$(PREFIX)/

unit:
	$(GO) test -short ./...

# Root-only tests: the black-box suite in integration/ and the packages whose
# tests drive real runc, mounts and cgroups (skipped under -short).
ROOT_TEST_PKGS := ./integration/... ./internal/supervisor/... ./internal/mount/... \
                  ./internal/runtime/... ./internal/monitor/...

integration: build
	CONTAINER_TEST_OUTPUT=$(CURDIR)/$(OUT) $(GO) test -count=1 -timeout 25m $(ROOT_TEST_PKGS)

test: vet unit integration

vet:
	$(GO) vet ./...

fmt:
	gofmt -l -w $$(git ls-files '*.go' | grep -v '\.pb\.go$$')

proto:
	protoc -I . -I /usr/include \
		--go_out=. --go_opt=paths=source_relative \
		--go-grpc_out=. --go-grpc_opt=paths=source_relative \
		$(PROTOS)

check-proto: proto
	@if [ -n "$$(git status --porcelain -- api/)" ]; then \
		git status --short -- api/; \
		echo "api/: generated code is stale; run make proto and commit" >&2; exit 1; \
	fi

# Each bench script runs `make build` itself (into _output/).
bench:
	./bench/run.sh

clean:
	rm -rf $(OUT)
