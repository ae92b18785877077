#!/usr/bin/env bash
# Keyless regression check: replay the recorded baseline run's answers on the embedded world (no model,
# no keys, no GPU), then compare the replay with the recording, paired by task.
#   examples/github-actions/regression.sh [OUT_DIR] [extra overrides for the replay run...]
# Exit: 0 no significant SR drop, 1 significant drop (see compare.md), 2 unusable input.
# Run it from the repository root. The replay must select the same tasks and frames as the recording:
# keep split/suite.limit/env.* in step with examples/regression/baseline/manifest.json.
set -euo pipefail
BASELINE=examples/regression/baseline
OUT=${1:-results/ci-replay}
shift || true
rm -rf "$OUT"
python -m embrace_bench model=replay model.source="$BASELINE" split=all suite.limit=12 \
  env.renderer=numpy env.width=320 env.height=240 runner.save_frames=false hydra.run.dir="$OUT" "$@"
python -m embrace_bench compare "$BASELINE" "$OUT" --alpha 0.05 --out "$OUT/compare.md"
