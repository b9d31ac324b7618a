#!/usr/bin/env bash
# Builds the Go programs of the local test cluster from their Go modules, at the versions pinned in
# versions.env, into a cache outside the repo (one folder per program and version). A cached
# program is never rebuilt, so only the first run pays for compiling.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
cache=${ETCD_ENV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/etcd-operator-env}
export GOTOOLCHAIN=$GO_TOOLCHAIN GOFLAGS=-mod=mod CGO_ENABLED=0
mkdir -p "$cache/src" "$cache/bin"

log() { printf '[build] %s\n' "$*" >&2; }

# wrapper_module DIR "MODULE@VERSION ..." [REPLACE_LINES]: a throwaway module that requires the
# modules, so `go build` builds their commands with exactly the dependency versions they ask for.
# Every module whose command is built must be listed: `go mod tidy` would pick the newest release
# of an unlisted one (and drag the others up to it).
wrapper_module() {
  local dir=$1 requirements=$2 replaces=${3:-} requirement
  mkdir -p "$dir"
  {
    echo "module etcd-operator-env/build"
    echo "go 1.24.0"
    for requirement in $requirements; do echo "require ${requirement/@/ }"; done
    [ -z "$replaces" ] || printf 'replace (\n%s\n)\n' "$replaces"
  } >"$dir/go.mod"
}

# build NAME VERSION "MODULE@VERSION ..." "PKG=OUT ..." [LDFLAGS] [REPLACES]
build() {
  local name=$1 version=$2 requirement=$3 targets=$4 ldflags=${5:-} replaces=${6:-}
  local out="$cache/bin/$name-$version" src="$cache/src/$name-$version"
  if [ -f "$out/.complete" ]; then return 0; fi
  local started=$SECONDS
  log "building $name $version (first run only)"
  wrapper_module "$src" "$requirement" "$replaces"
  local imports="" target
  for target in $targets; do imports+="	_ \"${target%%=*}\""$'\n'; done
  printf '//go:build tools\n\npackage build\n\nimport (\n%s)\n' "$imports" >"$src/tools.go"
  (cd "$src" && go mod tidy >/dev/null 2>&1 || go mod tidy)
  mkdir -p "$out"
  for target in $targets; do
    (cd "$src" && go build -trimpath -ldflags "-s -w $ldflags" -o "$out/${target##*=}" "${target%%=*}")
  done
  touch "$out/.complete"
  log "built $name $version in $((SECONDS - started)) s"
}

# Kubernetes publishes its staging modules (k8s.io/api, …) at v0.X.Y, while k8s.io/kubernetes's
# go.mod names them v0.0.0 with local replaces; pin every one of them to the matching release.
kubernetes_replaces() {
  local gomod staging_version="v0.${KUBERNETES_VERSION#v1.}"
  gomod=$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  grep -oE '^\s*k8s\.io/[a-z0-9-]+ => \./staging' "$gomod" | awk -v v="$staging_version" '{print "\t" $1 " => " $1 " " v}'
}

build_kubernetes() {
  local v=$KUBERNETES_VERSION minor
  minor=$(echo "$v" | cut -d. -f2)
  local ldflags="-X k8s.io/component-base/version.gitVersion=$v -X k8s.io/component-base/version.gitMajor=1"
  ldflags+=" -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
  ldflags+=" -X k8s.io/client-go/pkg/version.gitVersion=$v"
  local cmds="" cmd
  for cmd in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl; do
    cmds+="k8s.io/kubernetes/cmd/$cmd=$cmd "
  done
  [ -f "$cache/bin/kubernetes-$v/.complete" ] || build kubernetes "$v" "k8s.io/kubernetes@$v" "$cmds" "$ldflags" "$(kubernetes_replaces)"
}

# build_local NAME DIR: a small Go program of ours, cached under a hash of its main.go.
build_local() {
  local name=$1 dir=$2 digest out
  digest=$(sha256sum "$dir/main.go" | cut -c1-12)
  out="$cache/bin/$name-$digest"
  [ -f "$out/.complete" ] && return 0
  mkdir -p "$out"
  (cd "$dir" && go build -trimpath -ldflags "-s -w" -o "$out/$name" .)
  touch "$out/.complete"
}

# build_program NAME: one program of the environment, by the name the arguments use.
build_program() {
  case $1 in
    pause) build_local pause "$here/images/pause" ;;
    cri-teardown) build_local cri-teardown "$here/cri-teardown" ;;
    etcd)
      build etcd "$ETCD_VERSION" \
        "go.etcd.io/etcd/server/v3@$ETCD_VERSION go.etcd.io/etcd/etcdctl/v3@$ETCD_VERSION go.etcd.io/etcd/etcdutl/v3@$ETCD_VERSION" \
        "go.etcd.io/etcd/server/v3=etcd go.etcd.io/etcd/etcdctl/v3=etcdctl go.etcd.io/etcd/etcdutl/v3=etcdutl"
      ;;
    kubernetes) build_kubernetes ;;
    coredns) build coredns "$COREDNS_VERSION" "github.com/coredns/coredns@$COREDNS_VERSION" "github.com/coredns/coredns=coredns" ;;
    fake-gcs-server)
      build fake-gcs-server "$FAKE_GCS_SERVER_VERSION" "github.com/fsouza/fake-gcs-server@$FAKE_GCS_SERVER_VERSION" \
        "github.com/fsouza/fake-gcs-server=fake-gcs-server"
      ;;
    minio) build minio "$MINIO_VERSION" "github.com/minio/minio@$MINIO_VERSION" "github.com/minio/minio=minio" ;;
    # `helm version` should name the release, as the published binaries do.
    helm)
      build helm "$HELM_VERSION" "helm.sh/helm/v4@$HELM_VERSION" "helm.sh/helm/v4/cmd/helm=helm" \
        "-X helm.sh/helm/v4/internal/version.version=$HELM_VERSION"
      ;;
    *) log "unknown program $1" && return 2 ;;
  esac
}

# No arguments: everything. Names: only those (the unit tests need helm, not a whole cluster).
started=$SECONDS
for program in ${@:-pause cri-teardown etcd kubernetes coredns fake-gcs-server minio helm}; do
  build_program "$program"
done
log "programs present in $cache/bin ($((SECONDS - started)) s this run)"
