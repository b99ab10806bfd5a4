# make demo | make test | make bench — each sets up .venv first (idempotent, quick when done).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The CPU build of torch lies on local disk here; a bare `pip install torch` elsewhere would
# pull a multi-GB CUDA build, so torch is installed first, alone, from that folder.
TORCH_WHEELS ?= /opt/wheels
TORCH_FIND := $(if $(wildcard $(TORCH_WHEELS)),--find-links $(TORCH_WHEELS),)

.PHONY: setup demo test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/pip install --quiet $(TORCH_FIND) torch==2.13.0
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	# mediapipe's metadata pulls jax (~600 MB) and a GUI OpenCV that clobbers the headless
	# one; what it imports is in pyproject. 0.10.14 is the last version with its models inside.
	$(BIN)/pip install --quiet --no-deps mediapipe==0.10.14
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/doppel demo -o doppel-demo

test: setup
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/doppel bench

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache
