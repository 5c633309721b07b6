# lifedl: `make run` runs the whole workflow on the embedded default data; `make test` runs the tests.
# Both create .venv with the pinned versions of requirements.lock on first use.
# `make bench` runs benchmarks/ (see benchmarks/README.md) in .venv-bench: requirements.lock plus the bench
# extra pinned in requirements-bench.lock (scvi-tools), kept apart so the workflow's environment stays the lock.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= 2
PORT ?= 5000
SNAKEMAKE_ARGS ?=
# DATASETS=janggu_oct4_mafk,freesolv: run these rows of config/datasets.tsv instead of the default ones
DATASETS ?=
# Snakemake keeps only the last --config option: DATASETS joins one given in SNAKEMAKE_ARGS instead of replacing it.
DATASET_CONFIG := 'datasets=[$(DATASETS)]'
ifneq ($(DATASETS),)
ifneq ($(findstring --config,$(SNAKEMAKE_ARGS)),)
override SNAKEMAKE_ARGS := $(subst --config,--config $(DATASET_CONFIG),$(SNAKEMAKE_ARGS))
DATASET_ARGS :=
else
DATASET_ARGS := --config $(DATASET_CONFIG)
endif
endif
BENCH_VENV := .venv-bench
BENCH_BIN := $(BENCH_VENV)/bin
BENCH_STAMP := $(BENCH_VENV)/.installed
# Extra arguments per benchmark, e.g. SAME_MODEL_ARGS="--threads 1" SCALING_ARGS="--sizes 10000 100000".
# pbmc68k_reduced trains scVI's 400 epochs; the 20k simulated cells SIM_EPOCHS (scVI's rule, 400, takes 45 min).
SIM_EPOCHS ?= 100
WORKFLOW_RULES_ARGS ?=
SAME_MODEL_ARGS ?=
SCALING_ARGS ?=
# The real-size workflow run: sim_10k by default; WORKFLOW_SCALE_ARGS="--datasets sim_100k" adds 100k cells (most of
# an hour; the tables keep the rows of the data sets not run).
WORKFLOW_SCALE_ARGS ?=
# with the 100k set: EMBED_PROFILE_ARGS="--datasets sim_10k sim_100k"
EMBED_PROFILE_ARGS ?=
# copied next to docs/performance.md, which shows them (results/ is not in git)
BENCH_FIGURES := same_model.png scaling.png workflow_rules.png

.PHONY: run reproduce docs test dry-run report mlflow-ui lint clean venv bench bench-venv

venv: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	# torch first, pinned: the local CPU wheel (an unpinned torch pulls gigabytes of CUDA).
	$(BIN)/python -m pip install --quiet "torch==2.13.0"
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	# numba's code for the neighbour graph and UMAP compiled into its cache once here, not by the first embed jobs of
	# every fresh installation (30-40 s a job); lifedl's own bytecode likewise
	$(BIN)/python -c "from lifedl.tl.cluster import compile_numba_caches; compile_numba_caches()"
	$(BIN)/python -m compileall -q src/lifedl
	touch $(STAMP)

run: $(STAMP)
	scripts/timed-run.sh $(BIN)/snakemake $(CORES) --configfile config/make_run.yaml $(DATASET_ARGS) $(SNAKEMAKE_ARGS)

# The default run plus the experiments it leaves out for time (config/reproduce.yaml), with scvi-tools' peers
# (SCVI, TOTALVI) run in .venv-bench, scvi-tools' own pinned environment (lifedl.models.peers).
reproduce: $(STAMP) $(BENCH_STAMP)
	RUN_RECORD=results/make_reproduce.tsv LIFEDL_PEER_PYTHON=$(abspath $(BENCH_BIN))/python scripts/timed-run.sh $(BIN)/snakemake $(CORES) --configfile config/reproduce.yaml $(DATASET_ARGS) $(SNAKEMAKE_ARGS)

# docs/results.md from the finished run's results files (the template: docs/results.md.in).
docs: $(STAMP)
	$(BIN)/python benchmarks/workflow_rules.py
	$(BIN)/python scripts/render_results.py

dry-run: $(STAMP)
	$(BIN)/snakemake -n --cores $(CORES) $(SNAKEMAKE_ARGS)

report: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) --report results/report.zip $(SNAKEMAKE_ARGS)

test: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -ra $(PYTEST_ARGS)

# ruff (lint and format), snakefmt and Snakemake's own linter; CI runs it before the tests.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check Snakefile workflow/rules
	$(BIN)/snakemake --lint

# Open the printed link: it shows the runs table (MLflow 3 otherwise opens on its GenAI overview).
mlflow-ui: $(STAMP)
	@echo "MLflow UI: http://127.0.0.1:$(PORT)/#/experiments?workflowType=machine_learning"
	MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false $(BIN)/mlflow ui --backend-store-uri sqlite:///results/mlflow.db --host 127.0.0.1 --port $(PORT) --workers 1

$(BENCH_STAMP): requirements.lock requirements-bench.lock pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_BIN)/python -m pip install --quiet --upgrade "pip>=24"
	# torch first, pinned, as for .venv: nothing in the bench extra may pull a CUDA build.
	$(BENCH_BIN)/python -m pip install --quiet "torch==2.13.0"
	$(BENCH_BIN)/python -m pip install --quiet -r requirements.lock -r requirements-bench.lock
	$(BENCH_BIN)/python -m pip install --quiet --no-deps -e .
	touch $(BENCH_STAMP)

bench-venv: $(BENCH_STAMP)

# Writes results/benchmarks/*.tsv and *.png, then docs/performance.md from them (template docs/performance.md.in).
# Cheapest first; the rule table and wnn_muon read the files of a finished `make run`.
bench: $(BENCH_STAMP)
	$(BENCH_BIN)/python benchmarks/environment.py
	$(BENCH_BIN)/python benchmarks/workflow_rules.py $(WORKFLOW_RULES_ARGS)
	$(BENCH_BIN)/python benchmarks/same_model.py --replace --datasets pbmc68k_reduced $(SAME_MODEL_ARGS)
	$(BENCH_BIN)/python benchmarks/same_model.py --datasets simulated --epochs $(SIM_EPOCHS) $(SAME_MODEL_ARGS)
	$(BENCH_BIN)/python benchmarks/step_profile.py
	$(BENCH_BIN)/python benchmarks/data_parallel.py $(DATA_PARALLEL_ARGS)
	$(BENCH_BIN)/python benchmarks/out_of_core.py $(OUT_OF_CORE_ARGS)
	$(BENCH_BIN)/python benchmarks/scaling.py $(SCALING_ARGS)
	$(BENCH_BIN)/python benchmarks/workflow_scale.py $(WORKFLOW_SCALE_ARGS)
	$(BENCH_BIN)/python benchmarks/embed_profile.py $(EMBED_PROFILE_ARGS)
	$(BENCH_BIN)/python benchmarks/wnn_muon.py
	mkdir -p docs/performance && cp $(addprefix results/benchmarks/,$(BENCH_FIGURES)) docs/performance/
	$(BENCH_BIN)/python scripts/render_results.py --template docs/performance.md.in --output docs/performance.md

clean:
	rm -rf results .snakemake
