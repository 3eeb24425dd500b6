# trainrun — build, test, benchmark.
#
#   make quickstart   build trainrun and run examples/quickstart end to end
#   make test         every test: unit, fuzz seed corpora, CLI scripts, integration
#   make bench        Go benchmarks and whole-command timings beside peers
#   make fuzz         fuzz the configuration loader and snapshot unpacking

GO      ?= go
BIN     := bin/trainrun
FUZZTIME ?= 60s

.PHONY: build test lint bench fuzz quickstart clean

build:
	$(GO) build -o $(BIN) ./cmd/trainrun

quickstart: build
	cd examples/quickstart && ../../$(BIN) apply -auto-approve && ../../$(BIN) status

test: lint
	./scripts/test-deps.sh
	$(GO) test -timeout 30m -count=1 ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

bench: build
	$(GO) test -run '^$$' -bench . -benchmem -count=1 -timeout 60m ./...
	./scripts/bench.sh
	./scripts/bench-env.sh

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(FUZZTIME) ./lang
	$(GO) test -run '^$$' -fuzz '^FuzzFormat$$' -fuzztime $(FUZZTIME) ./lang
	$(GO) test -run '^$$' -fuzz '^FuzzMaterialize$$' -fuzztime $(FUZZTIME) ./snapshot

clean:
	rm -rf bin
