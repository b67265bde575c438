# The README's two commands: `make demo` and `make test`. Both set up .venv from the
# repo's own files first (setup.cfg), so they work on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
# MovieLens files for offline use; empty means TFDS downloads them.
MOVIELENS_DIR ?= $(wildcard $(CURDIR)/../shared/data/movielens)
export RECSYS_MOVIELENS_DIR ?= $(MOVIELENS_DIR)
PYTEST_ARGS ?=

.PHONY: setup demo test lint clean

setup: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	@echo "Installing TensorFlow, TFRS, ScaNN and the rest into $(VENV): about a minute with a warm pip cache, several minutes cold"
	$(VENV)/bin/python -m pip install --progress-bar on -e '.[dev]'
	touch $@

# The main job: train retrieval and ranking, export (ScaNN, brute force, ranking, composite
# recommender), serve them over TensorFlow Serving's gRPC API on loopback, recommend, stop.
demo: setup
	$(VENV)/bin/recsys demo

# ruff (configured in pyproject.toml): lint and formatting, no file changed.
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# pytest's exit code 5 (no tests collected) fails too, and says so.
test: setup
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests: failing" >&2; fi; exit $$rc

clean:
	rm -rf $(VENV) results models *.egg-info
