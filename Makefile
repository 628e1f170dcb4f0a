# The two commands of the README, and the steps under them. Every target installs what it needs
# first (scripts/install-deps.sh skips what is present).
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

# Sanitizer, fuzzing and lint modes (docs/development.md, docs/fuzzing.md); the build dirs and
# compiler flags are the presets in CMakePresets.json.
ASAN_DIR := build-asan
TSAN_DIR := build-tsan
FUZZ_SECONDS ?= 20
# Reports name source lines (llvm-symbolizer from llvm-14) and stop at the first finding.
SAN_ENV := PATH="$$PATH:/usr/lib/llvm-14/bin" \
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
# ThreadSanitizer runs what is concurrent: every gtest (the limiter and its stores, CEL programs
# shared by threads, the credential cache, the trace exporter; gtest names start upper-case), and
# the integration tests that drive the gateway's event loops, upstream pools, limiter, metrics
# shards and reload path through the real binary.
TSAN_TESTS := ^[A-Z]|^integration\.(ratelimit|ratelimit_redis|fallback|observability|streaming)$$

.PHONY: all deps build demo test test-quick test-unit test-integration test-asan test-tsan \
        build-asan build-tsan fuzz lint bench clean image

all: build

deps:
	@bash scripts/install-deps.sh build

deps-test:
	@bash scripts/install-deps.sh test

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja $(CMAKE_FLAGS)

build: deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)

demo: build
	$(BUILD_DIR)/tollgate demo

# Everything CI runs: unit tests, integration tests against the real binary, end-to-end tests
# with the official SDKs (GCC build); then the clang build under ASan+UBSan: clang-tidy, the fuzz
# targets, ThreadSanitizer over the concurrent tests, and the whole suite again under ASan+UBSan.
# Ends with ctest's summary line.
test: test-quick
	$(MAKE) --no-print-directory build-asan
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory fuzz
	$(MAKE) --no-print-directory test-tsan
	$(MAKE) --no-print-directory test-asan

# The GCC build and the whole suite once, without the sanitizer and fuzzing stages.
test-quick: deps-test $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)
	cd $(BUILD_DIR) && ctest --output-on-failure -j 2 --timeout 600

$(ASAN_DIR)/build.ninja:
	cmake --preset asan

build-asan: deps-test $(ASAN_DIR)/build.ninja
	cmake --build $(ASAN_DIR) -j $(JOBS)

# The whole suite (unit, redis, integration, e2e, fuzz corpus replay) under ASan+UBSan with leak
# detection; a report in any process, gateway children included, fails it.
test-asan: build-asan
	cd $(ASAN_DIR) && $(SAN_ENV) ctest --output-on-failure -j 2 --timeout 900

$(TSAN_DIR)/build.ninja:
	cmake --preset tsan

build-tsan: deps-test $(TSAN_DIR)/build.ninja
	cmake --build $(TSAN_DIR) -j $(JOBS) --target unit_tests tollgate

test-tsan: build-tsan
	cd $(TSAN_DIR) && $(SAN_ENV) ctest --output-on-failure -j 2 --timeout 900 \
	  -R '$(TSAN_TESTS)'

# Every libFuzzer target for FUZZ_SECONDS on its seed corpus plus what it finds.
fuzz: build-asan
	FUZZ_BUILD_DIR=$(ASAN_DIR) bash tests/fuzz/run.sh $(FUZZ_SECONDS)

# clang-tidy on the C++ files changed since the merge base with main; in CI (CI=true), on the
# files of the commit or merge under test (HEAD~1); TIDY=--all: every file.
lint: $(ASAN_DIR)/build.ninja
	TIDY_BUILD_DIR=$(ASAN_DIR) bash scripts/clang-tidy.sh $(or $(TIDY),$(if $(CI),HEAD~1,main))

test-unit: build
	cd $(BUILD_DIR) && ctest --output-on-failure -L unit

test-integration: deps-test build
	cd $(BUILD_DIR) && ctest --output-on-failure -L 'integration|e2e'

bench: build
	@bash scripts/install-deps.sh bench
	bash bench/load/run.sh

# The container image (deploy/Dockerfile) with docker or podman, whichever engine answers; without
# one, a message and success, so machines without a container engine can run every target.
IMAGE ?= tollgate:$(shell grep -m1 -o 'tollgate VERSION [0-9.]*' CMakeLists.txt | cut -d' ' -f3)
image:
	@engine=""; \
	for e in docker podman; do \
	  if command -v $$e >/dev/null 2>&1 && $$e info >/dev/null 2>&1; then engine=$$e; break; fi; \
	done; \
	if [ -z "$$engine" ]; then \
	  echo "make image: skipped: no container engine answers ('docker info' and 'podman info' failed)"; \
	  exit 0; \
	fi; \
	echo "make image: building $(IMAGE) with $$engine"; \
	$$engine build -f deploy/Dockerfile -t $(IMAGE) .

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR) $(TSAN_DIR)
