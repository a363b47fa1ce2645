# edge-counter: make setup | demo | lint | test | bench | bench-central
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
EDGE   := $(VENV)/bin/edge
DATA   ?= $(or $(EDGE_DATA_DIR),../shared/data)
VIDEO  ?= $(DATA)/footage/pets09-s2l1/video.avi

.PHONY: setup setup-test demo lint test bench bench-central soak clean

$(VENV)/.installed: pyproject.toml
	scripts/system-deps.sh runtime
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

setup: $(VENV)/.installed

setup-test: setup
	scripts/system-deps.sh test

demo: setup
	$(EDGE) count $(VIDEO) --line v240:240,60,240,330 --line h150:0,150,480,150 --db var/demo.sqlite

lint: setup
	$(VENV)/bin/ruff check edge models sync provisioning tests
	$(VENV)/bin/mypy

test: setup-test lint
	$(PY) -m pytest -q

bench: setup-test
	$(PY) -m tests.bench.inference --video $(VIDEO)
	$(PY) -m tests.bench.live --video $(VIDEO)
	$(PY) -m tests.bench.web --video $(VIDEO)
	$(PY) -m tests.bench.sync

bench-central: setup-test
	$(PY) -m tests.bench.central
	$(PY) -m tests.bench.daily

soak: setup-test
	$(PY) -m tests.bench.soak --video $(VIDEO)

clean:
	rm -rf $(VENV) var build *.egg-info
