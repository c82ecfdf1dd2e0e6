#!/usr/bin/env bash
# make bench: strata's speed next to the peers installed here, from one run.
# Each figure is the median of several hyperfine runs (warm page cache).
#
#   (a) save and load of a ~500 MB, 5-layer image (70% incompressible data);
#       peers: skopeo copy docker-archive:X oci:DIR and
#       docker-archive:X docker-archive:Y, docker save/load with a daemon
#   (b) import of a 200 MB root filesystem tar, plain and gzip; peer: docker
#       import with a daemon; else strata's MB/s next to the hash floor
#   (c) `images` and `images --format json` with 2,000 images (target < 0.2 s)
#   (d) containers: `run --rm IMAGE true` latency, commit of one small change
#       on a small and on a big image, disk used by 10 containers of one image
#   (e) builds (scripts/bench-build.sh): no-op rebuild of a 20-step Dockerfile
#       with a 10,000-file context, the rebuild after one file changed, a cold
#       build copying 300 MB; peers: docker build (classic, BuildKit), buildah
#   (f) registries (scripts/bench-registry.sh): pull and push of a 1 GiB,
#       5-layer image against strata's registry and the CNCF registry next to
#       skopeo (and docker with a daemon); blob and manifest GET under wrk
#
# Knobs: BENCH_RUNS (3), BENCH_IMAGE_MB (500), BENCH_ROOTFS_MB (200),
# BENCH_IMAGES (2000), BENCH_DIR (.bench), BENCH_KEEP=1 keeps the data.
set -euo pipefail
cd "$(dirname "$0")/.."
bench_name=bench
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh
repo=$PWD

runs=${BENCH_RUNS:-3}
image_mb=${BENCH_IMAGE_MB:-500}
rootfs_mb=${BENCH_ROOTFS_MB:-200}
nimages=${BENCH_IMAGES:-2000}
strata=$repo/bin/strata

command -v hyperfine >/dev/null || { echo "bench: hyperfine is missing (make deps)" >&2; exit 1; }
[ -x "$strata" ] || { echo "bench: $strata is missing (make build)" >&2; exit 1; }
have_skopeo=false; command -v skopeo >/dev/null && have_skopeo=true
have_docker=false; command -v docker >/dev/null && docker info >/dev/null 2>&1 && have_docker=true

mkdir -p "${BENCH_DIR:-$repo/.bench}"
work=$(mktemp -d "${BENCH_DIR:-$repo/.bench}/run.XXXXXX")
cleanup() {
  $have_docker && docker rmi -f bench/big:latest bench/imported:latest >/dev/null 2>&1 || true
  if [ "${BENCH_KEEP:-}" = 1 ]; then echo "bench: data kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
log=$work/hyperfine.log



note "work dir $work; $runs runs per figure"
note "building the input generator"
CGO_ENABLED=0 go build -o "$work/benchgen" ./bench/benchgen
gen=$work/benchgen

# ---- (a) save and load of a multi-layer image --------------------------
note "(a) generating a ${image_mb} MiB, 5-layer docker-archive"
"$gen" image -o "$work/big.tar" -layers 5 -size "$image_mb" -tag bench/big:latest
big_bytes=$(stat -c %s "$work/big.tar")
"$strata" --root "$work/src" load -i "$work/big.tar" >/dev/null

note "(a) strata save / load"
save_s=$(median strata-save "$runs" --warmup 1 -N --prepare "rm -f $work/saved.tar" \
  "$strata --root $work/src save -o $work/saved.tar bench/big:latest")
load_s=$(median strata-load "$runs" --warmup 1 -N --prepare "rm -rf $work/dst" \
  "$strata --root $work/dst load -i $work/saved.tar")
rm -rf "$work/dst"
rt_s=$(awk -v a="$save_s" -v b="$load_s" 'BEGIN { print a + b }')

oci_s=- d2d_s=-
if $have_skopeo; then
  note "(a) skopeo copy"
  oci_s=$(median skopeo-oci "$runs" --warmup 1 -N --prepare "rm -rf $work/oci" \
    "skopeo copy -q docker-archive:$work/big.tar oci:$work/oci:big")
  d2d_s=$(median skopeo-d2d "$runs" --warmup 1 -N --prepare "rm -f $work/copy.tar" \
    "skopeo copy -q docker-archive:$work/big.tar docker-archive:$work/copy.tar:bench/big:latest")
  rm -rf "$work/oci" "$work/copy.tar"
else
  note "skopeo: not installed"
fi
row "load ${image_mb}MiB image (5 layers)" "$load_s" "skopeo docker-archive: -> oci: (gzips layers)" "$oci_s"
row "save + load (archive round trip)" "$rt_s" "skopeo docker-archive: -> docker-archive:" "$d2d_s"
if $have_docker; then
  note "(a) docker load / save"
  dload_s=$(median docker-load "$runs" --warmup 1 --prepare "docker rmi -f bench/big:latest >/dev/null 2>&1 || true" \
    "docker load -q -i $work/big.tar")
  dsave_s=$(median docker-save "$runs" --warmup 1 --prepare "rm -f $work/dsaved.tar" \
    "docker save -o $work/dsaved.tar bench/big:latest")
  rm -f "$work/dsaved.tar"
  row "load ${image_mb}MiB image (5 layers)" "$load_s" "docker load" "$dload_s"
  row "save ${image_mb}MiB image" "$save_s" "docker save" "$dsave_s"
else
  row "save ${image_mb}MiB image" "$save_s" "-" "-"
fi
rm -rf "$work/src" "$work/saved.tar" "$work/big.tar"

# ---- (b) import of a root filesystem tar -------------------------------
note "(b) generating a ${rootfs_mb} MiB root filesystem tar (+ gzip -6)"
"$gen" rootfs -o "$work/rootfs.tar" -size "$rootfs_mb"
gzip -6 -c "$work/rootfs.tar" >"$work/rootfs.tar.gz"
rootfs_bytes=$(stat -c %s "$work/rootfs.tar")
note "(b) strata import"
imp_s=$(median strata-import "$runs" --warmup 1 -N --prepare "rm -rf $work/imp" \
  "$strata --root $work/imp import $work/rootfs.tar bench/imported:latest")
impgz_s=$(median strata-import-gz "$runs" --warmup 1 -N --prepare "rm -rf $work/imp" \
  "$strata --root $work/imp import $work/rootfs.tar.gz bench/imported:latest")
hash_s=$(median sha256sum "$runs" --warmup 1 -N "sha256sum $work/rootfs.tar")
unz_s=$(median gunzip-sha256 "$runs" --warmup 1 "gzip -dc $work/rootfs.tar.gz | sha256sum")
rm -rf "$work/imp"
if $have_docker; then
  dimp_s=$(median docker-import "$runs" --warmup 1 "docker import $work/rootfs.tar bench/imported:latest")
  dimpgz_s=$(median docker-import-gz "$runs" --warmup 1 "docker import $work/rootfs.tar.gz bench/imported:latest")
  row "import ${rootfs_mb}MiB tar" "$imp_s" "docker import" "$dimp_s"
  row "import ${rootfs_mb}MiB tar.gz" "$impgz_s" "docker import" "$dimpgz_s"
else
  row "import ${rootfs_mb}MiB tar ($(mbps "$rootfs_bytes" "$imp_s"))" "$imp_s" "floor: sha256sum (not a peer)" "$hash_s"
  row "import ${rootfs_mb}MiB tar.gz ($(mbps "$rootfs_bytes" "$impgz_s"))" "$impgz_s" "floor: gzip -dc | sha256sum (not a peer)" "$unz_s"
fi
rm -f "$work/rootfs.tar" "$work/rootfs.tar.gz"

# ---- (c) listing a store of many images --------------------------------
note "(c) loading $nimages distinct images (two loads in parallel)"
half=$((nimages / 2))
"$gen" many -o "$work/many1.tar" -start 0 -n "$half" -repo bench/many
"$gen" many -o "$work/many2.tar" -start "$half" -n "$((nimages - half))" -repo bench/many
setup_start=$(date +%s.%N)
"$strata" --root "$work/many" load -i "$work/many1.tar" >/dev/null &
p1=$!
"$strata" --root "$work/many" load -i "$work/many2.tar" >/dev/null &
p2=$!
wait "$p1"
wait "$p2"
setup_s=$(awk -v a="$setup_start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
listed=$("$strata" --root "$work/many" images -q | wc -l)
[ "$listed" -eq "$nimages" ] || { echo "bench: store lists $listed images, want $nimages" >&2; exit 1; }
note "(c) strata images"
ls_s=$(median strata-images 10 --warmup 2 -N "$strata --root $work/many images")
lsj_s=$(median strata-images-json 10 --warmup 2 -N "$strata --root $work/many images --format json")
target() { awk -v s="$1" 'BEGIN { print (s < 0.2 ? "target < 0.2 s: met" : "target < 0.2 s: MISSED") }'; }
row "images ($nimages images)" "$ls_s" "$(target "$ls_s")" "-"
row "images --format json ($nimages)" "$lsj_s" "$(target "$lsj_s")" "-"
rm -rf "$work/many" "$work"/many?.tar

# ---- (d) containers ------------------------------------------------------
if [ "$(id -u)" = 0 ] && command -v runc >/dev/null && [ -x /bin/busybox ]; then
  note "(d) containers: run --rm latency, commit cost, disk use of 10 containers"
  croot=$work/ctr
  mkdir -p "$work/bb/bin" "$work/bb/etc"
  cp /bin/busybox "$work/bb/bin/"
  for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$work/bb/bin/$a"; done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$work/bb/etc/passwd"
  tar -C "$work/bb" -cf "$work/bb.tar" .
  head -c $((rootfs_mb << 20)) /dev/urandom >"$work/bb/big.bin"
  tar -C "$work/bb" -cf "$work/big.tar" .
  "$strata" --root "$croot" import "$work/bb.tar" bench/bb >/dev/null
  "$strata" --root "$croot" import "$work/big.tar" bench/big >/dev/null
  run_s=$(median strata-run "$runs" --warmup 2 -N "$strata --root $croot run --rm --network none bench/bb true")
  runbr_s=$(median strata-run-bridge "$runs" --warmup 2 -N "$strata --root $croot run --rm bench/bb true")
  if $have_docker; then
    docker import "$work/bb.tar" bench/bb >/dev/null
    drun_s=$(median docker-run "$runs" --warmup 2 "docker run --rm bench/bb true")
    row "run --rm IMAGE true" "$runbr_s" "docker run --rm" "$drun_s"
  else
    row "run --rm IMAGE true (bridge)" "$runbr_s" "-" "-"
  fi
  row "run --rm --network none IMAGE true" "$run_s" "-" "-"
  for img in bb big; do
    "$strata" --root "$croot" run -d --name "c-$img" --network none "bench/$img" sleep 1000 >/dev/null
    "$strata" --root "$croot" exec "c-$img" sh -c 'echo change > /changed'
  done
  commit_small=$(median strata-commit-small "$runs" --warmup 1 -N "$strata --root $croot commit c-bb")
  commit_big=$(median strata-commit-big "$runs" --warmup 1 -N "$strata --root $croot commit c-big")
  row "commit 1 small change, 2 MB image" "$commit_small" "-" "-"
  row "commit 1 small change, ${rootfs_mb} MB image" "$commit_big" "same change, 2 MB image" "$commit_small"
  before=$(du -sb "$croot/snapshots" | cut -f1)
  for i in $(seq 1 10); do
    "$strata" --root "$croot" run -d --name "d$i" --network none bench/big sh -c 'head -c 1048576 /dev/urandom > /own; sleep 1000' >/dev/null
  done
  sleep 1
  after=$(du -sb "$croot/snapshots" | cut -f1)
  grew=$((after - before))
  disk_note="10 containers of the ${rootfs_mb} MB image: +$((grew / 1000)) kB on disk (own writes: 10 x 1049 kB)"
  "$strata" --root "$croot" rm -f $("$strata" --root "$croot" ps -aq) >/dev/null
else
  disk_note="containers: skipped (needs root, runc and /bin/busybox)"
fi

# ---- (e) Dockerfile builds (scripts/bench-build.sh) ----------------------
build_rows=$(BENCH_RUNS=$runs scripts/bench-build.sh)
mapfile -t -O "${#rows[@]}" rows <<<"$build_rows"

# ---- (f) registries (scripts/bench-registry.sh) ---------------------------
reg_rows=$(BENCH_RUNS=$runs scripts/bench-registry.sh)
mapfile -t -O "${#rows[@]}" rows <<<"$reg_rows"

# ---- summary -----------------------------------------------------------
echo
echo "strata $("$strata" version --format '{{.Version}}') on $(nproc) CPUs, $(uname -r); medians of $runs runs (images: 10)"
echo "inputs: image $((big_bytes / 1000000)) MB archive, rootfs $((rootfs_bytes / 1000000)) MB tar; $nimages images loaded in $(secs "$setup_s") (setup, not timed)"
$have_docker || echo "docker: not available (no daemon)"
$have_skopeo || echo "skopeo: not installed"
printf '%-34s %9s   %-46s %9s %8s\n' "benchmark" "strata" "peer" "peer" "peer/strata"
for r in "${rows[@]}"; do echo "$r"; done
echo "(peer/strata above 1: strata is faster)"
echo "$disk_note"
