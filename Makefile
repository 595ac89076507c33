# The two commands of the README do all of their own set-up on a fresh Debian machine (as root):
#   make demo   the main job
#   make test   the test suite
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# torch 2.14.1 / torchvision 0.29.1 are the builds this project is tested with; pyproject.toml keeps open ranges.
TORCH := torch==2.14.1 torchvision==0.29.1
DEBIAN_PACKAGES := dataset-fashion-mnist wordnet-base
DEBIAN_TEST_PACKAGES := chromium

.PHONY: demo test test-all setup system-deps system-test-deps clean

demo: setup
	$(PY) -m ilsvrc demo

test: setup system-test-deps
	$(PY) -m pytest -q

test-all: setup system-test-deps
	$(PY) -m pytest -q -m "slow or not slow"

setup: system-deps $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

# Debian packages: the embedded datasets. `apt-get update` runs once, only when something is missing.
system-deps:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages: $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

system-test-deps:
	@missing=$$(for p in $(DEBIAN_TEST_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages: $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

clean:
	rm -rf $(VENV) runs .pytest_cache
