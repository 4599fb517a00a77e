# The course in two commands: `make lab` to learn, `make test` to check a change.
# Two packages, two command lines: the learner's `python -m unet_lib` (env, train) and the instructor's and
# maintainer's `python -m course_tools` (release, nbgrader-metadata, grade, figures, bench), installed by the dev extra.
VENV ?= .venv
PYTHON ?=
# Extra options for `jupyter lab`, e.g. LAB_ARGS="--no-browser --port=8890".
LAB_ARGS ?=
# The folder of lessons JupyterLab opens, e.g. LESSONS=workbook/lessons.
LESSONS ?= lessons
# JupyterLab serves the folder above $(LESSONS) (the repository, the workbook or a release: each holds media/
# beside lessons/), so the lessons' figure links ../media/*.png resolve, and opens on the lessons folder.
LAB_ROOT = $(abspath $(LESSONS)/..)
LAB_OPEN = $(notdir $(abspath $(LESSONS)))
# JupyterLab opens on the first lesson, the course's start (its last cell links the course map).
FIRST_LESSON = $(notdir $(firstword $(sort $(wildcard $(LESSONS)/[0-9][0-9]_*.ipynb))))
LAB_SERVE = --ServerApp.root_dir="$(LAB_ROOT)" --FileContentsManager.preferred_dir="$(LAB_OPEN)" \
	--LabApp.default_url="/lab/tree/$(LAB_OPEN)/$(FIRST_LESSON)"
# The learner's JupyterLab settings (lab_config/README.md): no nbgrader menu or news pop-up. LAB_CONFIG= for Jupyter's own.
LAB_CONFIG ?= $(CURDIR)/lab_config
# Jupyter refuses to run as root (common in containers) unless told it is intended.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)
BIN := $(VENV)/bin

.PHONY: help setup lab test test-all lint clean workbook

help:
	@echo "make lab    set up $(VENV) if needed, then open JupyterLab on lessons/ (LESSONS=workbook/lessons for the workbook)"
	@echo "make test   set up $(VENV) if needed, then lint, unit tests and every lesson under nbval (about 10 minutes)"
	@echo "make test-all  make test plus the extended tier: browser, grading sandbox, nbgrader, blank student"
	@echo "            copies, other backends (what CI runs; needs chromium, bubblewrap and cgroup-tools)"
	@echo "make lint   ruff over the package, tests and lessons"
	@echo "make workbook  write the blank student copy to workbook/; open it with: make lab LESSONS=workbook/lessons"
	@echo "make clean  remove $(VENV) and caches"
	@echo "Choose the interpreter with PYTHON=/path/to/python3.X (3.10-3.13)."

# Optional dependency groups of pyproject.toml to install. `make test-all` adds jax, the second Keras
# backend its tests train on (CPU wheels, about 150 MB); `make test-all EXTRAS=dev,jax,torch` tests torch
# too, as CI does (on Linux PyPI's torch brings CUDA libraries, several GB). Learners need neither.
EXTRAS ?= dev
test-all: EXTRAS = dev,jax
# A learner's JupyterLab needs the course's packages only (no nbgrader, no test tools).
lab: EXTRAS =

setup:
	@scripts/make_venv.sh "$(VENV)" "$(PYTHON)" "$(EXTRAS)"

lab: setup
	@test -d "$(LESSONS)" || { echo "No folder $(LESSONS) to open (the workbook: make workbook first)." >&2; exit 1; }
	JUPYTER_CONFIG_PATH="$(LAB_CONFIG)" $(BIN)/jupyter lab $(ALLOW_ROOT) $(LAB_SERVE) $(LAB_ARGS)

lint: setup
	$(BIN)/ruff check .

# The extended tier's tests carry the `extended` marker (see conftest.py); the run's last lines say what was left out.
test: setup lint
	$(BIN)/python -m pytest -m "not extended"

test-all: setup lint
	$(BIN)/python -m pytest

# The student copy (solutions removed, answers recorded) for learners who want to try before reading.
workbook: setup
	$(BIN)/python -m course_tools release workbook
	@echo "Open it with: make lab LESSONS=workbook/lessons"

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
