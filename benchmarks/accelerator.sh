#!/usr/bin/env bash
# The accelerator check, in one command: the device JAX sees, the backend-sensitive
# tests, and the precision and peers tables (jaxnets, PyTorch, flax) on that device.
#
#     bash benchmarks/accelerator.sh           # full sizes, on whatever JAX sees
#     bash benchmarks/accelerator.sh --quick   # tiny sizes: checks the script itself
#
# Run it on a GPU machine whenever one is at hand and put the tables in
# benchmarks/README.md with the device line it prints first. On a GPU the tests run the
# cuDNN LSTM kernel (lstm_cudnn) through the common kernel suite, outputs and gradients.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python}

$python - <<'PY'
import jax, torch
d = jax.devices()[0]
cuda = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA"
print(f"device: {d.platform} ({d.device_kind}), {jax.device_count()} device(s); "
      f"jax {jax.__version__}; torch {torch.__version__} ({cuda})")
PY

if [[ "${1:-}" == "--quick" ]]; then
    tests=(tests/test_kernels.py::test_every_registered_kernel_has_a_suite_case
           "tests/test_precision.py::test_a_kernel_follows_the_cells_policy")
    sizes=(--sizes tiny --runs 1 --rounds 1)
    peers=()
else
    tests=(tests/test_kernels.py tests/test_precision.py tests/test_rnn_torch.py
           tests/test_conv.py tests/test_pool.py tests/test_data_parallel.py)
    sizes=()
    peers=(--rounds 3 --runs 10)
fi

echo "== backend-sensitive tests"
$python -m pytest -q -p no:cacheprovider "${tests[@]}"
echo "== bfloat16 against float32 train steps"
$python benchmarks/precision.py "${sizes[@]}"
if [[ ${#peers[@]} -gt 0 ]]; then
    echo "== peers: jaxnets, PyTorch, flax"
    $python benchmarks/peers.py "${peers[@]}"
fi
