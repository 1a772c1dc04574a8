# HeyGem: `make run` starts the whole platform, `make test` runs the suite.
# Both create .venv and install the pinned requirements first.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-nodeps.txt | cksum | cut -d' ' -f1)

.PHONY: setup run test lint bench messages lock clean

setup: $(STAMP)

$(STAMP): requirements.txt requirements-nodeps.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "HeyGem needs Python 3.11 (set PYTHON=/path/to/python3.11)")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -r requirements-nodeps.txt
	@$(PY) -c 'import cv2, sys; sys.exit(0 if cv2.__version__.startswith("4.") and hasattr(cv2, "CascadeClassifier") else "OpenCV 4.x (headless) is needed; found " + cv2.__version__)'
	rm -f $(VENV)/.installed-*
	touch $@

run: setup
	$(PY) manage.py runplatform

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check .

bench: setup
	$(PY) bench/run_all.py

messages: setup
	$(PY) manage.py makemessages -l zh_Hans --ignore=.venv --ignore=ml --ignore=tests --ignore=bench --ignore=deploy --ignore=var --ignore=test-output
	$(PY) manage.py compilemessages -l zh_Hans --ignore=.venv --ignore=ml --ignore=tests --ignore=bench --ignore=deploy --ignore=var --ignore=test-output

lock: setup
	$(PY) -m pip install --quiet -r requirements.in
	( echo "# Generated from requirements.in by \`make lock\`: every package pinned."; \
	  echo "# face-alignment is in requirements-nodeps.txt (it asks for opencv-python, which would replace the headless build)."; \
	  $(PY) -m pip freeze | grep -v -i -e '^face[-_]alignment' | sed 's/^torch==\(.*\)+cpu$$/torch==\1/' ) > requirements.txt

clean:
	rm -rf $(VENV)
