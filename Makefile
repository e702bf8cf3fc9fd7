# container — build, test, install.
#
#   make build            binaries and plugin tree in _output/
#   make test             unit tests, then integration tests (root)
#   make install PREFIX=  the _output/ tree under PREFIX (default /usr/local)
#   make proto            regenerate api/**/*.pb.go (needs protoc, see .ci/install-deps)

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
PLUGINS  := $(notdir $(wildcard cmd/container-runtime-linux))

.PHONY: all build test unit integration install proto clean fmt vet bench

all: build

build:
	@mkdir -p $(OUT)/bin $(OUT)/libexec/container/plugins
	$(GO) build $(GOFLAGS_BUILD) -o $(OUT)/bin/ ./cmd/container ./cmd/container-apiserver
	@for p in $(PLUGINS); do \
		mkdir -p $(OUT)/libexec/container/plugins/$$p/bin; \
		$(GO) build $(GOFLAGS_BUILD) -o $(OUT)/libexec/container/plugins/$$p/bin/$$p ./cmd/$$p || exit 1; \
		cp cmd/$$p/config.toml $(OUT)/libexec/container/plugins/$$p/config.toml; \
	done

install: build
	mkdir -p $(DESTDIR)$(PREFIX)
	cp -a $(OUT)/. $(DESTDIR)$(PREFIX)/

unit:
	$(GO) test -short ./...

integration: build
	CONTAINER_TEST_OUTPUT=$(CURDIR)/$(OUT) $(GO) test -count=1 -timeout 25m ./integration/...

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

bench: build
	./bench/run.sh

clean:
	rm -rf $(OUT)
