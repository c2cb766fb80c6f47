# tenantrag — every entry point. `make demo` runs the main job, `make test` runs the tests.
SHELL := /bin/bash
ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
RUN := $(ROOT)/.run
VENV := $(ROOT)/.venv
PY := $(VENV)/bin/python
UV_BOOT := $(RUN)/bootstrap
UV := $(shell command -v uv 2>/dev/null || echo $(UV_BOOT)/bin/uv)
export PYTHONPATH := $(ROOT)/include:$(ROOT)/plugins:$(ROOT)
export TENANT_RAG_HOME := $(ROOT)
# Every Airflow process (api-server, scheduler, each task, each CLI call) and each pytest worker is a new
# interpreter: without cached bytecode each one compiles every module it imports from source (an `airflow` CLI start
# took 3.5 s instead of 1.7 s). The venv is installed with its bytecode, and our own modules' bytecode is written
# next to them (__pycache__/, ignored by git) even where the environment sets PYTHONDONTWRITEBYTECODE.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: help venv sysdeps demo test test-fast ui airflow api bench lint typecheck lock clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/'

$(UV_BOOT)/bin/uv:
	python3 -m venv $(UV_BOOT)
	$(UV_BOOT)/bin/pip install -q uv==0.13.9

$(VENV)/.installed: requirements.txt Makefile | $(UV)
	test -x $(PY) || $(UV) venv -q --python python3 $(VENV)
	VIRTUAL_ENV=$(VENV) $(UV) pip install -q --compile-bytecode -r requirements.txt
	touch $@

venv: $(VENV)/.installed  ## create/refresh the virtualenv from requirements.txt

# Debian packages the full test suite drives for real: Chromium (status page) and Redis (Celery workers).
SYSDEPS := chromium redis-server
sysdeps:  ## install chromium + redis-server with apt when missing (root only; otherwise those tests skip)
	@missing=""; command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing$$missing"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing) >/dev/null; \
	  else echo "not root: cannot install$$missing; the tests that need them will be skipped"; fi; \
	fi

demo: venv  ## the main job: embedded Postgres + local Confluence, two customers through Airflow, a query each
	$(PY) -m tenant_rag_devtools demo

# Three workers on two cores: the Airflow-stack tests spend most of their time waiting for the scheduler, and a third
# worker runs short tests in those waits (one core busy elsewhere: 4 min 22 s vs 5 min 21 s with two workers).
test: venv sysdeps  ## the whole test suite (real Postgres, real Airflow, real HTTP, Chromium, Redis)
	$(PY) -m pytest -n 3 --dist loadfile --no-loadscope-reorder  # file order: tests/conftest.py STACK_FILES

test-fast: venv  ## tests without the slow Airflow-scheduler / Celery / browser tests
	$(PY) -m pytest -m "not scheduler and not celery and not browser"

ui: venv  ## Airflow UI (api-server, scheduler, dag-processor) on the embedded defaults
	$(PY) -m tenant_rag_devtools airflow-ui

airflow: venv  ## an airflow command against the running `make ui` instance: make airflow ARGS="dags list"
	$(PY) -m tenant_rag_devtools airflow $(ARGS)

api: venv  ## the query/status/index API on its own (uvicorn)
	$(PY) -m tenant_rag serve-api

bench: venv  ## side-by-side benchmarks; results in bench/results/
	$(PY) -m bench.run_all

lint: venv  ## ruff + mypy
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check . && $(VENV)/bin/mypy

lock:  ## re-resolve requirements.in into requirements.txt
	$(UV) pip compile requirements.in -p 3.11 -o requirements.txt

clean:  ## stop the embedded Postgres and remove .run/
	-$(PY) -m tenant_rag db stop
	rm -rf $(RUN)
