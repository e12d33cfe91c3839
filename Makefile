# goldenpath: every target uses its own virtual environment in .venv.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# torch's CPU build comes from PyTorch's own CPU wheel index (or a mirror of it).
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
# checkov pins a boto3 older than the kit's, so it gets an environment of its own (tests/infra).
CHECKOV := .venv-checkov/bin/checkov

.PHONY: install demo test test-fast lint bench bake clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch's CPU build first, from PyTorch's own CPU wheel index: the same release from the
	# default index is the CUDA build (several GB), and `+cpu` exists only on that index.
	$(PY) -m pip install -q --no-deps --index-url $(TORCH_INDEX) 'torch==2.13.0+cpu'
	$(PY) -m pip install -q -e '.[dev]'
	# Mermaid's own parser, to check every diagram in the READMEs (skipped without npm).
	-command -v npm > /dev/null && npm ci --prefix tools/mermaid-check --no-audit --no-fund --silent
	@touch $(STAMP)

$(CHECKOV):
	$(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/python -m pip install -q 'checkov>=3.2,<4'

install: $(STAMP) $(CHECKOV)

demo: $(STAMP)
	$(PY) -m goldenpath.demo

test: $(STAMP) $(CHECKOV)
	$(PY) -m ruff check src tests bench infra chassis
	$(PY) -m ruff format --check chassis
	$(PY) -m mypy chassis/goldenpath_chassis src/goldenpath
	$(PY) -m pytest

test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow and not integration"

lint: $(STAMP)
	$(PY) -m ruff check src tests bench infra chassis
	$(PY) -m ruff format --check src tests bench infra chassis
	$(PY) -m mypy chassis/goldenpath_chassis src/goldenpath

bench: $(STAMP)
	$(PY) -m bench --check
	$(PY) bench/rag/rag_bench.py
	$(PY) bench/agent/agent_bench.py
	$(PY) bench/infra/stack_bench.py

bake: $(STAMP)
	$(VENV)/bin/goldenpath bake

clean:
	rm -rf build .venv .venv-checkov
