# The two commands of the README, and a few helpers around CMake.
#   make run     install what is missing, build, chat with the bot in the terminal
#   make test    install what is missing, build with sanitizers, run every test
#   make deps    install the Debian and npm packages the build and the tests need
#   make build   build the release binary (nothing is installed)
#   make install build, then install the binary, man pages, units and configuration
#   make deb     build the Debian package into $(DEBBUILD)
#   make format  lay out every C file git tracks as .clang-format says
# Only run and test install packages (make deps); the others expect them.
BUILD      ?= build
TESTBUILD  ?= build-test
FUZZBUILD  ?= build-fuzz
DEBBUILD   ?= build-deb
FUZZ_SECONDS ?= 30
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
PREFIX     ?= /usr/local
DB         ?= ensemble.db

.PHONY: all deps build run test install deb bench fuzz fuzz-build format clean

all: build

deps:
	@bash scripts/deps.sh

build:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=$(PREFIX) \
	  -DENSEMBLE_TESTS=OFF >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

run: deps build
	./$(BUILD)/ensemble --console --db $(DB)

fuzz-build:
	cmake -S fuzz -B $(FUZZBUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug >/dev/null
	cmake --build $(FUZZBUILD) -j $(JOBS)

# Long runs, one target after the other: make fuzz FUZZ_SECONDS=600
fuzz: fuzz-build
	for t in dates command config telegram matrix; do bash scripts/fuzz_one.sh $(FUZZBUILD)/fuzz_$$t fuzz/corpus/$$t $(FUZZ_SECONDS) || exit 1; done

test: deps build fuzz-build
	cmake -S . -B $(TESTBUILD) -DCMAKE_BUILD_TYPE=Debug -DENSEMBLE_WERROR=ON -DENSEMBLE_SANITIZE=ON \
	  -DENSEMBLE_FUZZ_DIR=$(CURDIR)/$(FUZZBUILD) -DENSEMBLE_FUZZ_SECONDS=$(FUZZ_SECONDS) \
	  -DENSEMBLE_RELEASE_BIN=$(CURDIR)/$(BUILD)/ensemble >/dev/null
	cmake --build $(TESTBUILD) -j $(JOBS)
	cd $(TESTBUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS)

install: build
	cmake --install $(BUILD)

deb:
	JOBS=$(JOBS) bash scripts/deb.sh $(DEBBUILD)

bench: build
	bash bench/run.sh $(BUILD)/ensemble

# The files git tracks, so that build directories are left alone; the
# check is tests/scripts/test_format.sh.
format:
	git ls-files '*.c' '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(TESTBUILD) $(FUZZBUILD) $(DEBBUILD)
