# Cabinet — the two commands: `make run` and `make test` (plus `make bench`).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | md5sum | cut -c1-12)

.PHONY: run test bench install translations browser lint clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

node_modules/axe-core/axe.min.js: package.json package-lock.json
	npm ci --no-audit --no-fund --silent || echo "npm not available: accessibility tests will be skipped"

install: $(STAMP) translations

translations: $(STAMP)
	$(PY) manage.py compile_translations

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	$(PY) manage.py run --host 127.0.0.1 --port 8000

test: install node_modules/axe-core/axe.min.js
	$(PY) -m pytest -n 2 --dist loadfile $(PYTEST_ARGS)

bench: install
	$(PY) bench/run.py

# Debian's Chromium for the browser tests (CI calls this; needs root).
browser:
	test -x /usr/bin/chromium || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

lint: install
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) node_modules var db.sqlite3*
