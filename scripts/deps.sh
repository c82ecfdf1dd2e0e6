#!/usr/bin/env bash
# Installs the Debian packages strata's tests, demo and benchmarks use, but
# only those that are missing. Fails with a clear message where it cannot.
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1; }
have skopeo || need+=(skopeo)
[ -x /bin/busybox ] || have busybox || need+=(busybox-static)
have xz || need+=(xz-utils)
have bzip2 || need+=(bzip2)
have zstd || need+=(zstd)
have hyperfine || need+=(hyperfine)
have runc || have crun || need+=(runc)
have iptables || need+=(iptables)
have debootstrap || need+=(debootstrap)
have curl || need+=(curl)
have git || need+=(git)
have docker-registry || [ -x /usr/bin/docker-registry ] || need+=(docker-registry)
have wrk || need+=(wrk)

# Go tools the registry tests use (an S3 server, registry clients): best
# effort, the tests that need them skip with a reason when they are missing.
gobin=$(go env GOPATH 2>/dev/null)/bin
go_tool() {
  have "$1" || [ -x "$gobin/$1" ] && return 0
  echo "deps: go install $2"
  GOFLAGS= go install "$2" || echo "deps: could not install $1 ($2); its tests will be skipped" >&2
}
if have go; then
  go_tool versitygw github.com/versity/versitygw/cmd/versitygw@v1.8.0
  go_tool crane github.com/google/go-containerregistry/cmd/crane@v0.20.6
fi

[ ${#need[@]} -eq 0 ] && exit 0
if ! have apt-get; then
  echo "deps: missing ${need[*]} and there is no apt-get to install them; install them by hand" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
  if have sudo; then sudo="sudo"; else
    echo "deps: missing ${need[*]}; run as root or install them: apt-get install -y ${need[*]}" >&2
    exit 1
  fi
fi
echo "deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >/dev/null || { echo "deps: apt-get update failed (no network to the Debian mirror?)" >&2; exit 1; }
$sudo apt-get install -y -qq "${need[@]}" >/dev/null || { echo "deps: apt-get install ${need[*]} failed" >&2; exit 1; }
