#!/usr/bin/env bash
# Run a command with a busy loop on every core beside it, to check that no test depends on the
# machine's load:   bash tools/with-cpu-hog.sh bash .ci/run
set -euo pipefail
hogs=()
for _ in $(seq "$(nproc)"); do
  python3 -c 'while True: pass' &
  hogs+=($!)
done
trap 'kill "${hogs[@]}" 2>/dev/null || true' EXIT
echo "with-cpu-hog: ${#hogs[@]} busy loop(s) running beside: $*" >&2
"$@"
