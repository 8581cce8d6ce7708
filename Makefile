# Two commands: `make run` serves the demo, `make test` runs everything.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 5000
APT_PACKAGES := redis-server chromium chromium-driver poppler-utils postgresql \
                libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
                clamav-daemon procps default-jre-headless
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: run test system-deps translations bench clean

$(BIN)/.runtime: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.txt
	touch $@

$(BIN)/.test: requirements-test.txt requirements-s3.txt requirements.txt $(BIN)/.runtime
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-test.txt
	$(BIN)/pip install -q --disable-pip-version-check --require-hashes --no-deps -r requirements-s3.txt
	touch $@

# The Nu HTML checker for tests/test_html_valid.py: 30 MB, so fetched (the
# vnu-jar npm tarball, version pinned, sha256 checked) rather than committed.
VNU_VERSION := 26.9.27
VNU_SHA256  := 5970d3ffca91a627cf0965e5d91bb2e4242307c29292998de0b419d6a901b2b7
$(BIN)/vnu.jar: | $(BIN)/.runtime
	$(BIN)/python -c 'import hashlib, io, sys, tarfile, urllib.request; \
	data = urllib.request.urlopen("https://registry.npmjs.org/vnu-jar/-/vnu-jar-$(VNU_VERSION).tgz", timeout=120).read(); \
	hashlib.sha256(data).hexdigest() == "$(VNU_SHA256)" or sys.exit("vnu-jar $(VNU_VERSION): wrong sha256"); \
	open("$@.tmp", "wb").write(tarfile.open(fileobj=io.BytesIO(data)).extractfile("package/build/dist/vnu.jar").read())'
	mv $@.tmp $@

# Compiled catalogues are built, not committed.
translations: $(BIN)/.runtime
	$(BIN)/pybabel compile -f --statistics -d translations

# Debian packages the tests need (as root, or with sudo); skipped when present.
system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO=sudo; else \
	    echo "Please install:$$missing"; exit 1; fi; \
	  echo "Installing:$$missing"; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

# Development mode: a random SECRET_KEY kept in instance/ unless one is set.
run: export PORTAL_ENV := development
run: $(BIN)/.runtime translations
	$(BIN)/flask --app app migrate
	$(BIN)/flask --app app demo
	$(BIN)/gunicorn --workers 1 --threads 8 --bind 127.0.0.1:$(PORT) --access-logfile - 'app:create_app()'

test: system-deps $(BIN)/.test $(BIN)/vnu.jar translations
	$(BIN)/python -m pytest -q tests; status=$$?; \
	if [ $$status = 5 ]; then echo "no tests collected"; exit 1; fi; \
	[ $$status = 0 ] || exit $$status; \
	PORTAL_TEST_DB=postgres $(BIN)/python -m pytest -q -m "db" tests; status=$$?; \
	if [ $$status = 5 ]; then echo "no PostgreSQL tests collected"; exit 1; fi; exit $$status

bench: $(BIN)/.test translations
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) instance
