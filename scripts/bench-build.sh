#!/usr/bin/env bash
# strata build next to docker build (classic and BuildKit) and buildah bud
# --layers where they work here, from one run. Each figure is the median of
# several hyperfine runs (warm page cache). Run as root.
#
#   (1) no-op rebuild of a 20-step Dockerfile with a 10,000-file context
#       (target: at most 1/3 of the fastest peer's time)
#   (2) rebuild after one file of that context changed (an early COPY
#       copies it, so most later steps rerun; target: at most 1/2)
#   (3) cold build copying 300 MB (target: faster than every peer); before
#       each run the image and all build cache are removed (strata builder
#       prune -a; docker builder prune -af, which empties docker's build
#       cache; buildah rmi --all on a private storage) and the data files
#       touched, so no digest of them is kept from the run before.
#
# stdout: the summary rows, in scripts/bench.sh's format; stderr: progress.
# Knobs: BENCH_RUNS (3), BENCH_BUILD_FILES (10000), BENCH_BUILD_MB (300),
# BENCH_DIR (.bench), BENCH_KEEP=1 keeps the data.
set -euo pipefail
cd "$(dirname "$0")/.."
bench_name=bench-build
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh
repo=$PWD

runs=${BENCH_RUNS:-3}
nfiles=${BENCH_BUILD_FILES:-10000}
data_mb=${BENCH_BUILD_MB:-300}
strata=$repo/bin/strata
base=bench/busybox # a private name: never replaces a peer's busybox image


command -v hyperfine >/dev/null || { note "hyperfine is missing (make deps)"; exit 1; }
[ -x "$strata" ] || { note "$strata is missing (make build)"; exit 1; }
bb=$(command -v busybox || echo /bin/busybox)
skip=""
[ "$(id -u)" = 0 ] || skip="needs root"
[ -n "$skip" ] || command -v runc >/dev/null || command -v crun >/dev/null || skip="needs runc"
[ -n "$skip" ] || [ -x "$bb" ] || skip="needs busybox"
if [ -n "$skip" ]; then
  note "skipped: strata build runs RUN steps in containers and $skip"
  row "build: skipped ($skip)" - - -
  print_rows
  exit 0
fi

have_docker=false
command -v docker >/dev/null && docker info >/dev/null 2>&1 && have_docker=true
have_buildah=false
command -v buildah >/dev/null && buildah info >/dev/null 2>&1 && have_buildah=true

mkdir -p "${BENCH_DIR:-$repo/.bench}"
work=$(mktemp -d "${BENCH_DIR:-$repo/.bench}/build.XXXXXX")
root=$work/strata
buildah=(buildah --root "$work/buildah" --runroot "$work/buildah-run" --storage-driver overlay)
cleanup() {
  if $have_docker; then
    docker rmi -f bench/build-tree bench/build-copy "$base" >/dev/null 2>&1 || true
  fi
  if $have_buildah && [ -d "$work/buildah" ]; then
    "${buildah[@]}" rm --all >/dev/null 2>&1 || true
    "${buildah[@]}" rmi --all -f >/dev/null 2>&1 || true
    umount "$work/buildah/overlay" 2>/dev/null || true
  fi
  if [ "${BENCH_KEEP:-}" = 1 ]; then
    note "data kept in $work"
  elif grep -q " $work/" /proc/self/mountinfo; then
    note "something is still mounted below $work; left it in place"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
log=$work/hyperfine.log



note "work dir $work; $runs runs per figure"
note "generating a $nfiles-file context with a 20-step Dockerfile and a ${data_mb} MB context"
CGO_ENABLED=0 go build -o "$work/buildgen" ./bench/buildgen
tree=$work/tree copyctx=$work/copy
changed=$("$work/buildgen" tree -o "$tree" -files "$nfiles" -from "$base")
"$work/buildgen" copy -o "$copyctx" -size "$data_mb" -from "$base"

# The base image: a root filesystem made from busybox, as scripts/demo.sh does.
mkdir -p "$work/bb/bin" "$work/bb/etc" "$work/bb/tmp"
cp "$bb" "$work/bb/bin/busybox"
for a in $("$bb" --list); do [ "$a" = busybox ] || ln -sf busybox "$work/bb/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$work/bb/etc/passwd"
tar -C "$work/bb" -cf "$work/bb.tar" .
"$strata" --root "$root" import -c 'CMD ["/bin/sh"]' -c 'ENV PATH=/bin' "$work/bb.tar" "$base" >/dev/null
buildah_base=$(script buildah-base \
  "c=\$(${buildah[*]} from -q scratch)" \
  "${buildah[*]} add -q \"\$c\" $work/bb.tar /" \
  "${buildah[*]} config --cmd /bin/sh --env PATH=/bin \"\$c\"" \
  "${buildah[*]} commit -q --rm \"\$c\" $base >/dev/null")
if $have_docker; then
  docker import -c 'CMD ["/bin/sh"]' -c 'ENV PATH=/bin' "$work/bb.tar" "$base" >/dev/null
fi
if $have_buildah; then "$buildah_base"; fi

# The peers that work here: NAME and the build command, tag and context
# left to add.
peers=() peer_cmds=()
if $have_docker; then
  peers+=("docker build (classic)") peer_cmds+=("env DOCKER_BUILDKIT=0 docker build -q -t")
  peers+=("docker build (BuildKit)") peer_cmds+=("env DOCKER_BUILDKIT=1 docker build -q -t")
else
  note "docker: not available (no daemon)"
fi
if $have_buildah; then
  peers+=("buildah bud --layers") peer_cmds+=("${buildah[*]} bud --layers -q -t")
else
  note "buildah: not available"
fi
strata_cmd="$strata --root $root build -q -t"

# Warm-up builds, so (1) and (2) start from a full cache. A peer whose
# build fails (say the classic builder was removed) is left out.
note "warm-up builds"
"$strata" --root "$root" build --progress plain -t bench/build-tree "$tree" >>"$log" 2>&1 ||
  { note "strata build failed; see below"; tail -20 "$log" >&2; exit 1; }
ok_peers=() ok_cmds=()
for i in "${!peers[@]}"; do
  # shellcheck disable=SC2086 # the command is words
  if ${peer_cmds[$i]} bench/build-tree "$tree" >>"$log" 2>&1; then
    ok_peers+=("${peers[$i]}") ok_cmds+=("${peer_cmds[$i]}")
  else
    note "${peers[$i]}: the warm-up build failed, left out (see $log)"
  fi
done

k=$((nfiles / 1000))
files_label="$nfiles files"
[ $((nfiles % 1000)) -ne 0 ] || files_label="${k}k files"

# ---- (1) no-op rebuild --------------------------------------------------
note "(1) no-op rebuild"
noop_s=$(median strata-noop "$runs" --warmup 1 -N "$strata_cmd bench/build-tree $tree")
noop_peer=()
for i in "${!ok_peers[@]}"; do
  noop_peer+=("$(median "peer$i-noop" "$runs" --warmup 1 -N "${ok_cmds[$i]} bench/build-tree $tree")")
done

# ---- (2) one file changed -------------------------------------------------
note "(2) rebuild after changing $changed"
change=$(script change-one "printf x >>$tree/$changed")
one_s=$(median strata-one "$runs" --warmup 1 -N --prepare "$change" "$strata_cmd bench/build-tree $tree")
one_peer=()
for i in "${!ok_peers[@]}"; do
  one_peer+=("$(median "peer$i-one" "$runs" --warmup 1 -N --prepare "$change" "${ok_cmds[$i]} bench/build-tree $tree")")
done

# ---- (3) cold build copying the data -------------------------------------
note "(3) cold build copying ${data_mb} MB"
touch_data="touch $copyctx/data/*"
strata_cold=$(script strata-cold "$strata --root $root rmi -f bench/build-copy >/dev/null 2>&1 || true" \
  "$strata --root $root builder prune -a -f >/dev/null" "$touch_data")
docker_cold=$(script docker-cold "docker rmi -f bench/build-copy >/dev/null 2>&1 || true" \
  "docker builder prune -af >/dev/null" "$touch_data")
buildah_cold=$(script buildah-cold "${buildah[*]} rmi --all -f >/dev/null" "$buildah_base" "$touch_data")
cold_s=$(median strata-cold "$runs" --warmup 1 -N --prepare "$strata_cold" "$strata_cmd bench/build-copy $copyctx")
cold_peer=()
for i in "${!ok_peers[@]}"; do
  prep=$docker_cold
  case ${ok_peers[$i]} in buildah*) prep=$buildah_cold ;; esac
  cold_peer+=("$(median "peer$i-cold" "$runs" --warmup 1 -N --prepare "$prep" "${ok_cmds[$i]} bench/build-copy $copyctx")")
done

# ---- rows ----------------------------------------------------------------
# rows_for LABEL STRATA_S TARGET EVERY -- PEER_S...: one row per peer; the
# target (peer/strata) is noted on the fastest peer's row, or on every row
# if EVERY is 1.
rows_for() {
  local label=$1 s=$2 want=$3 every=$4; shift 5
  local times=("$@") best=-1 i
  if [ ${#times[@]} -eq 0 ]; then
    row "$label" "$s" "no peer here (target: peer/strata $want)" -
    return
  fi
  for i in "${!times[@]}"; do
    if [ "$best" = -1 ] || awk -v a="${times[$i]}" -v b="${times[$best]}" 'BEGIN { exit !(a < b) }'; then best=$i; fi
  done
  for i in "${!times[@]}"; do
    local name=${ok_peers[$i]}
    if [ "$every" = 1 ] || [ "$i" = "$best" ]; then name="$name, target $want"; fi
    row "$label" "$s" "$name" "${times[$i]}"
  done
}
rows_for "build no-op (20 steps, $files_label)" "$noop_s" ">= 3x" 0 -- "${noop_peer[@]}"
rows_for "build, one file changed" "$one_s" ">= 2x" 0 -- "${one_peer[@]}"
rows_for "build cold, COPY ${data_mb} MB" "$cold_s" "> 1x" 1 -- "${cold_peer[@]}"
print_rows
