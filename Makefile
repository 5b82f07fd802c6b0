# lastseen: `make run` captures the bundled demo ad site; `make test` runs every check.
# Both install what they need: the project's .venv, Chromium (Debian's, when Playwright's own
# cannot be downloaded), and pywb in a virtualenv of its own (it pins old dependencies).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYWB_VENV := .venv-pywb
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test setup browser behaviors export-deps media-deps login-deps compose-deps pywb lint bench soak clean

$(BIN)/lastseen: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

setup: $(BIN)/lastseen browser behaviors export-deps media-deps login-deps compose-deps

# Playwright's own Chromium when `playwright install chromium` worked, else Debian's.
browser: $(BIN)/lastseen
	@$(BIN)/python -m crawler.browser >/dev/null 2>&1 || { \
		echo "no Chromium found: installing Debian's chromium package"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }
	@echo "browser: $$($(BIN)/python -m crawler.browser)"

# In-page behaviors: Webrecorder's browsertrix-behaviors from npm, the version pinned in
# package.json and package-lock.json (crawler/page/behaviors.py finds it under node_modules/).
BEHAVIORS_JS := node_modules/browsertrix-behaviors/dist/behaviors.js
behaviors: $(BEHAVIORS_JS)

$(BEHAVIORS_JS): package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || { \
		echo "no npm found: installing Debian's npm package"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq npm >/dev/null; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Export: WeasyPrint prints the report with Debian's pango; the export tests read the PDF with
# pdftotext and run the README's jq and openssl commands; the report's local times need tzdata;
# the PAdES tests sign with a SoftHSM2 token and check with pdfsig against an NSS database.
EXPORT_DEBS := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
	poppler-utils jq openssl tzdata softhsm2 libnss3-tools
export-deps:
	@dpkg -s $(EXPORT_DEBS) >/dev/null 2>&1 || { \
		echo "installing Debian packages for the export report: $(EXPORT_DEBS)"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(EXPORT_DEBS) >/dev/null; }

# Video (issue 13): ffmpeg/ffprobe describe the copies and make the report's keyframe strips, and
# the tests make their test video with it; hls.js (npm) plays the demo's HLS stream through MSE,
# kept in a cache folder of its own and served by the demo from there, never from a CDN.
MEDIA_DEBS := ffmpeg
HLSJS_VERSION := 1.7.4
HLSJS_DIR := .cache/npm-hls
media-deps: $(HLSJS_DIR)/node_modules/hls.js/dist/hls.min.js
	@dpkg -s $(MEDIA_DEBS) >/dev/null 2>&1 || { \
		echo "installing Debian packages for video: $(MEDIA_DEBS)"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(MEDIA_DEBS) >/dev/null; }

$(HLSJS_DIR)/node_modules/hls.js/dist/hls.min.js:
	@command -v npm >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq npm >/dev/null; }
	mkdir -p $(HLSJS_DIR)
	npm install --silent --no-audit --no-fund --prefix $(HLSJS_DIR) hls.js@$(HLSJS_VERSION)
	@touch $@

# `lastseen profile login` opens a headed browser: its test gives it a virtual screen (Xvfb).
# The Docker image has no screen to sign in on (profiles are imported there), so it needs none.
LOGIN_DEBS := xvfb
login-deps:
	@dpkg -s $(LOGIN_DEBS) >/dev/null 2>&1 || { \
		echo "installing Debian packages for the profile login test: $(LOGIN_DEBS)"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(LOGIN_DEBS) >/dev/null; }

# The fleet's compose.yaml is validated by Debian's docker-compose (`config` needs no daemon).
compose-deps:
	@command -v docker-compose >/dev/null 2>&1 || { \
		echo "installing Debian's docker-compose (to validate compose.yaml)"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends docker-compose >/dev/null; }

$(PYWB_VENV)/bin/wayback:
	$(PYTHON) -m venv $(PYWB_VENV)
	$(PYWB_VENV)/bin/pip install --quiet --disable-pip-version-check pywb 2>&1 | grep -v "^WARNING: Location" || true
	@touch $@

pywb: $(PYWB_VENV)/bin/wayback

run: setup
	$(BIN)/python -m demo.run

lint: $(BIN)/lastseen
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/hadolint Dockerfile

test: setup pywb lint
	$(BIN)/pytest -q

# Captures per minute against the bare browser, memory, hashing speed (bench/README.md).
bench: setup
	$(BIN)/python bench/bench.py

soak: setup
	$(BIN)/python bench/bench.py --soak 1000 --skip bare --skip local --skip s3 --skip service --skip hashing --skip indicators

clean:
	rm -rf $(VENV) $(PYWB_VENV) node_modules .pytest_cache .mypy_cache .ruff_cache
