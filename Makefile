# Solas: two commands do all the set-up on a fresh machine.
#   make demo   install, start the local stack, run the worker, replay the real sample alerts
#   make test   install, start what the tests need, run the whole suite
PYTHON ?= python3.11
VENV := .venv
SOLAS := $(VENV)/bin/solas
export SOLAS_HOME ?= $(CURDIR)/.solas
PYTEST_ARGS ?=

.PHONY: install demo test unit integration down clean

# The C Avro decoder is compiled by pip: a C compiler and Python's headers come first.
HAVE_BUILD_TOOLS := command -v cc >/dev/null && $(PYTHON) -c "import os, sysconfig, sys; \
	sys.exit(not os.path.exists(sysconfig.get_path('include') + '/Python.h'))"

$(VENV)/.installed: pyproject.toml setup.py solas/surveys/_avro_reader.c
	$(HAVE_BUILD_TOOLS) || { echo "installing gcc and python3-dev (needs root)"; \
	  apt-get update && apt-get install -y gcc python3-dev; }
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $@

# Python packages into .venv, Debian packages (apt-get) and the Kafka/Cassandra jars (Maven).
install: $(VENV)/.installed
	$(SOLAS) stack install

demo: install
	$(SOLAS) demo

test: install
	$(VENV)/bin/python -m pytest -ra $(PYTEST_ARGS) tests

unit: $(VENV)/.installed
	$(VENV)/bin/python -m pytest -ra tests/unit

integration: install
	$(VENV)/bin/python -m pytest -ra tests/integration

down:
	$(SOLAS) stack down

clean: down
	rm -rf $(SOLAS_HOME) .solas-test
