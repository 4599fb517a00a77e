#!/usr/bin/env bash
# The course's GPU benchmark, in one run of about 5 minutes on a data-centre GPU. Prints JSON lines:
#   1. `bench unet` of the MOOC's U-Net (96x128, batch 32) and of a U-Net at the scale of NVIDIA's
#      UNet_Medical example (576x576, batch 8), in float32 and mixed_float16, with XLA on and off:
#      training and inference images per second, achieved TFLOP/s and the fraction of the GPU's peak;
#   2. `train` with GPU_CONFIG (what lessons 03-04 use on a GPU), ending with its held-out mean IoU.
# Needs only Keras 3 with one backend (JAX, PyTorch or TensorFlow) and NumPy: run it from the
# repository root, e.g. `KERAS_BACKEND=jax tools/gpu_benchmark.sh`, with PYTHON=... for another
# interpreter. Record the results in docs/BENCHMARKS.md with the GPU's name.
# SMOKE=1 shrinks every run to a few steps of tiny images, to check the script on a CPU in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
export PYTHONPATH="$PWD:$PWD/tools${PYTHONPATH:+:$PYTHONPATH}"

if [[ ${SMOKE:-0} == 1 ]]; then
  sizes=(--image-size 16 16 --n-filters 4 --depth 2 --batch-size 2)
  steps=(--steps 2 --warmup-steps 1)
  train=(--image-size 32 32 --n-train 32 --epochs 1 --batch-size 8)
else
  sizes=()
  steps=(--steps 20 --warmup-steps 3)
  train=()
fi

for preset in mooc unet-medical; do
  for precision in float32 mixed_float16; do
    for xla in --jit-compile --no-jit-compile; do
      "$python" -m course_tools bench unet --preset "$preset" --precision "$precision" "$xla" "${sizes[@]}" "${steps[@]}"
    done
  done
done
"$python" -m unet_lib train --config gpu --quiet --out build/gpu_benchmark.keras "${train[@]}"
