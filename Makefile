# lifedl: `make run` runs the whole workflow on the embedded default data; `make test` runs the tests.
# Both create .venv with the pinned versions of requirements.lock on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= 2
SNAKEMAKE_ARGS ?=

.PHONY: run test dry-run report mlflow-ui lint clean venv

venv: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	# torch first, pinned: the local CPU wheel (an unpinned torch pulls gigabytes of CUDA).
	$(BIN)/python -m pip install --quiet "torch==2.13.0"
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) $(SNAKEMAKE_ARGS)

dry-run: $(STAMP)
	$(BIN)/snakemake -n --cores $(CORES) $(SNAKEMAKE_ARGS)

report: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) --report results/report.zip $(SNAKEMAKE_ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest -ra $(PYTEST_ARGS)

mlflow-ui: $(STAMP)
	MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false $(BIN)/mlflow ui --backend-store-uri sqlite:///results/mlflow.db --host 127.0.0.1 --port 5000 --workers 1

clean:
	rm -rf results .snakemake
