# The two commands of the README:
#   make demo   set up .venv, ingest the sample corpus in corpus/, run example queries
#   make test   set up .venv, run the test suite
# Everything else (eval, bench, lint) is listed by `make help`.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
INDEX  ?= plansok-index
STAMP  := $(VENV)/.installed

.PHONY: demo test help eval bench lint clean system-deps

# Debian packages: Apertium's nynorsk–bokmål analysers and lttoolbox (the Norwegian
# analysis needs them), Tesseract for OCR of scanned pages, Chromium for the browser test.
SYSTEM_PACKAGES := apertium-nno-nob lttoolbox tesseract-ocr tesseract-ocr-nor chromium chromium-driver
APERTIUM_DATA := /usr/share/apertium/apertium-nno-nob/nno-nob.automorf.bin

help:
	@echo "make demo    set up .venv, ingest corpus/ into $(INDEX), run example queries"
	@echo "make test    set up .venv and run the tests (what CI runs)"
	@echo "make eval    nDCG@10 / recall of plansok beside rank_bm25, bm25s and tantivy"
	@echo "make bench   speed and memory beside rank_bm25, bm25s and tantivy (about 10 min)"
	@echo "make lint    ruff check and format check"
	@echo "make system-deps  Debian packages for OCR and the browser test (needs root)"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

demo: system-deps $(STAMP)
	$(BIN)/plansok ingest corpus --index $(INDEX)
	$(BIN)/plansok docs --index $(INDEX)
	@for q in barnefattigdom sosialhjelp livskvalitet; do \
		echo; echo "=== plansok query $$q -k 3 --type samfunnsdel --type temaplan --type handlingsplan"; \
		$(BIN)/plansok query "$$q" -k 3 --type samfunnsdel --type temaplan --type handlingsplan \
			--index $(INDEX) || exit 1; \
	done
	@echo; echo "=== the thesis on the same theme: plansok query barnefattigdom -k 2 --doc thesis"
	@$(BIN)/plansok query barnefattigdom -k 2 --doc thesis --index $(INDEX)
	@echo; echo "=== nynorsk and bokmål meet: plansok query tjenester --kommune Gol -k 2"
	@$(BIN)/plansok query tjenester --kommune Gol -k 2 --index $(INDEX)
	@echo; echo "=== theory and theme tags (the shipped model tags from the first ingest): a batch report in tag-report/"
	$(BIN)/plansok tag corpus --out tag-report --index $(INDEX)
	@echo; echo "open tag-report/report.html; search in a browser with: $(BIN)/plansok serve --index $(INDEX)"

test: system-deps $(STAMP)
	$(BIN)/python -m pytest -q

eval: $(STAMP)
	$(BIN)/plansok eval --extra-qrels evaluation/data

bench: $(STAMP)
	$(BIN)/plansok bench

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

system-deps:
	@if command -v tesseract >/dev/null && command -v chromedriver >/dev/null && command -v lt-proc >/dev/null \
		&& test -f $(APERTIUM_DATA); then echo "system packages present"; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends $(SYSTEM_PACKAGES); \
	else echo "as root, run: apt-get install $(SYSTEM_PACKAGES)"; command -v lt-proc >/dev/null; fi

clean:
	rm -rf $(VENV) $(INDEX) tag-report build *.egg-info .pytest_cache .ruff_cache
