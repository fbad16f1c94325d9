#!/usr/bin/env bash
# Runs the GPU checks ON the GPU machine, from the bundle that build-bundle.sh made (.gpu-bundle/,
# carried next to the repo; the machine needs no Java and no network):
#   1. finds the CUDA driver, runtime, cuBLAS, NVRTC and NCCL libraries (system CUDA and the NVIDIA
#      pip wheels of the python that holds torch), prints them and sets LD_LIBRARY_PATH;
#   2. runs every @Tag("gpu") test of nccl-native and runtime with the JUnit console launcher
#      (XML reports);
#   3. runs the benchmarks, most important first: CudaLayerBench (the Llama-3-8B-shaped layer stack)
#      and torch_kernel_bench.py (the same stack in PyTorch eager, plus SDPA and the memory-bound ops)
#      at 8 layers × batch 1, at as many layers as fit (CudaLayerBench --layers fit picks, PyTorch
#      follows), as many as fit at batch 4 and 8 layers × batch 4; then KernelBench, GpuBench and torch_bench.py (its peer);
#   3b. runs the CPU TCP backend's CollectiveBench at 2, 4 and 8 ranks on this machine's cores
#      (GPU_CHECK_COLLECTIVES; outside the budget below, GPU_CHECK_COLL_S seconds each);
#   4. writes the report to $OUT/gpu-report.md (./gpu-report.md when OUT is unset), with the test
#      log gpu-tests.log and JUnit XML in junit/ beside it ($OUT, or ./gpu-check-logs/).
# Each stage has its own timeout (all together about 7 minutes, GPU_CHECK_BUDGET_S); a failing stage does not stop
# the later ones. Without a GPU every GPU test is skipped with its reason and the report is still written.
#
# Usage, from the repo root: bash deploy/gpu-check/run-gpu-check.sh
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUNDLE="${GPU_BUNDLE:-$ROOT/.gpu-bundle}"
OUTDIR="${OUT:-$ROOT}"
REPORT="$OUTDIR/gpu-report.md"
if [[ -n "${OUT:-}" ]]; then LOGDIR="$OUT"; else LOGDIR="$ROOT/gpu-check-logs"; fi
mkdir -p "$OUTDIR" "$LOGDIR"
WORK="$(mktemp -d /tmp/gpu-check.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
START_ALL=$SECONDS

# Stage timeouts in seconds; every stage is also cut to what is left of a 410 s overall budget
# (the report itself takes a second or two), so the whole run stays near 7 minutes.
T_LIBS=15 T_TESTS=170 T_LAYERBENCH=45 T_TORCH_KERNELS=45 T_LAYERFIT=55 T_TORCH_FIT=45 T_KERNELBENCH=35
T_GPUBENCH=35 T_TORCH=30
GPU_CHECK_COLLECTIVES="${GPU_CHECK_COLLECTIVES-2,4,8}"
DEADLINE=$((SECONDS + ${GPU_CHECK_BUDGET_S:-410}))
limit() { # wanted seconds -> seconds allowed now (at least 1)
  local want="$1" left=$((DEADLINE - SECONDS))
  ((left < want)) && want=$left
  ((want < 1)) && want=1
  echo "$want"
}

STAGES=() # "name|rc|seconds" rows for the report
stage_done() { STAGES+=("$1|$2|$3"); }
say() { printf '[gpu-check] %s\n' "$*"; }

# ---- 0. bundle and JRE -------------------------------------------------------------------------
JAVA=""
if [[ -x "$BUNDLE/jre/bin/java" ]]; then
  JAVA="$BUNDLE/jre/bin/java"
elif [[ -f "$BUNDLE/jre.tar.xz" ]]; then
  if tar -C "$WORK" -xJf "$BUNDLE/jre.tar.xz" 2>/dev/null ||
    python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' \
      "$BUNDLE/jre.tar.xz" "$WORK" 2>/dev/null; then
    JAVA="$WORK/jre/bin/java"
  fi
fi
if [[ -z "$JAVA" ]] || ! "$JAVA" -version >/dev/null 2>&1; then
  say "no usable JRE in $BUNDLE (run deploy/gpu-check/build-bundle.sh and carry .gpu-bundle)"
  JAVA=""
fi
CP="$(find "$BUNDLE/lib" "$BUNDLE/test-lib" -name '*.jar' 2>/dev/null | sort | paste -sd: -)"
TEST_ROOTS="$(find "$BUNDLE/test-lib" -name 'shoal-*-tests.jar' 2>/dev/null | sort | paste -sd: -)"
LAUNCHER="$(find "$BUNDLE/tools" -name 'junit-platform-console-standalone-*.jar' 2>/dev/null | head -1)"

# ---- 1. native libraries -----------------------------------------------------------------------
t0=$SECONDS
LIBS_TXT="$WORK/libs.txt"
: >"$LIBS_TXT"
SITE=""
if command -v python3 >/dev/null 2>&1; then
  SITE="$(timeout "$T_LIBS" python3 -c 'import nvidia, os; print(os.path.dirname(list(nvidia.__path__)[0]))' 2>/dev/null || true)"
fi
WHEEL_LIBS="$WORK/wheel-libs.txt" # every shared library under site-packages/nvidia, listed once
: >"$WHEEL_LIBS"
if [[ -n "$SITE" && -d "$SITE/nvidia" ]]; then
  timeout "$T_LIBS" find "$SITE/nvidia" -maxdepth 4 -name 'lib*.so*' 2>/dev/null | sort >"$WHEEL_LIBS"
fi
# GPU_CHECK_LIB_DIRS (colon-separated) is searched first, e.g. for a driver in an unusual place.
IFS=: read -r -a EXTRA_DIRS <<<"${GPU_CHECK_LIB_DIRS:-}"
CANDIDATE_DIRS=("${EXTRA_DIRS[@]}" /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/lib/x86_64-linux-gnu /usr/lib64 /lib/x86_64-linux-gnu
  /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib)
find_lib() { # soname -> first path found: driver/system dirs, then ldconfig, then pip wheels
  local so="$1" d p
  for d in "${CANDIDATE_DIRS[@]}"; do
    if [[ -e "$d/$so" ]]; then
      echo "$d/$so"
      return 0
    fi
  done
  p="$(ldconfig -p 2>/dev/null | awk -v so="$so" '$1 == so { print $NF; exit }')"
  if [[ -n "$p" && -e "$p" ]]; then
    echo "$p"
    return 0
  fi
  p="$(grep -m1 "/$so\$" "$WHEEL_LIBS")"
  if [[ -n "$p" ]]; then
    echo "$p"
    return 0
  fi
  return 1
}
LIB_DIRS=()
LIB_ROWS=()
for so in libcuda.so.1 libcudart.so.13 libcublas.so.13 libcublasLt.so.13 libnvrtc.so.13 libnccl.so.2; do
  if path="$(find_lib "$so")"; then
    LIB_ROWS+=("| $so | $path |")
    dir="$(dirname "$(readlink -f "$path")")"
    [[ " ${LIB_DIRS[*]} " == *" $dir "* ]] || LIB_DIRS+=("$dir")
    # keep the dir of the name we found too (a symlink may live elsewhere than its target)
    dir2="$(dirname "$path")"
    [[ " ${LIB_DIRS[*]} " == *" $dir2 "* ]] || LIB_DIRS+=("$dir2")
  else
    LIB_ROWS+=("| $so | NOT FOUND |")
  fi
done
NEW_LD="$(IFS=:; echo "${LIB_DIRS[*]}")"
export LD_LIBRARY_PATH="${NEW_LD}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
{
  echo "python site-packages: ${SITE:-none}"
  printf '%s\n' "${LIB_ROWS[@]}"
  echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
} | tee "$LIBS_TXT"
stage_done "find libraries" 0 $((SECONDS - t0))

# Every check here is one process on one machine: bootstrap NCCL over loopback (a VM may have no
# other usable interface) and let NCCL print its warnings into the logs.
export NCCL_SOCKET_IFNAME="${NCCL_SOCKET_IFNAME:-lo}" NCCL_DEBUG="${NCCL_DEBUG:-WARN}"

JVM_OPTS=(-Xmx8g -Dorg.bytedeco.javacpp.pathsFirst=true "-Dorg.bytedeco.javacpp.cachedir=$WORK/javacpp-cache"
  -Dfile.encoding=UTF-8)

# ---- 1b. NativeLibs probe (quick, part of the library stage) ------------------------------------
PROBE_LOG="$LOGDIR/probe.log"
if [[ -n "$JAVA" ]]; then
  timeout -k 5 "$(limit "$T_LIBS")" "$JAVA" "${JVM_OPTS[@]}" -cp "$CP" dev.shoal.cuda.NativeLibs >"$PROBE_LOG" 2>&1
  say "NativeLibs probe rc=$?"
  cat "$PROBE_LOG"
else
  echo "no JRE" >"$PROBE_LOG"
fi

# ---- 2. GPU tests -------------------------------------------------------------------------------
t0=$SECONDS
TEST_LOG="$LOGDIR/gpu-tests.log"
mkdir -p "$LOGDIR/junit"
rc=125
if [[ -n "$JAVA" && -n "$LAUNCHER" && -n "$TEST_ROOTS" ]]; then
  lim="$(limit "$T_TESTS")"
  say "running @Tag(\"gpu\") tests (timeout ${lim}s)"
  # shellcheck disable=SC2016 # the $ in ClassOrderer$OrderAnnotation is a Java nested-class name
  timeout -k 10 "$lim" "$JAVA" "${JVM_OPTS[@]}" -jar "$LAUNCHER" execute \
    --class-path "$CP" --scan-class-path "$TEST_ROOTS" --include-tag gpu \
    --config 'junit.jupiter.testclass.order.default=org.junit.jupiter.api.ClassOrderer$OrderAnnotation' \
    --config junit.jupiter.execution.timeout.default=90s \
    --config junit.jupiter.execution.timeout.thread.mode.default=SEPARATE_THREAD \
    --reports-dir "$LOGDIR/junit" --details tree --details-theme ascii --disable-banner \
    --disable-ansi-colors >"$TEST_LOG" 2>&1
  rc=$?
  ((rc == 124)) && echo "TIMEOUT after ${lim}s" >>"$TEST_LOG"
else
  echo "tests not run: JRE, launcher or test jars missing in $BUNDLE" >"$TEST_LOG"
fi
say "tests rc=$rc"
stage_done "gpu tests" "$rc" $((SECONDS - t0))

# ---- 3. benchmarks ------------------------------------------------------------------------------
run_java_main() { # name class timeout log [main's arguments...]
  local name="$1" cls="$2" lim log="$4" t rc
  lim="$(limit "$3")"
  shift 4
  t=$SECONDS
  if [[ -z "$JAVA" ]]; then
    echo "not run: no JRE" >"$log"
    rc=125
  else
    say "running $cls (timeout ${lim}s)"
    timeout -k 5 "$lim" "$JAVA" "${JVM_OPTS[@]}" -cp "$CP" "$cls" "$@" >"$log" 2>&1
    rc=$?
    ((rc == 124)) && echo "TIMEOUT after ${lim}s" >>"$log"
  fi
  say "$name rc=$rc"
  stage_done "$name" "$rc" $((SECONDS - t))
}
# Order of value: the issue's benchmark first (the 8B-shaped layer stack in Shoal and in PyTorch, at 8
# layers and at as many layers as fit), then the kernel bench, then GpuBench and its PyTorch peer.
run_python() { # name timeout log script [arguments...]
  local name="$1" lim log="$3" script="$4" t rc
  lim="$(limit "$2")"
  shift 4
  t=$SECONDS
  if [[ -f "$script" ]]; then
    say "running $name (timeout ${lim}s)"
    PYTHONUNBUFFERED=1 timeout -k 5 "$lim" python3 "$script" "$@" >"$log" 2>&1
    rc=$?
    ((rc == 124)) && echo "TIMEOUT after ${lim}s" >>"$log"
  else
    echo "$script not present" >"$log"
    rc=absent
  fi
  say "$name rc=$rc"
  stage_done "$name" "$rc" $((SECONDS - t))
}
in_bundle() { grep -qx "main: $1" "$BUNDLE/BUNDLE.txt" 2>/dev/null; }

# The layer stack at torch_kernel_bench.py's default shape (8 Llama-3-8B layers, batch 1 × 2048), so the two compare.
LAYERBENCH_LOG="$LOGDIR/layerbench.log"
TORCHK_LOG="$LOGDIR/torchkernelbench.log" # PyTorch baseline: SDPA, memory-bound ops, the 8-layer stack
LAYERFIT_LOG="$LOGDIR/layerbench-fit.log"
TORCHFIT_LOG="$LOGDIR/torchbench-fit.log"
if in_bundle dev.shoal.runtime.cuda.CudaLayerBench; then
  run_java_main "CudaLayerBench 8 layers" dev.shoal.runtime.cuda.CudaLayerBench "$T_LAYERBENCH" "$LAYERBENCH_LOG" \
    --layers 8 --batch 1
else
  echo "not in this bundle (no dev.shoal.runtime.cuda.CudaLayerBench)" >"$LAYERBENCH_LOG"
  stage_done "CudaLayerBench 8 layers" "absent" 0
fi
run_python "torch_kernel_bench.py" "$T_TORCH_KERNELS" "$TORCHK_LOG" "$ROOT/deploy/gpu-check/torch_kernel_bench.py"
# As many layers as fit on this card at a batch: Shoal picks the count (80 % of the device's free memory),
# PyTorch runs the same count. Sets FITTED to the count ("" when none was chosen).
fit_pair() { # label batch shoal-log torch-log
  local label="$1" batch="$2" log="$3" tlog="$4"
  if in_bundle dev.shoal.runtime.cuda.CudaLayerBench; then
    run_java_main "CudaLayerBench $label" dev.shoal.runtime.cuda.CudaLayerBench "$T_LAYERFIT" "$log" \
      --layers fit --batch "$batch"
  else
    echo "not in this bundle" >"$log"
  fi
  FITTED="$(sed -n 's/^shape: \([0-9]*\) layers.*/\1/p' "$log" | head -1)"
  if [[ -n "$FITTED" ]]; then
    run_python "torch_kernel_bench.py --layers $FITTED --batch $batch" "$T_TORCH_FIT" "$tlog" \
      "$ROOT/deploy/gpu-check/torch_kernel_bench.py" --layers "$FITTED" --batch "$batch" --train-only
  else
    echo "not run: CudaLayerBench --layers fit --batch $batch chose no layer count" >"$tlog"
  fi
}
fit_pair "layers that fit" 1 "$LAYERFIT_LOG" "$TORCHFIT_LOG"
FIT_LAYERS="$FITTED"
# At batch 4 × 2048 (8192 tokens a step, so AdamW's pass over the weights, a fixed cost per step, is shared
# by 4× the tokens): the headline benchmark.
LAYERFIT4_LOG="$LOGDIR/layerbench-fit-b4.log"
TORCHFIT4_LOG="$LOGDIR/torchbench-fit-b4.log"
fit_pair "layers that fit, batch 4" 4 "$LAYERFIT4_LOG" "$TORCHFIT4_LOG"
FIT4_LAYERS="$FITTED"

# 8 layers at batch 4 × 2048 (the shape session 4 reported, kept for comparison across runs).
LAYERB4_LOG="$LOGDIR/layerbench-b4.log"
TORCHB4_LOG="$LOGDIR/torchbench-b4.log"
if in_bundle dev.shoal.runtime.cuda.CudaLayerBench; then
  run_java_main "CudaLayerBench 8 layers batch 4" dev.shoal.runtime.cuda.CudaLayerBench "$T_LAYERBENCH" \
    "$LAYERB4_LOG" --layers 8 --batch 4
else
  echo "not in this bundle" >"$LAYERB4_LOG"
fi
run_python "torch_kernel_bench.py --layers 8 --batch 4" "$T_TORCH_FIT" "$TORCHB4_LOG" \
  "$ROOT/deploy/gpu-check/torch_kernel_bench.py" --layers 8 --batch 4 --train-only

KERNELBENCH_LOG="$LOGDIR/kernelbench.log"
if in_bundle dev.shoal.cuda.kernels.KernelBench; then
  run_java_main "KernelBench" dev.shoal.cuda.kernels.KernelBench "$T_KERNELBENCH" "$KERNELBENCH_LOG"
else
  echo "not in this bundle (no dev.shoal.cuda.kernels.KernelBench)" >"$KERNELBENCH_LOG"
  stage_done "KernelBench" "absent" 0
fi

GPUBENCH_LOG="$LOGDIR/gpubench.log" # bench logs are embedded whole in the report
run_java_main "GpuBench" dev.shoal.nccl.GpuBench "$T_GPUBENCH" "$GPUBENCH_LOG"
TORCH_LOG="$LOGDIR/torchbench.log" # PyTorch peer of GpuBench (GEMM, copies)
run_python "torch_bench.py" "$T_TORCH" "$TORCH_LOG" "$ROOT/deploy/gpu-check/torch_bench.py"

# The CPU TCP backend's collective bench on this machine's cores (issue #5's loopback goal on a box
# whose ranks are not squeezed onto 2 cores): GPU_CHECK_COLLECTIVES lists the rank counts, "" skips it.
# It runs outside the 410 s budget, T_COLL seconds each.
T_COLL="${GPU_CHECK_COLL_S:-75}"
COLL_LOGS=()
if [[ -n "$JAVA" ]] && in_bundle dev.shoal.runtime.bench.CollectiveBench; then
  for n in ${GPU_CHECK_COLLECTIVES//,/ }; do
    log="$LOGDIR/collectivebench-tcp-$n.log"
    t=$SECONDS
    say "running CollectiveBench tcp $n ranks (timeout ${T_COLL}s)"
    timeout -k 5 "$T_COLL" "$JAVA" -Xmx8g -Dfile.encoding=UTF-8 "-Dorg.bytedeco.javacpp.cachedir=$WORK/javacpp-cache" \
      -cp "$CP" dev.shoal.runtime.bench.CollectiveBench tcp "$n" 64 avg all_reduce,reduce_scatter,all_gather 1024 \
      >"$log" 2>&1
    rc=$?
    ((rc == 124)) && echo "TIMEOUT after ${T_COLL}s" >>"$log"
    stage_done "CollectiveBench tcp $n ranks" "$rc" $((SECONDS - t))
    COLL_LOGS+=("$log")
  done
fi

# ---- 4. report ----------------------------------------------------------------------------------
fence() { echo '```'; cat "$1" 2>/dev/null; echo '```'; }
{
  echo "# GPU check report"
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ), host: $(hostname 2>/dev/null || echo '?'), run time $((SECONDS - START_ALL)) s"
  echo "- repo commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  grep -E '^(built|commit|size):' "$BUNDLE/BUNDLE.txt" 2>/dev/null | sed 's/^/- bundle /'
  echo
  echo "## Stages"
  echo
  echo "| stage | exit | seconds |"
  echo "|---|---|---:|"
  for s in "${STAGES[@]}"; do IFS='|' read -r n r t <<<"$s"; echo "| $n | $r | $t |"; done
  echo
  echo "## nvidia-smi"
  echo
  echo '```'
  if command -v nvidia-smi >/dev/null 2>&1; then
    timeout 10 nvidia-smi 2>&1 || echo "nvidia-smi failed"
  else
    echo "nvidia-smi not found: no NVIDIA driver on this machine"
  fi
  echo '```'
  echo
  echo "## Libraries"
  echo
  echo "| library | path |"
  echo "|---|---|"
  printf '%s\n' "${LIB_ROWS[@]}"
  echo
  echo "python site-packages: ${SITE:-none}; LD_LIBRARY_PATH: \`$LD_LIBRARY_PATH\`; NCCL_SOCKET_IFNAME=$NCCL_SOCKET_IFNAME"
  echo
  echo "NativeLibs probe:"
  echo
  fence "$PROBE_LOG"
  echo
  echo "## GPU tests (@Tag(\"gpu\"), nccl-native + runtime)"
  echo
  echo "Summary:"
  echo
  echo '```'
  grep -E '^\[ *[0-9]+ (containers|tests) ' "$TEST_LOG" 2>/dev/null || tail -5 "$TEST_LOG" 2>/dev/null
  grep -E 'Test run finished' "$TEST_LOG" 2>/dev/null
  echo '```'
  echo
  echo "Failures and skips (first 120 lines; full tree in gpu-tests.log, XML in junit/):"
  echo
  echo '```'
  grep -nE '\[X\]|\[S\]|\[A\]|=>|Exception|Error|TIMEOUT|not run' "$TEST_LOG" 2>/dev/null | head -120
  echo '```'
  echo
  echo "## CudaLayerBench (--layers 8 --batch 1)"
  echo
  cat "$LAYERBENCH_LOG" 2>/dev/null
  echo
  echo "## torch_kernel_bench.py (SDPA, memory-bound ops, 8-layer stack)"
  echo
  fence "$TORCHK_LOG"
  echo
  echo "## CudaLayerBench (--layers fit)"
  echo
  cat "$LAYERFIT_LOG" 2>/dev/null
  echo
  echo "## torch_kernel_bench.py (--layers ${FIT_LAYERS:-?} --batch 1 --train-only)"
  echo
  fence "$TORCHFIT_LOG"
  echo
  echo "## CudaLayerBench (--layers fit --batch 4)"
  echo
  cat "$LAYERFIT4_LOG" 2>/dev/null
  echo
  echo "## torch_kernel_bench.py (--layers ${FIT4_LAYERS:-?} --batch 4 --train-only)"
  echo
  fence "$TORCHFIT4_LOG"
  echo
  echo "## CudaLayerBench (--layers 8 --batch 4)"
  echo
  cat "$LAYERB4_LOG" 2>/dev/null
  echo
  echo "## torch_kernel_bench.py (--layers 8 --batch 4 --train-only)"
  echo
  fence "$TORCHB4_LOG"
  echo
  echo "## KernelBench"
  echo
  cat "$KERNELBENCH_LOG" 2>/dev/null
  echo
  echo "## GpuBench"
  echo
  cat "$GPUBENCH_LOG" 2>/dev/null
  echo
  echo "## torch_bench.py"
  echo
  fence "$TORCH_LOG"
  for log in "${COLL_LOGS[@]}"; do
    echo
    echo "## $(basename "$log" .log) ($(nproc 2>/dev/null || echo '?') cores)"
    echo
    fence "$log"
  done
} >"$REPORT"
say "report: $REPORT (${SECONDS}s)"
exit 0
