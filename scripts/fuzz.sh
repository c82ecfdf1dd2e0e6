#!/usr/bin/env bash
# Runs each Fuzz* target in the module for the given time (default 5s).
set -euo pipefail
t=${1:-5s}
grep -rl --include='*_test.go' '^func Fuzz' internal cmd 2>/dev/null | sort | while read -r f; do
  pkg=./$(dirname "$f")
  for fn in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed 's/^func //'); do
    echo "fuzz $pkg $fn ($t)"
    go test -run='^$' -fuzz="^${fn}\$" -fuzztime="$t" -fuzzminimizetime=2s "$pkg" >/tmp/strata-fuzz.log 2>&1 || { cat /tmp/strata-fuzz.log; exit 1; }
  done
done
