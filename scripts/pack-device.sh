#!/usr/bin/env bash
# Pack what a GPU machine with JAX (but no TensorFlow, no internet) lacks to run benchmark 8:
# wheels of cnnsweep's other packages for its Python, and the Fashion-MNIST files.
#
#   bash scripts/pack-device.sh [PYTHON_VERSION]     # default 3.12; writes .device/ (git-ignored)
#
# Then, on that machine, from the repository root:
#   python3 -m pip install -q --no-index --no-deps --target /tmp/site .device/wheels/*.whl
#   PYTHONPATH=/tmp/site:. CNNSWEEP_DATA_DIR=.device/data KERAS_BACKEND=jax \
#     python3 -m benchmarks.run gpu
# (cnnsweep itself runs from the checkout; the wheels are the exact versions this venv holds.)
set -euo pipefail
cd "$(dirname "$0")/.."
PY_VERSION="${1:-3.12}"
OUT=.device
PY=.venv/bin/python
[ -x "$PY" ] || { echo "pack-device: run 'make install' first (the versions come from .venv)" >&2; exit 2; }

# Packages cnnsweep needs that the machine's image lacks (it has numpy, pandas, matplotlib,
# scipy, scikit-learn, jinja2, pyyaml, rich, ml-dtypes, h5py, absl-py, tensorboard).
PACKAGES=(keras optree namex hydra-core omegaconf antlr4-python3-runtime optuna sqlalchemy alembic mako
          colorlog greenlet tenacity cmaes tabulate)
rm -rf "$OUT/wheels"
mkdir -p "$OUT/wheels"
for name in "${PACKAGES[@]}"; do
  version=$("$PY" -c "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))" "$name")
  # Pure-Python packages come as one wheel for every platform; the others for manylinux x86-64.
  "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version "$PY_VERSION" \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform any \
    -d "$OUT/wheels" "$name==$version" \
  || "$PY" -m pip wheel -q --no-deps -w "$OUT/wheels" "$name==$version"  # an sdist only (antlr4)
done

DATA=/usr/share/datasets/fashion-mnist
if [ -d "$DATA" ]; then
  mkdir -p "$OUT/data/fashion_mnist"
  cp "$DATA"/*-ubyte.gz "$OUT/data/fashion_mnist/"
else
  echo "pack-device: $DATA is missing (apt-get install dataset-fashion-mnist); benchmark 8 needs it" >&2
  exit 2
fi
du -sh "$OUT"
ls "$OUT/wheels"
