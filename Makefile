# edge-counter: make setup | demo | lint | test | accuracy | anchor | bench | bench-central
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
EDGE   := $(VENV)/bin/edge
DATA   ?= $(or $(EDGE_DATA_DIR),../shared/data)
VIDEO  ?= $(DATA)/footage/pets09-s2l1/video.avi

.PHONY: setup setup-test demo lint test accuracy anchor bench bench-central soak clean

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

test: setup-test $(VENV)/.anchor lint
	$(PY) -m pytest -q

accuracy: setup
	$(EDGE) eval --suite tests/accuracy/suite.toml

# The anchor (docs/accuracy.md): supervision ByteTrack + LineZone on the suite, next to ours in the same run.
# supervision is the benchmark-only `anchor` extra, never part of the product. 0.30.x needs no OpenCV wheel
# (it imports the product's headless cv2); should a release ever pull in the GUI opencv-python, stop here.
$(VENV)/.anchor: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install -q -e '.[anchor]'
	! $(PY) -m pip show -q opencv-python 2>/dev/null || { echo "error: the anchor extra pulled in opencv-python" \
	  "(GUI build): pip uninstall -y opencv-python, then pip install --force-reinstall opencv-python-headless"; exit 1; }
	touch $@

anchor: $(VENV)/.anchor
	$(PY) -m tests.bench.anchor

bench: setup-test
	$(PY) -m tests.bench.inference --video $(VIDEO)
	EDGE_DATA_DIR=$(DATA) $(EDGE) models quantize
	$(PY) -m tests.bench.live --mix busy --mix typical --mix street --variant before --variant now --variant whole --variant int8 --variant batches
	$(PY) -m tests.bench.web --video $(VIDEO)
	$(PY) -m tests.bench.sync

bench-central: setup-test
	$(PY) -m tests.bench.central
	$(PY) -m tests.bench.daily
	$(PY) -m tests.bench.central_citus

soak: setup-test
	$(PY) -m tests.bench.soak --video $(VIDEO)

clean:
	rm -rf $(VENV) var build *.egg-info
