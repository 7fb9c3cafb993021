#!/usr/bin/env bash
# Runs every compiled *.test.js under dist/test (Node 20's --test takes no glob patterns).
# Extra arguments narrow the run to paths containing them, e.g. `npm test -- codec`.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(find dist/test -name '*.test.js' | sort)
if [ $# -gt 0 ]; then
  sel=()
  for f in "${files[@]}"; do for p in "$@"; do [[ "$f" == *"$p"* ]] && { sel+=("$f"); break; }; done; done
  files=("${sel[@]}")
fi
[ ${#files[@]} -gt 0 ] || { echo "no test files matched" >&2; exit 1; }
exec node --test --test-concurrency=1 "${files[@]}"
