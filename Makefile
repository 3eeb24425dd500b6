# trainrun — build, test, benchmark.
#
#   make install      put trainrun on PATH: in PREFIX/bin when PREFIX is given,
#                     else where 'go install' puts programs ($GOBIN, or
#                     $GOPATH/bin: usually ~/go/bin)
#   make quickstart   build trainrun and run examples/quickstart end to end
#   make test         every test: unit, fuzz seed corpora, CLI scripts, integration
#   make test-short   the fast path while working: unit tests, fuzz seed corpora
#                     and CLI scripts, without the integration tests (go test -short)
#   make bench        Go benchmarks and whole-command timings beside peers
#   make fuzz         fuzz the configuration loader and snapshot unpacking

GO      ?= go
BIN     := bin/trainrun
FUZZTIME ?= 60s

.PHONY: build install test test-short lint bench fuzz quickstart clean

build:
	$(GO) build -o $(BIN) ./cmd/trainrun

# PREFIX=~/.local puts it in ~/.local/bin; sudo make install PREFIX=/usr/local
# in /usr/local/bin. DESTDIR is prepended, for packagers.
install: build
	@if [ -n "$(PREFIX)" ]; then dir="$(DESTDIR)$(PREFIX)/bin"; \
	else dir=$$($(GO) env GOBIN); [ -n "$$dir" ] || dir="$$($(GO) env GOPATH)/bin"; dir="$(DESTDIR)$$dir"; fi; \
	mkdir -p "$$dir" && install -m 0755 $(BIN) "$$dir/trainrun" && echo "installed $$dir/trainrun"; \
	case ":$$PATH:" in *":$$dir:"*) ;; *) echo "$$dir is not on your PATH: add it (export PATH=\"$$dir:\$$PATH\" in ~/.profile), or install with PREFIX=DIR";; esac

quickstart: build
	cd examples/quickstart && ../../$(BIN) apply -auto-approve && ../../$(BIN) status

# One package, cmd/trainrun, holds the end-to-end tests: about 12 minutes on
# an idle 2-core machine, past 30 on a busy one (load 30), hence the timeout.
test: lint
	./scripts/test-deps.sh
	$(GO) test -timeout 60m -count=1 ./...

# Not for CI: -short skips the tests that start sshd, Slurm, PostgreSQL,
# podman, venvs or Chromium, and the kill tests (.ci/run runs make test).
test-short: lint
	$(GO) test -short -timeout 30m -count=1 ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

bench: build
	$(GO) test -run '^$$' -bench . -benchmem -count=1 -timeout 60m ./...
	./scripts/bench.sh
	./scripts/bench-env.sh
	./scripts/bench-concurrent.sh
	./scripts/bench-state.sh

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(FUZZTIME) ./lang
	$(GO) test -run '^$$' -fuzz '^FuzzFormat$$' -fuzztime $(FUZZTIME) ./lang
	$(GO) test -run '^$$' -fuzz '^FuzzMaterialize$$' -fuzztime $(FUZZTIME) ./snapshot

clean:
	rm -rf bin
