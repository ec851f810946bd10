# Veltrix: `make run` starts the all-in-one server, `make test` runs the suite.
# Both install what they need first (librocksdb-dev, via apt-get) when missing.

GO        ?= go
BIN       := bin/veltrix
CONFIG    ?= configs/dev.yaml
# Packages with goroutines of their own: tested under the race detector.
RACE_PKGS := ./engine/admin/... ./engine/core/... ./engine/gateway/... ./engine/runner/... ./engine/store/... ./engine/lua/... ./engine/app/...

.PHONY: all deps build run test test-race test-kafka vet fmt bench kafka-up kafka-down clean

all: build

# librocksdb-dev: Debian's RocksDB 7.8, which github.com/linxGnu/grocksdb v1.7.15 builds against.
deps:
	@if ! [ -f /usr/include/rocksdb/c.h ]; then \
		echo "installing librocksdb-dev (RocksDB headers and library)"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq librocksdb-dev; \
	fi

build: deps
	$(GO) build -o $(BIN) ./cmd/veltrix

run: build
	./$(BIN) run --config $(CONFIG)

vet: deps
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }

test: deps vet
	$(GO) test -count=1 ./...
	$(GO) test -count=1 -race $(RACE_PKGS)

# The integration suite against a real Apache Kafka broker (scripts/kafka.sh).
test-kafka: deps kafka-up
	TEST_KAFKA_BROKERS=127.0.0.1:$${KAFKA_PORT:-9092} $(GO) test -count=1 -run . -v ./engine/kafka/ ./cmd/veltrix/

bench: deps
	$(GO) test -run='^$$' -bench=. -benchmem ./...

kafka-up:
	scripts/kafka.sh up

kafka-down:
	scripts/kafka.sh down

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin data data-kafka
