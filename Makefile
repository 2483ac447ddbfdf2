# Two commands for students and CI: `make lab` and `make test`. Everything else is for instructors/authors.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(abspath $(VENV))/bin
STAMP := $(VENV)/.installed
NB ?= notebooks/*.ipynb
JOBS ?= 2
SUBMISSIONS ?= submissions

# The UD corpora: an explicit LECTURE_DATA_DIR wins, else the project's shared copy when it is there,
# else the download cache under data/ (see lecture_utils/data/ud.py).
SHARED_UD := $(abspath ../shared/data/ud)
LECTURE_DATA_DIR ?= $(if $(wildcard $(SHARED_UD)/MANIFEST.md),$(SHARED_UD),)
export LECTURE_DATA_DIR
# Small models: one torch thread per process, idle threads do not spin; the numeric path pinned to AVX2, so that
# every x86-64 CPU computes the same bits (README, "Speed and determinism"). The course kernel of `make lab`,
# environment.yml and the grader carry the same settings (tools/lab_environment.py, KERNEL_ENV).
RUN_ENV := OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE \
	ATEN_CPU_CAPABILITY=avx2 MKL_CBWR=AVX2 ONEDNN_MAX_CPU_ISA=AVX2 OPENBLAS_CORETYPE=Haswell \
	NPY_DISABLE_CPU_FEATURES=X86_V4,AVX512_ICL,AVX512_SPR PATH="$(BIN):$$PATH"

.PHONY: venv lab test test-other-path test-gpu execute bench lint mutate release grade lock clean

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt tools/lab_environment.py
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (RNN lecture)" >/dev/null
	$(BIN)/python -m tools.lab_environment $(VENV)
	@touch $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab --ServerApp.root_dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root)

test: $(STAMP)
	$(RUN_ENV) $(BIN)/python -m pytest -n $(JOBS) --dist loadfile \
		--nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg \
		tests notebooks

# Strict nbval of NB on a deliberately different numeric path (ATen's kernels at their lowest level, the other
# pins kept): a stand-in for another CPU. A failing cell compares a trained number, or states a claim too close to
# its threshold (docs/authoring.md, "Outputs and nbval"). Not part of `make test`.
test-other-path: $(STAMP)
	$(RUN_ENV) ATEN_CPU_CAPABILITY=default $(BIN)/python -m pytest -n $(JOBS) --dist loadfile \
		--nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg $(NB)

# On a machine with a CUDA GPU (instructors; see docs/colab.md): every notebook in full size with its GPU
# configuration (CONFIG reads DEVICE), checked with --nbval-lax: only cells tagged `nbval-check-output`
# (device-independent results) are compared, every cell must run without an error. Prints each
# notebook's time. GPU_PYTHON=/path/to/python uses another interpreter with a CUDA torch and the dev extras.
GPU_PYTHON ?=
test-gpu: $(if $(GPU_PYTHON),,$(STAMP))
	@py="$(or $(GPU_PYTHON),$(BIN)/python)"; \
	$$py -c "import sys, torch; sys.exit(None if torch.cuda.is_available() else 'test-gpu: torch sees no CUDA device')" || exit 1; \
	status=0; for nb in $(NB); do start=$$(date +%s); \
		$(RUN_ENV) LECTURE_FAST=0 PYTHONPATH="$(CURDIR)" $$py -m pytest -q --nbval-lax --nbval-current-env \
			--nbval-sanitize-with tests/nbval_sanitize.cfg "$$nb" || status=1; \
		echo "test-gpu: $$nb: $$(( $$(date +%s) - start )) s"; done; exit $$status

execute: $(STAMP)
	$(RUN_ENV) $(BIN)/python -m tools.execute_notebooks $(NB)

bench: $(STAMP)
	@mkdir -p build/bench
	@for f in benchmarks/bench_*.py; do echo "== $$f"; $(RUN_ENV) $(BIN)/python $$f || exit 1; done

lint: $(STAMP)
	$(BIN)/ruff check lecture_utils tests benchmarks tools notebooks

# Mutation testing (docs/authoring.md, "Mutation testing"; not part of `make test`): mutmut mutates the
# modules listed in pyproject's [tool.mutmut] and runs, for each mutant, the selected unit tests that call
# the mutated function; prints the score per module. A fresh run each time (mutants/ is git-ignored, the log
# goes to build/mutmut.log); MUTATE_JOBS workers (1 by default, niced: the machine is shared).
MUTATE_JOBS ?= 1
mutate: $(STAMP)
	rm -rf mutants && mkdir -p build
	$(RUN_ENV) nice -n 10 $(BIN)/mutmut run --max-children $(MUTATE_JOBS) > build/mutmut.log 2>&1 \
		|| { tail -40 build/mutmut.log; exit 1; }
	$(BIN)/python tests/mutation_scores.py mutants
	@echo "survivors: $(BIN)/mutmut results; one diff: $(BIN)/mutmut show <name>"

# Graded assignments (docs/instructors.md): student versions into build/release/; grades of
# SUBMISSIONS=<dir> (one folder per student) into build/grades.csv and build/feedback/.
release: $(STAMP)
	$(RUN_ENV) $(BIN)/python -m tools.assignments release

grade: $(STAMP)
	$(RUN_ENV) $(BIN)/python -m tools.assignments grade "$(SUBMISSIONS)" --jobs $(JOBS) $(GRADE_FLAGS)

lock:
	rm -rf build/lockvenv && $(PYTHON) -m venv build/lockvenv
	build/lockvenv/bin/pip install --quiet -e '.[dev]' 'torch==2.13.0'
	{ head -2 constraints.txt; build/lockvenv/bin/pip freeze --exclude-editable | sed 's/+cpu//'; } > constraints.new
	mv constraints.new constraints.txt

clean:
	rm -rf build .pytest_cache
