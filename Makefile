# Two commands on a fresh clone (Python >= 3.10):
#   make demo   install into .venv and run the main job (rnncli train)
#   make test   install into .venv with the dev extras and run the tests
# and the documentation site (docs/, mkdocs.yml):
#   make docs   install into .venv with the docs extra and build the site into site/
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint docs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -qq --upgrade pip

$(VENV)/.demo: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -qq -e '.[plot]'
	touch $@

$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -qq -e '.[plot,dask,fast,tensorboard,mlflow,onnx,dev]'
	touch $@

demo: $(VENV)/.demo
	$(BIN)/rnncli train
	@echo
	@echo "rnncli is installed in $(VENV); to have it on your PATH in this shell:"
	@echo "  source $(VENV)/bin/activate"

test: $(VENV)/.dev
	$(BIN)/python -m pytest -q

$(VENV)/.docs: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -qq -e '.[docs]'
	touch $@

docs: $(VENV)/.docs
	NO_MKDOCS_2_WARNING=1 $(BIN)/python -m mkdocs build --strict -q -d site

lint: $(VENV)/.dev
	$(BIN)/ruff check rnncli tests benchmarks
	$(BIN)/mypy rnncli

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
