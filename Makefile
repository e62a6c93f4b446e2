# skiff: `make run` installs what is missing, builds and starts a single-node cluster; `make test` runs every test.
GO        ?= go
BIN       := bin/skiff
K8S_VER   := v1.37.2
COMMIT    := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS   := -s -w \
	-X k8s.io/component-base/version.gitVersion=$(K8S_VER) -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37 \
	-X k8s.io/client-go/pkg/version.gitVersion=$(K8S_VER) -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=37 \
	-X skiff/internal/version.GitCommit=$(COMMIT)
DATA_DIR  ?= /var/lib/skiff

.PHONY: all build run deps test unit e2e bench clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w' -o internal/kubelet/pausebin/bin/pause ./test/images/pause
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/skiff

deps:
	./hack/install-deps.sh

run: deps build
	./$(BIN) server --data-dir $(DATA_DIR)

unit:
	$(GO) test -count=1 ./internal/... ./cmd/...

e2e: build
	SKIFF_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout 30m -v ./test/e2e/... 2>&1 | ./hack/summarize-tests.sh

test: deps build
	$(GO) vet ./...
	$(MAKE) unit
	$(MAKE) e2e

bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./internal/... ./test/e2e/...

clean:
	rm -rf bin
