#!/usr/bin/env bash
# strata pull and push next to skopeo copy (and docker pull/push with a
# daemon), against strata's registry and the CNCF registry (docker-registry)
# over loopback, and the two registries' GET throughput under wrk, from one
# run. Each time is the median of several hyperfine runs (warm page cache),
# each req/s the median of several wrk runs.
#
#   (1) pull of a 1 GiB, 5-layer image (70% incompressible data, pushed once
#       by strata beforehand) into a fresh strata root, a fresh oci: dir
#       (skopeo) each run; both keep the gzip layers as they come, neither
#       unpacks (docker pull does). Target: at least 1.5x the fastest peer.
#   (2) blob GET (the image config, a small blob) and manifest GET (by tag)
#       under wrk, strata's registry next to the CNCF registry.
#       Target: at least 2x, with zero errors (socket errors and non-2xx/3xx
#       responses, summed over the runs).
#   (3) push of that image from uncompressed layers (strata's store; skopeo
#       and docker read the docker-archive), gzipped on the way out: strata
#       with pgzip at level 1, skopeo --dest-compress at its default level
#       and at level 1. Before each run the registry is restarted on an
#       empty root, so every layer is compressed and uploaded again: a fresh
#       repository name would not do, strata remembers each layer's gzip
#       digest and where it pushed it, and mounts it from there. (Knowing
#       the digest from the setup push, strata does not hash the gzip
#       bytes again; the registry checks them.) No warm-up run: the
#       inputs are in the page cache from the setup.
#       Target: at least 2x the fastest peer. (Last, as it empties the
#       registries.)
#
# Both registries run without access logs; the CNCF registry with its
# stock in-memory blob descriptor cache.
#
# stdout: the summary rows, in scripts/bench.sh's format (req/s rows give
# req/s where the others give seconds, and strata/peer as the ratio, so
# above 1 is still strata faster); stderr: progress.
# Knobs: BENCH_RUNS (3), BENCH_REG_MB (1024), BENCH_WRK_SECS (3),
# BENCH_WRK_CONNS (32), BENCH_DIR (.bench), BENCH_KEEP=1 keeps the data.
set -euo pipefail
cd "$(dirname "$0")/.."
bench_name=bench-registry
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh
repo=$PWD

runs=${BENCH_RUNS:-3}
image_mb=${BENCH_REG_MB:-1024}
wrk_secs=${BENCH_WRK_SECS:-3}
wrk_conns=${BENCH_WRK_CONNS:-32}
strata=$repo/bin/strata
ref=bench/big:1


command -v hyperfine >/dev/null || { note "hyperfine is missing (make deps)"; exit 1; }
[ -x "$strata" ] || { note "$strata is missing (make build)"; exit 1; }
skip=""
command -v docker-registry >/dev/null || skip="needs docker-registry"
[ -n "$skip" ] || command -v curl >/dev/null || skip="needs curl"
if [ -n "$skip" ]; then
  note "skipped: $skip (make deps)"
  row "registry: skipped ($skip)" - - -
  print_rows
  exit 0
fi
have_skopeo=false; command -v skopeo >/dev/null && have_skopeo=true
have_wrk=false; command -v wrk >/dev/null && have_wrk=true
have_docker=false; command -v docker >/dev/null && docker info >/dev/null 2>&1 && have_docker=true

mkdir -p "${BENCH_DIR:-$repo/.bench}"
work=$(mktemp -d "${BENCH_DIR:-$repo/.bench}/registry.XXXXXX")
work=$(cd "$work" && pwd)
cfg_digest=""
cleanup() {
  local f pid
  for f in "$work"/*.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      if [ ! -d "/proc/$pid" ] || [ "$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null)" = Z ]; then break; fi
      sleep 0.05
    done
  done
  if $have_docker; then
    docker rmi -f "${cfg_digest:-$ref}" "$ref" >/dev/null 2>&1 || true
  fi
  if [ "${BENCH_KEEP:-}" = 1 ]; then note "data kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
log=$work/hyperfine.log



# free_port: a TCP port on 127.0.0.1 that nothing listens on.
free_port() {
  local p
  for _ in $(seq 1 100); do
    p=$((20000 + RANDOM % 20000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  note "no free port found"; exit 1
}

# registry_script NAME PORT DIR CMD: writes a script that stops the
# registry NAME if it runs, empties DIR and starts CMD (which serves DIR on
# PORT) in the background, waiting until /v2/ answers. Prints its path.
registry_script() {
  local name=$1 port=$2 dir=$3 cmd=$4 pidf=$work/$1.pid
  # shellcheck disable=SC2016 # $pid and $i are the script's own
  script "registry-$name" \
    "if [ -f $pidf ]; then" \
    '  pid=$(cat '"$pidf"'); kill "$pid" 2>/dev/null || true; i=0' \
    '  while [ -d /proc/$pid ] && [ "$(cut -d" " -f3 /proc/$pid/stat 2>/dev/null)" != Z ]; do' \
    '    i=$((i + 1)); [ $i -lt 200 ] || { echo "'"$name"' does not stop" >&2; exit 1; }; sleep 0.05' \
    '  done' \
    "  rm -f $pidf" \
    "fi" \
    "rm -rf $dir" \
    "$cmd </dev/null >>$work/$name.log 2>&1 &" \
    "echo \$! >$pidf" \
    'i=0' \
    "until curl -sf -o /dev/null http://127.0.0.1:$port/v2/; do" \
    '  i=$((i + 1)); [ $i -lt 200 ] || { echo "'"$name"' does not start; see '"$work/$name.log"'" >&2; exit 1; }; sleep 0.05' \
    'done'
}

note "work dir $work; $runs runs per figure"
if [ $((image_mb % 1024)) -eq 0 ]; then size="$((image_mb / 1024)) GiB"; else size="$image_mb MiB"; fi
note "generating a $size, 5-layer docker-archive"
CGO_ENABLED=0 go build -o "$work/benchgen" ./bench/benchgen
"$work/benchgen" image -o "$work/big.tar" -layers 5 -size "$image_mb" -tag "$ref"
src=$work/src
"$strata" --root "$src" load -i "$work/big.tar" >/dev/null

# The registries: strata's and the CNCF registry, each on an empty root.
sport=$(free_port)
cport=$(free_port)
while [ "$cport" = "$sport" ]; do cport=$(free_port); done
cat >"$work/cncf.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $work/cncf-data
  cache:
    blobdescriptor: inmemory
http:
  addr: 127.0.0.1:$cport
EOF
sreg=$(registry_script strata "$sport" "$work/strata-data" \
  "$strata registry serve -q --addr 127.0.0.1:$sport --root $work/strata-data")
creg=$(registry_script cncf "$cport" "$work/cncf-data" "docker-registry serve $work/cncf.yml")
"$sreg" || { tail -20 "$work/strata.log" >&2; exit 1; }
"$creg" || { tail -20 "$work/cncf.log" >&2; exit 1; }
cncf_version=$(docker-registry --version | awk '{ sub(/\+.*/, "", $3); print $3 }')
names=(strata cncf)
ports=("$sport" "$cport")
regs=("$sreg" "$creg")
labels=("strata registry" "CNCF registry")

note "pushing the image once to both registries (the pulls' source)"
for i in 0 1; do
  "$strata" --root "$src" tag "$ref" "127.0.0.1:${ports[$i]}/$ref"
  "$strata" --root "$src" push -q "127.0.0.1:${ports[$i]}/$ref" >>"$log" 2>&1 ||
    { note "strata push to the ${labels[$i]} failed; see below"; tail -20 "$log" >&2; exit 1; }
done
accept='Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json'
manifest=$(curl -sf -H "$accept" "http://127.0.0.1:$sport/v2/bench/big/manifests/1")
cfg_digest=$(grep -o '"config":{[^}]*}' <<<"$manifest" | grep -o 'sha256:[0-9a-f]\{64\}')
cfg_bytes=$(curl -sf "http://127.0.0.1:$sport/v2/bench/big/blobs/$cfg_digest" | wc -c)
$have_docker || note "docker: not available (no daemon)"
$have_skopeo || note "skopeo: not installed"

# rows_for LABEL STRATA_S WANT -- PEER PEER_S...: one row per peer, the
# target (peer/strata) noted on the fastest peer's row.
rows_for() {
  local label=$1 s=$2 want=$3; shift 4
  local peers=() times=() best=-1 i
  while [ $# -gt 0 ]; do peers+=("$1") times+=("$2"); shift 2; done
  if [ ${#times[@]} -eq 0 ]; then
    row "$label" "$s" "no peer here (target: peer/strata $want)" -
    return
  fi
  for i in "${!times[@]}"; do
    if [ "$best" = -1 ] || awk -v a="${times[$i]}" -v b="${times[$best]}" 'BEGIN { exit !(a < b) }'; then best=$i; fi
  done
  for i in "${!times[@]}"; do
    local name=${peers[$i]}
    if [ "$i" = "$best" ]; then name="$name, target $want"; fi
    row "$label" "$s" "$name" "${times[$i]}"
  done
}

# ---- (1) pull --------------------------------------------------------------
for i in 0 1; do
  name=${names[$i]} image=127.0.0.1:${ports[$i]}/$ref
  note "(1) pull from the ${labels[$i]}"
  s=$(median "strata-pull-$name" "$runs" --warmup 1 -N --prepare "rm -rf $work/dst" \
    "$strata --root $work/dst pull -q $image")
  peers=()
  if $have_skopeo; then
    peers+=("skopeo copy docker:// -> oci:" "$(median "skopeo-pull-$name" "$runs" --warmup 1 -N \
      --prepare "rm -rf $work/oci" \
      "skopeo copy -q --src-tls-verify=false docker://$image oci:$work/oci:big")")
  fi
  if $have_docker; then
    peers+=("docker pull (unpacks)" "$(median "docker-pull-$name" "$runs" --warmup 1 \
      --prepare "docker rmi -f $cfg_digest >/dev/null 2>&1 || true" "docker pull -q $image")")
  fi
  rows_for "pull $size, ${labels[$i]}" "$s" ">= 1.5x" -- "${peers[@]}"
done
rm -rf "$work/dst" "$work/oci"

# ---- (2) blob and manifest GET under wrk ----------------------------------
# wrk_rate NAME URL [wrk options...]: runs wrk BENCH_RUNS times after a
# one-second warm-up and prints the median req/s and the errors of all
# runs.
wrk_lua=$work/summary.lua
cat >"$wrk_lua" <<'EOF'
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK %d %d %d\n", summary.requests, summary.duration,
    e.connect + e.read + e.write + e.status + e.timeout))
end
EOF
wrk_rate() {
  local name=$1 url=$2; shift 2
  local threads out req dur err r d errs=0 rates=()
  threads=$(( $(nproc) < wrk_conns ? $(nproc) : wrk_conns ))
  echo "== $name" >>"$log"
  for r in $(seq 0 "$runs"); do
    d=$wrk_secs
    [ "$r" != 0 ] || d=1
    out=$(wrk -t "$threads" -c "$wrk_conns" -d "${d}s" -s "$wrk_lua" "$@" "$url" 2>&1) ||
      { note "$name: wrk failed"; echo "$out" >&2; exit 1; }
    echo "$out" >>"$log"
    [ "$r" != 0 ] || continue
    read -r req dur err < <(awk '$1 == "WRK" { print $2, $3, $4 }' <<<"$out")
    rates+=("$(awk -v n="$req" -v d="$dur" 'BEGIN { printf "%.1f", n / (d / 1e6) }')")
    errs=$((errs + err))
  done
  printf '%s\n' "${rates[@]}" | sort -g |
    awk -v e="$errs" '{ a[NR] = $1 } END { m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; print m, e }'
}
# check URL DIGEST [curl options...]: fails unless URL answers 200 with the
# bytes of DIGEST.
check() {
  local url=$1 want=$2 got; shift 2
  got=$(curl -sf "$@" "$url" | sha256sum | cut -d' ' -f1)
  [ "sha256:$got" = "$want" ] || { note "GET $url: wrong answer (sha256:$got, want $want)"; exit 1; }
}

if $have_wrk; then
  manifest_digest=sha256:$(printf '%s' "$manifest" | sha256sum | cut -d' ' -f1)
  declare -A rps errs
  for i in 0 1; do
    name=${names[$i]} base=http://127.0.0.1:${ports[$i]}/v2/bench/big
    check "$base/blobs/$cfg_digest" "$cfg_digest"
    check "$base/manifests/1" "$manifest_digest" -H "$accept"
    note "(2) wrk: GET of a blob and of the manifest, ${labels[$i]}"
    out=$(wrk_rate "wrk-blob-$name" "$base/blobs/$cfg_digest")
    rps[blob-$name]=${out% *} errs[blob-$name]=${out#* }
    out=$(wrk_rate "wrk-manifest-$name" "$base/manifests/1" -H "$accept")
    rps[manifest-$name]=${out% *} errs[manifest-$name]=${out#* }
  done
  for what in blob manifest; do
    se=${errs[$what-strata]} ce=${errs[$what-cncf]}
    if [ "$se" = 0 ] && [ "$ce" = 0 ]; then e="0 errors"; else e="ERRORS: strata $se, CNCF $ce"; fi
    label="manifest GET by tag (wrk)"
    [ "$what" = manifest ] || label="blob GET, $cfg_bytes B (wrk)"
    rate_row "$label" "${rps[$what-strata]}" "CNCF registry $cncf_version, >= 2x, $e" "${rps[$what-cncf]}"
  done
else
  note "wrk: not installed (make deps); GET throughput skipped"
  row "blob/manifest GET: skipped (no wrk)" - - -
fi

# ---- (3) push --------------------------------------------------------------
if $have_docker; then
  docker load -q -i "$work/big.tar" >/dev/null
  for i in 0 1; do docker tag "$ref" "127.0.0.1:${ports[$i]}/$ref"; done
fi
for i in 0 1; do
  name=${names[$i]} image=127.0.0.1:${ports[$i]}/$ref reg=${regs[$i]}
  note "(3) push to the ${labels[$i]} (restarted on an empty root before each run)"
  s=$(median "strata-push-$name" "$runs" -N --prepare "$reg" \
    "$strata --root $src push -q $image")
  peers=()
  if $have_skopeo; then
    skopeo_push="skopeo copy -q --dest-tls-verify=false --dest-compress docker-archive:$work/big.tar docker://$image"
    peers+=("skopeo copy --dest-compress" "$(median "skopeo-push-$name" "$runs" -N \
      --prepare "$reg" "$skopeo_push")")
    peers+=("skopeo --dest-compress-level 1" "$(median "skopeo-push1-$name" "$runs" -N \
      --prepare "$reg" "$skopeo_push --dest-compress-level 1")")
  fi
  if $have_docker; then
    peers+=("docker push" "$(median "docker-push-$name" "$runs" \
      --prepare "$reg" "docker push -q $image")")
  fi
  rows_for "push $size, ${labels[$i]}" "$s" ">= 2x" -- "${peers[@]}"
done
print_rows
