# mmgan: the two commands a newcomer needs are `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.mmgan-installed

.PHONY: demo test install clean-demo

# Create or reuse .venv; torch 2.13.0 first when it can be had (CPU wheel), else plain torch.
# The stamp depends on pyproject.toml, so a second run does no work already done.
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q "torch==2.13.0" || $(PY) -m pip install -q torch
	$(PY) -m pip install -q -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m mmgan.demo --out demo

# lint-imports checks the layering contracts in pyproject.toml ([tool.importlinter]) before the tests run.
test: $(STAMP)
	$(VENV)/bin/lint-imports
	$(PY) -m pytest tests -x --timeout 900

clean-demo:
	rm -rf demo
