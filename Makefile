# The two commands of the README, and the steps under them. Every target installs what it needs
# first (scripts/install-deps.sh skips what is present).
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps build demo test test-unit test-integration bench clean image

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

# Everything: unit tests, integration tests against the real binary, end-to-end tests with the
# official SDKs. Ends with ctest's summary line.
test: deps-test $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)
	cd $(BUILD_DIR) && ctest --output-on-failure -j 2 --timeout 600

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
	rm -rf $(BUILD_DIR)
