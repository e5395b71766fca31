# nsup: make demo builds nsup and brings up examples/hello.yaml; make test
# runs every test (root tests included when run as root; CI=true makes a
# skipped root test a failure).
GO       ?= go
BIN      := bin/nsup
VERSION  ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
GOFLAGS  ?=
PKGS     := ./...

.PHONY: all build test test-short lint demo bench fuzz clean

all: build

# Static (no cgo): nsup starts twice per environment (itself, then its child
# stage), and the dynamic loader and libc's start-up would cost both.
# Linked to a temporary file, then copied: the linker writes its output
# through a shared mapping, and the same bytes written with write(2), as
# cp, install or a package manager write a binary, start 0.25 ms faster
# while they are in the page cache (each run of `nsup version` or `nsup
# apply`, measured with the two files' runs interleaved): likely the page
# cache's large folios, which a write(2) gets and the mapping's faults do
# not.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o $(BIN).link ./cmd/nsup
	cp $(BIN).link $(BIN).new && mv -f $(BIN).new $(BIN) && rm -f $(BIN).link

# The whole suite, under 10 minutes on this machine. -p 1: root tests of
# different packages create namespaces and mounts; one package at a time
# keeps the host checks of each test exact.
# CGO_ENABLED=0: the test binaries serve as their own child stage, as
# bin/nsup does, and must be static like it: a stage born in a joined
# mount namespace is executed there, where no dynamic loader may exist
# (archive/tar's os/user would link libc otherwise).
# -timeout is each package's hang guard, not the suite's budget: cmd/nsup
# alone runs ~320 s here, ~450 s under two busy-loop CPU hogs (its longest:
# TestRootDocs's guides, which fill Go's build caches three times cold, and
# the strace tests), near the 9 minutes it had.
test: lint build
	CGO_ENABLED=0 $(GO) test -p 1 -count=1 -timeout 13m $(PKGS)

# Unit tests only: no privilege needed.
test-short:
	CGO_ENABLED=0 $(GO) test -short -count=1 ./spec/... ./planner/... ./schema/...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

# As root, or as a user (rootless: nsup adds a user namespace mapping you
# to root inside, and the plan shows it).
demo: build
	@echo "\$$ nsup plan examples/hello.yaml   (the files of the rootfs left out)"; \
	  $(BIN) plan examples/hello.yaml | grep -v '^ '; echo; \
	  echo "\$$ nsup apply examples/hello.yaml"; $(BIN) apply examples/hello.yaml

# Start-up time against bubblewrap, unshare+chroot, runc and crun, in one
# hyperfine run (needs root; installs nothing: .ci/run or apt-get does).
bench: build
	./scripts/bench.sh

# Long fuzzing: not part of make test.
FUZZTIME ?= 2m
fuzz:
	$(GO) test ./spec -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME)

clean:
	rm -rf bin
