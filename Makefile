# ganetictl: build, test, demo and benchmarks. `make help` lists the targets.
GO        ?= go
BIN       := bin
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.Version=$(VERSION)
export TESTBED_DIR ?= /tmp/ganetictl-testbed

.PHONY: help build helper install test unit e2e test-update vet depcheck deps demo bench clean

help:
	@echo "make build        build bin/ganetictl (static)"
	@echo "make unit         unit tests: go test -race ./... (no root, never a test bed)"
	@echo "make e2e          the tests behind -tags bed, on the test bed (root)"
	@echo "make test         install missing packages (as root), vet, depcheck, unit and e2e tests"
	@echo "make demo         bring up a 3-node test cluster and tour ganetictl on it"
	@echo "make bench        benchmarks against parallel-ssh and ssh loops on a 20-node test bed"
	@echo "make testbed-up NODES=3 / make testbed-down"
	@echo "make install      ganetictl, its helpers and the gnt-* links into PREFIX/bin (default /usr/local)"

build: helper
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ganetictl ./cmd/ganetictl

# helper builds the node-side copy helper for both node architectures; it
# goes next to bin/ganetictl, where ganetictl looks for it.
helper:
	for arch in amd64 arm64; do \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath -ldflags '-s -w' -o $(BIN)/ganetictl-helper-linux-$$arch ./cmd/ganetictl-helper || exit 1; \
	done

# install puts ganetictl and its helpers in PREFIX/bin, with the gnt-*
# links that make Ganeti's command names run it (scripts run unchanged).
PREFIX    ?= /usr/local
GNT_LINKS := gnt-cluster gnt-node gnt-instance gnt-backup gnt-os gnt-job gnt-group gnt-network \
             ganeti-watcher harep burnin sanitize-config lvmstrap
install: build
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BIN)/ganetictl $(BIN)/ganetictl-helper-linux-amd64 $(BIN)/ganetictl-helper-linux-arm64 $(DESTDIR)$(PREFIX)/bin/
	for l in $(GNT_LINKS); do ln -sf ganetictl $(DESTDIR)$(PREFIX)/bin/$$l; done

# deps installs what the tests and the test bed need (Debian, as root).
deps:
	@sh scripts/deps.sh

# vet covers the files behind the bed build tag too.
vet:
	$(GO) vet ./...
	$(GO) vet -tags bed ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }

# depcheck enforces DESIGN §2's dependency directions and that only
# internal/view prints (see scripts/depcheck.sh).
depcheck:
	@sh scripts/depcheck.sh

# Unit tests need no root and never touch a test bed: every test that
# starts or uses one is in a file behind the build tag "bed" (//go:build
# bed), so plain "go test ./..." leaves it out (e2e/ entirely).
unit:
	$(GO) test -race -count=1 ./...

# e2e runs the tests behind the bed tag, as root: the TestBed* tests of
# playbooks/... and testbed/standin, then the testbed and e2e packages. They share one bed, so
# one package at a time.
e2e: build
	$(GO) test -tags bed -count=1 -timeout 20m -p 1 -run '^TestBed' ./playbooks/... ./testbed/standin/
	$(GO) test -tags bed -count=1 -timeout 30m -p 1 ./testbed/ ./e2e/

test: deps vet depcheck unit e2e

test-update:
	$(GO) test ./... -run Golden -update

demo: build
	@sh scripts/demo.sh

bench: build
	@bash scripts/bench.sh

clean:
	rm -rf $(BIN)

include testbed/testbed.mk
