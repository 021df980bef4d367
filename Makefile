# Dataface launch gate. `make readiness` judges ENV (default: the local stand-in);
# `make test` runs the suite's own tests, including every fault. Both set themselves up.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
ENV ?= local
SURFACES ?=
CRITERIA ?=
FAULT ?=
WORKERS ?= 2
export DO_NOT_TRACK := 1
export DBT_SEND_ANONYMOUS_USAGE_STATS := false

REHEARSE ?=
GATE_ARGS = --env $(ENV) $(if $(SURFACES),--surfaces $(SURFACES)) $(if $(CRITERIA),--criteria $(CRITERIA)) \
	$(if $(FAULT),--fault $(FAULT)) $(if $(filter 1 true yes,$(REHEARSE)),--rehearse)

.PHONY: readiness test test-fast lint venv allure-cli clean faults compare load soak bench-load \
	evidence verify-evidence

$(VENV)/.installed: pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $@

venv: $(VENV)/.installed

ALLURE_VERSION ?= 3.18.0

# Best effort: the Allure HTML report needs Node; without it the gate still
# writes allure-results/ and says why the HTML was skipped.
.tools/.installed:
	@if command -v npm >/dev/null 2>&1; then \
		npm install --prefix .tools --no-audit --no-fund --loglevel=error allure@$(ALLURE_VERSION) >/dev/null 2>&1 \
		&& echo "Allure CLI $(ALLURE_VERSION) installed in .tools/" \
		|| echo "Allure CLI could not be installed; Allure HTML will be skipped"; \
	else echo "npm not found: Allure HTML will be skipped (allure-results/ is still written)"; fi
	@mkdir -p .tools && touch $@

## Judge an environment. make itself can only exit 0 or 2: the gate's own code
## (0 GO, 100 NO-GO, 101 INCOMPLETE, 102 interrupted, 2 could not judge) is printed
## last, kept in reports/latest/gate.json, and is the exit code of .venv/bin/gate.
readiness: $(VENV)/.installed .tools/.installed
	@$(VENV)/bin/gate $(GATE_ARGS) -n $(WORKERS) --dist loadfile; code=$$?; \
	echo "gate exit code: $$code"; exit $$code

## The load profiles alone (LOAD-01..03, the short soak), same gate and evidence.
## Non-loopback targets need REHEARSE=1 (load changes what it hits).
load: $(VENV)/.installed
	@$(VENV)/bin/gate --env $(ENV) --surfaces load $(if $(FAULT),--fault $(FAULT)) \
		$(if $(filter 1 true yes,$(REHEARSE)),--rehearse) -p no:xdist; code=$$?; \
	echo "gate exit code: $$code"; exit $$code

## Nightly: the soak (LOAD-03) at the env's nightly length (soak.nightly_run_time_s).
soak: $(VENV)/.installed
	@$(VENV)/bin/gate --env $(ENV) --criteria LOAD-03 --soak --blocking-tiers critical,post-launch \
		$(if $(filter 1 true yes,$(REHEARSE)),--rehearse) -p no:xdist; code=$$?; \
	echo "gate exit code: $$code"; exit $$code

## The load generator's ceiling: Locust (HttpUser, FastHttpUser) on one core against wrk.
bench-load: $(VENV)/.installed
	$(PY) -m load.bench

## The suite's own tests: the gate's library, every fault turning its criterion red, the
## staging env judging the stand-in; then every live driver class must have run (>= 90 %).
test: $(VENV)/.installed .tools/.installed
	@rm -rf .gate-work/coverage && mkdir -p .gate-work/coverage
	$(PY) -m coverage run -m pytest tests -n $(WORKERS) --dist loadgroup -q --durations=15 --junitxml=.gate-work/make-test.xml
	@$(PY) -m coverage combine -q
	$(PY) -m tests.coverage_gate

## The inner loop: the library's unit tests and the gate-core runs, not the fault matrix,
## the whole-surface runs or coverage (make test is the full proof CI runs).
test-fast: $(VENV)/.installed
	$(PY) -m pytest tests -n $(WORKERS) --dist loadgroup -q -m "not slow"

## List the stand-in's named faults and the criteria each must turn red.
faults: $(VENV)/.installed
	$(PY) -m fixtures.standin.faults

## Compare the latest run with an earlier gate.json: exit 1 on a regression.
compare: $(VENV)/.installed
	@test -n "$(BASE)" || { echo "usage: make compare BASE=reports/<run-id>/gate.json"; exit 2; }
	$(PY) -m readiness.compare $(BASE) reports/latest/gate.json

## One archive for the launch review: reports/latest (or RUN=reports/<run-id>) with the
## catalog, waivers and env in force, sealed by manifest.json; prints its path and size.
## SIGN=1 signs the manifest with Sigstore (CI: needs the job's OIDC token).
RUN ?= reports/latest
evidence: $(VENV)/.installed
	@$(PY) -m readiness.archive build $(RUN) $(if $(filter 1 true yes,$(SIGN)),--sign)

## Check an archive (or unpacked directory): exit 1 naming each file changed, missing or
## added, or a bad signature. IDENTITY=<workflow identity> checks its Sigstore bundle.
verify-evidence: $(VENV)/.installed
	@test -n "$(ARCHIVE)" || { echo "usage: make verify-evidence ARCHIVE=reports/<run-id>-evidence.tar.gz [IDENTITY=...]"; exit 2; }
	@$(PY) -m readiness.archive verify $(ARCHIVE) $(if $(IDENTITY),--identity $(IDENTITY)) \
		$(if $(filter 1 true yes,$(REQUIRE_SIGNATURE)),--require-signature)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check readiness suites fixtures tests

## The Allure 3 report generator (Node) for allure-report/ HTML (make readiness does this too).
allure-cli:
	@rm -f .tools/.installed && $(MAKE) --no-print-directory .tools/.installed

clean:
	rm -rf .gate-work reports/*/ reports/latest
