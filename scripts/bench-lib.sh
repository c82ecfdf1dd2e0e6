# shellcheck shell=bash disable=SC2154
# Shared by scripts/bench*.sh (sourced, not run): the summary rows and the
# hyperfine helper. The caller sets bench_name, work (a scratch dir) and log.

rows=()

note() { echo "${bench_name:-bench}: $*" >&2; }
secs() { if [ "$1" = "-" ]; then echo "-"; else awk -v s="$1" 'BEGIN { printf "%.3f s", s }'; fi; }
rate() { awk -v r="$1" 'BEGIN { printf "%.0f/s", r }'; }
mbps() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.0f MB/s", b / s / 1e6 }'; }

# row LABEL STRATA_S PEER PEER_S: one line of the summary table (peer/strata:
# above 1, strata is faster).
row() {
  local ratio="-"
  if [ "$4" != "-" ]; then ratio=$(awk -v s="$2" -v p="$4" 'BEGIN { printf "%.2fx", p / s }'); fi
  rows+=("$(printf '%-34s %9s   %-46s %9s %8s' "$1" "$(secs "$2")" "$3" "$(secs "$4")" "$ratio")")
}

# rate_row LABEL STRATA_RPS PEER PEER_RPS: a throughput row, ratio strata/peer.
rate_row() {
  local ratio
  ratio=$(awk -v s="$2" -v p="$4" 'BEGIN { printf "%.2fx", s / p }')
  rows+=("$(printf '%-34s %9s   %-46s %9s %8s' "$1" "$(rate "$2")" "$3" "$(rate "$4")" "$ratio")")
}

print_rows() { for r in "${rows[@]}"; do echo "$r"; done; }

# median NAME RUNS [hyperfine options...] -- CMD: runs CMD under hyperfine
# and prints its median in seconds.
median() {
  local name=$1 n=$2; shift 2
  local csv=$work/$name.csv
  echo "== $name" >>"$log"
  hyperfine --style basic --runs "$n" --export-csv "$csv" "$@" >>"$log" 2>&1 ||
    { note "$name failed; see below"; tail -20 "$log" >&2; exit 1; }
  awk -F, 'NR == 2 { printf "%.4f", $4 }' "$csv"
}

# script NAME LINES...: writes an executable script for hyperfine's
# --prepare (no quoting through hyperfine) and prints its path.
script() {
  local path=$work/$1.sh; shift
  printf '%s\n' '#!/bin/sh' 'set -e' "$@" >"$path"
  chmod +x "$path"
  echo "$path"
}
