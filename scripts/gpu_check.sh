#!/usr/bin/env bash
# Every GPU check and benchmark of ilsvrc in one call, results under $OUT (default ./gpu-results):
#   scripts/gpu_check.sh
# On a machine without a GPU it runs the same steps at CPU-sized settings (a syntax and fallback check).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu-results}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
if [ -d .whl ]; then  # wheels carried for packages the machine lacks
  $PY -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl && export PYTHONPATH=$PYTHONPATH:/tmp/site
fi
gpu=$($PY -c "import torch; print(int(torch.cuda.is_available()))")
step() {  # step NAME TIMEOUT COMMAND...: run, keep its output, never stop the script
  local name=$1 limit=$2; shift 2
  echo "== $name"
  timeout "$limit" "$@" > "$OUT/$name.txt" 2>&1; echo "   exit $? ($name)"; tail -n 4 "$OUT/$name.txt"
}
{ nvidia-smi -L 2>/dev/null || echo "no GPU"; $PY -c "import torch; print('torch', torch.__version__)"; } > "$OUT/device.txt"
cat "$OUT/device.txt"
if [ "$gpu" = 1 ]; then
  step tests-gpu 120 $PY -m pytest -q -m gpu -p no:cacheprovider tests
  step bench-matmul 60 $PY -m ilsvrc bench matmul --json
  step bench-train-alexnet 150 $PY -m ilsvrc bench train --model alexnet --batch 128 --json
  step bench-train-alexnet-512 120 $PY -m ilsvrc bench train --model alexnet --batch 512 --json
  classes=10 per=64 workers=8 batch=128 loader_per=300 loader_repeats=3
else
  step bench-matmul 120 $PY -m ilsvrc bench matmul --sizes 512 --json
  step bench-train-lenet5 120 $PY -m ilsvrc bench train --model lenet5 --batch 64 --repeats 2 --json
  classes=4 per=8 workers=0 batch=8 loader_per=8 loader_repeats=1
fi
# The paper's recipe end to end on synthetic ILSVRC-2012 archives: prepare, train a few steps, 10-crop eval.
work=$(mktemp -d)
step synth 120 $PY -m ilsvrc data synth --out "$work/archives" --classes $classes --train-per-class $per --val-per-class 4
step prepare 120 $PY -m ilsvrc data prepare "$work/archives" --out "$work/packed"
step paper-train 240 $PY -m ilsvrc train --config paper --data "$work/packed" --out "$work/run" --epochs 1 \
  --batch-size $batch --quiet --set data.workers=$workers --set train.precision=bf16
step paper-eval-10crop 120 $PY -m ilsvrc eval "$work/run" --split val --tta 10crop --json
# One experiment of `ilsvrc experiment`: the AlexNet training step on every device present, the verdict GPU vs CPU.
step experiment-gpu 300 $PY -m ilsvrc experiment gpu --quick --out "$work/experiment-gpu" --json
# One experiment at paper scale on the synthetic ILSVRC-2012 above: the full alexnet, the paper preset, its cost
# line (the step's rate measured on the device first), then 10-crop vs centre testing of the same model.
step experiment-paper-ten-crop 300 $PY -m ilsvrc experiment ten-crop --quick --data "$work/packed" \
  --out "$work/experiment-paper" --set optim.batch_size=$batch --set data.workers=$workers
# Data parallel: one process per GPU (two CPU processes over Gloo without a GPU), the same global batch.
ranks=$([ "$gpu" = 1 ] && nvidia-smi -L | wc -l || echo 2)
step ddp-train 240 $PY -m torch.distributed.run --standalone --nproc_per_node "$ranks" -m ilsvrc train --config paper \
  --data "$work/packed" --out "$work/ddp" --epochs 1 --batch-size $batch --set data.workers=$workers \
  --set train.precision=bf16
step ddp-eval-10crop 120 $PY -m torch.distributed.run --standalone --nproc_per_node "$ranks" -m ilsvrc eval \
  "$work/ddp" --split val --tta 10crop --json
# The input pipeline vs torchvision's ImageFolder reference, same run: JPEG storage decoded on the GPU
# (nvJPEG via torchvision.io.decode_jpeg; in the workers without a GPU), and raw uint8 storage.
step synth-loader 180 $PY -m ilsvrc data synth --out "$work/loader" --classes 10 --train-per-class $loader_per \
  --val-per-class 1
for storage in jpeg raw; do
  step prepare-loader-$storage 180 $PY -m ilsvrc data prepare "$work/loader" --out "$work/loader-$storage" \
    --storage $storage
  step bench-loader-$storage 300 $PY -m ilsvrc bench loader --data "$work/loader-$storage" --batch $batch \
    --workers $workers --repeats $loader_repeats --json
done
# The whole data path on one device: the paper's recipe on JPEG storage, decoded by the loader workers and
# on the device (data.decode=device: nvJPEG); metrics.csv's img_s is the end-to-end rate to set beside
# bench train's step rate above.
for decode in cpu device; do
  step train-decode-$decode 300 $PY -m ilsvrc train --config paper --data "$work/loader-jpeg" --out "$work/decode-$decode" \
    --epochs 2 --batch-size $batch --quiet --set data.workers=$workers --set train.precision=bf16 \
    --set train.channels_last=true --set data.decode=$decode
  cat "$work/decode-$decode/metrics.csv" >> "$OUT/train-decode-$decode.txt" 2>/dev/null
done
# torchrun with one process per device (NCCL on a GPU, Gloo without): a smoke run.
step torchrun-1 240 $PY -m torch.distributed.run --standalone --nproc_per_node 1 -m ilsvrc train --config paper \
  --data "$work/packed" --out "$work/torchrun-1" --epochs 1 --batch-size $batch --quiet --set data.workers=$workers
# Preemption round trip under torchrun: SIGTERM once the first mid-epoch checkpoint is written, exit 75,
# then the same command line (--resume auto) finishes the run.
preempt() {
  local run="$work/preempt" line
  line=($PY -m torch.distributed.run --standalone --nproc_per_node "$ranks" -m ilsvrc train --config paper
        --data "$work/loader-jpeg" --out "$run" --resume auto --epochs 3 --batch-size $batch --quiet
        --set data.workers=$workers --set train.checkpoint_every=1)
  "${line[@]}" & local pid=$!
  for _ in $(seq 600); do [ -f "$run/checkpoints/last.pt" ] && break; sleep 0.1; done
  kill -TERM $pid; wait $pid; echo "torchrun exit $? (each rank exits 75 after the checkpoint; torchrun, signalled itself, exits 1)"
  $PY -c "import torch; s = torch.load('$run/checkpoints/last.pt', weights_only=True); print('checkpoint at epoch', s['epoch'], 'step', s['step'])"
  "${line[@]}"; echo "resumed run exit $?"; tail -n 3 "$run/metrics.csv"
}
export PY work ranks batch workers
step preemption 400 bash -c "$(declare -f preempt); preempt"
rm -rf "$work"
echo "results in $OUT"
