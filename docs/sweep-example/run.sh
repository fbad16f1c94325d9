#!/usr/bin/env bash
# Reproduces docs/sweep-example: byte-level tokenizer, `shoal prepare --demo` (Debian fortunes = en,
# fortunes-zh = zh; 2% held out), English-only pretraining, the 5 × 3 sweep, and the fit + report.
# Usage: docs/sweep-example/run.sh [WORK_DIR]   (SHOAL=path/to/shoal to use another launcher)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SHOAL="${SHOAL:-$HERE/../../shoal}"
WORK="${1:-/tmp/shoal-sweep-example}"
mkdir -p "$WORK"
cp "$HERE"/pretrain.conf "$HERE"/cpt.conf "$HERE"/sweep.conf "$WORK"/
cd "$WORK"
# 256 single-byte ranks (+ 256 specials = vocab 512, the tiny model's).
if [[ ! -f bytes.tiktoken ]]; then
  for i in $(seq 0 255); do
    printf "%s %d\n" "$(printf "\\x$(printf %02x "$i")" | base64)" "$i"
  done > bytes.tiktoken
fi
[[ -f data/manifest.json ]] || "$SHOAL" prepare --tokenizer bytes.tiktoken --demo --valid-fraction 0.02 --out data
[[ -d pretrain/step-000600 ]] || "$SHOAL" train --config pretrain.conf
"$SHOAL" sweep --config sweep.conf --out sweep
"$SHOAL" fit --sweep sweep --epsilon 0.05 --out report
