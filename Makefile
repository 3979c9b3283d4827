# The two commands of the README, and a few helpers around CMake.
#   make run    install what is missing, build, chat with the bot in the terminal
#   make test   install what is missing, build with sanitizers, run every test
BUILD      ?= build
TESTBUILD  ?= build-test
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
PREFIX     ?= /usr/local
DB         ?= ensemble.db

.PHONY: all deps build run test install bench clean

all: build

deps:
	@bash scripts/deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

run: build
	./$(BUILD)/ensemble --console --db $(DB)

test: deps
	cmake -S . -B $(TESTBUILD) -DCMAKE_BUILD_TYPE=Debug -DENSEMBLE_WERROR=ON -DENSEMBLE_SANITIZE=ON >/dev/null
	cmake --build $(TESTBUILD) -j $(JOBS)
	cd $(TESTBUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS)

install: build
	cmake --install $(BUILD)

bench: build
	bash bench/run.sh $(BUILD)/ensemble

clean:
	rm -rf $(BUILD) $(TESTBUILD)
