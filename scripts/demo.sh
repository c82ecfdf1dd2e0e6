#!/usr/bin/env bash
# make demo: the foundation's main job, end to end, on a private root.
# Imports a root filesystem made from Debian's busybox-static, tags it,
# lists, inspects, saves and loads it back.
set -euo pipefail
cd "$(dirname "$0")/.."
strata() { echo "\$ strata $*" >&2; bin/strata "$@"; }

work=$(mktemp -d /tmp/strata-demo.XXXXXX)
regpid=""
trap '[ -n "$regpid" ] && kill "$regpid" 2>/dev/null; rm -rf "$work"' EXIT
export STRATA_ROOT="$work/root"

bb=$(command -v busybox || echo /bin/busybox)
[ -x "$bb" ] || { echo "demo: busybox not found (apt-get install -y busybox-static)" >&2; exit 1; }
mkdir -p "$work/rootfs/bin" "$work/rootfs/etc" "$work/rootfs/tmp"
cp "$bb" "$work/rootfs/bin/busybox"
for app in $("$bb" --list); do [ "$app" = busybox ] || ln -sf busybox "$work/rootfs/bin/$app"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$work/rootfs/etc/passwd"
tar -C "$work/rootfs" -czf "$work/busybox.tar.gz" .
ver=$("$bb" 2>&1 | head -1 | sed -n 's/^BusyBox v\([0-9.]*\).*/\1/p')

echo "== import a root filesystem tarball"
strata import -c 'CMD ["/bin/sh"]' -c 'ENV PATH=/bin' -m "busybox-static $ver" "$work/busybox.tar.gz" busybox:latest
strata tag busybox:latest "busybox:${ver:-1}"
strata tag busybox "localhost:5000/demo/busybox:v1"
echo "== list, filter, format"
strata images
strata images --filter 'reference=*:latest'
strata images --format '{{.Repository}}:{{.Tag}} {{.Size}}'
echo "== inspect and history"
strata image inspect --format '{{.Id}} {{.Os}}/{{.Architecture}} layers={{len .RootFS.Layers}} cmd={{json .Config.Cmd}}' busybox
strata history busybox
echo "== save, remove, load back"
strata save -o "$work/busybox-image.tar" busybox:latest "busybox:${ver:-1}"
ls -l "$work/busybox-image.tar"
strata rmi -f busybox:latest "busybox:${ver:-1}" localhost:5000/demo/busybox:v1
strata images
strata load -i "$work/busybox-image.tar"
strata images
echo "== run containers on the image's copy-on-write layers"
strata run --rm busybox echo "hello from a container"
strata run -d --name web -p 127.0.0.1:18080:80 busybox httpd -f -p 80 -h /etc
strata ps
curl -fsS http://127.0.0.1:18080/passwd || wget -qO- http://127.0.0.1:18080/passwd
strata exec web sh -c 'echo "served by strata" > /etc/motd; rm /bin/vi'
strata diff web
strata commit -m "add a motd" -a "demo" web busybox:motd
strata history busybox:motd
strata run --rm busybox:motd cat /etc/motd
strata stop -t 1 web
strata rm web
strata run -d --name greeter busybox sh -c 'echo hello; echo world >&2'
strata wait greeter
strata logs -t greeter
strata ps -a
strata rm greeter
echo "== build an image from a Dockerfile: FROM scratch, a static binary, CMD"
CGO_ENABLED=0 go build -trimpath -o examples/hello/hello ./examples/hello
cat examples/hello/Dockerfile
strata build --progress plain -t hello:demo examples/hello
strata run --rm hello:demo
echo "== rebuild: every step comes from the cache; a changed binary misses, and says why"
strata build --progress plain -t hello:demo examples/hello
touch examples/hello/main.go && echo >> examples/hello/hello
strata build --progress plain --explain-cache -t hello:demo examples/hello
strata history hello:demo
echo "== disk usage and a full check"
strata system df
strata system check
echo "== a private registry: strata registry serve on loopback, push, remove, pull back, run"
port=$(( 20000 + RANDOM % 20000 ))
bin/strata registry serve --addr "127.0.0.1:$port" --root "$work/registry" >"$work/registry.log" 2>&1 &
regpid=$!
for _ in $(seq 50); do curl -fsS "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break; sleep 0.1; done
strata tag hello:demo "127.0.0.1:$port/demo/hello:1.0"
strata push "127.0.0.1:$port/demo/hello:1.0"
strata push "127.0.0.1:$port/demo/hello:1.0"
strata rmi hello:demo "127.0.0.1:$port/demo/hello:1.0"
strata pull "127.0.0.1:$port/demo/hello:1.0"
strata images --digests
strata run --rm "127.0.0.1:$port/demo/hello:1.0"
strata search --limit 5 "127.0.0.1:$port/hello"
