# The two commands of the README:
#   make run    install what is missing, build, run experiments/quickstart.toml
#   make test   install what is missing, build, run every test through ctest
# Both are idempotent: with nothing changed they only check and return.
.PHONY: run test build setup clean sanitize fuzz

JOBS ?= $(shell nproc)

setup:
	@ci/setup.sh

# The preset reads the LibTorch prefix from SWAV_TORCH_PREFIX. `make build` builds everything
# (tests, benchmarks, the sanitized readers); `make run` only the programs a user runs.
APPS = run_experiment make_tables export_weights
configure_and_build = export SWAV_TORCH_PREFIX="$$(ci/setup.sh --torch-prefix | tail -n 1)"; \
	  { [ -f build/build.ninja ] || cmake --preset default; } && cmake --build --preset default -j $(JOBS)

build: setup
	@$(configure_and_build)

run: setup
	@$(configure_and_build) --target $(APPS)
	build/bin/run_experiment experiments/quickstart.toml

test: build
	ctest --preset default -j $(JOBS)

# AddressSanitizer + UndefinedBehaviorSanitizer (clang) build, its unit tests and a short run of
# every fuzz target (docs/RELIABILITY.md). `make fuzz SECONDS=3600` fuzzes each target for longer.
sanitize:
	@ci/setup.sh --sanitize
	@export SWAV_TORCH_PREFIX="$$(ci/setup.sh --torch-prefix | tail -n 1)"; \
	  { [ -f build-sanitize/build.ninja ] || cmake --preset sanitize; } && \
	  cmake --build --preset sanitize -j $(JOBS) && ctest --preset sanitize -j $(JOBS)

SECONDS ?= 60
fuzz:
	@ci/fuzz.sh $(SECONDS)

clean:
	rm -rf build build-sanitize
