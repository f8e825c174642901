# pyrunc: everything a fresh Debian machine needs, installed by the targets that need it.
SHELL := /bin/bash
VENV := .venv
# The venv's interpreter starts on every command: Debian's python3.11 links libpython
# statically and starts about 2 ms (15%) faster than pyenv's shared-library build; never
# build it through pyenv's shim. PYTHON=... overrides.
PYTHON ?= /usr/bin/python3.11
PYRUNC := $(VENV)/bin/pyrunc
APT_PACKAGES := busybox-static runc libseccomp-dev libcap-dev iproute2 python3.11-venv python3-dev gcc libc6-dev
BUNDLES := hello shell readonly
SOURCES := $(shell find pyrunc schema -name '*.py' -o -name '*.c' -o -name '*.h' -o -name '*.json') pyproject.toml setup.py

.PHONY: all deps install bundles run test unit lint bench clean

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
	$(VENV)/bin/pip install -q --disable-pip-version-check setuptools wheel cffi pytest ruff
	$(VENV)/bin/pip install -q --disable-pip-version-check --no-build-isolation .
	$(VENV)/bin/python -I -m pyrunc.launcher $(abspath $(PYRUNC))
	@touch $@

# Example bundles: a busybox-static rootfs, built here rather than committed.
bundles: $(foreach b,$(BUNDLES),bundles/$(b)/rootfs/bin/busybox)
bundles/%/rootfs/bin/busybox: $(VENV)/.apt
	mkdir -p bundles/$*/rootfs/{bin,proc,sys,dev,tmp,etc,root}
	cp /bin/busybox $@
	cd bundles/$*/rootfs/bin && for a in $$(./busybox --list); do [ -e $$a ] || ln -s busybox $$a; done
	echo 'root:x:0:0:root:/root:/bin/sh' > bundles/$*/rootfs/etc/passwd
	echo 'root:x:0:' > bundles/$*/rootfs/etc/group

run: all
	$(PYRUNC) run bundles/hello

test: all
	$(VENV)/bin/ruff check pyrunc tests
	$(VENV)/bin/pytest -q tests

unit: install
	$(VENV)/bin/pytest -q tests/unit

lint: install
	$(VENV)/bin/ruff check pyrunc tests

bench: all
	$(VENV)/bin/python tests/bench.py --pyrunc $(PYRUNC)

clean:
	rm -rf $(VENV) build *.egg-info bundles/*/rootfs
