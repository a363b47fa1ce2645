# edge-counter: make setup | demo | test | bench | bench-central
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
EDGE   := $(VENV)/bin/edge
DATA   ?= $(or $(EDGE_DATA_DIR),../shared/data)
VIDEO  ?= $(DATA)/footage/pets09-s2l1/video.avi

.PHONY: setup setup-test demo test bench bench-central soak clean

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

test: setup-test
	$(PY) -m pytest -q

bench: setup-test
	$(PY) -m edge.bench --video $(VIDEO)
	$(PY) -m edge.bench_live --video $(VIDEO)
	$(PY) -m sync.bench_sync

bench-central: setup-test
	$(PY) -m sync.bench_central
	$(PY) -m sync.bench_daily

soak: setup-test
	$(PY) -m edge.bench_soak --video $(VIDEO)

clean:
	rm -rf $(VENV) var build *.egg-info
