# shellcheck shell=bash
# Builds the Go binaries (Kubernetes control plane, etcd, kwok) from their wrapper modules
# under testbed/{k8s,etcd,kwok}, into version-keyed directories of the cache. Sourced.
#
# A cache entry is valid when every binary exists, the stamp (hash of the wrapper's go.mod and
# go.sum plus the build flags) matches, and `BINARY --version` reports the pinned version.
# A valid entry never runs `go build`.

# module_version DIR MODULE: the version DIR/go.mod requires for MODULE.
module_version() {
  awk -v m="$2" '($1 == m && $2 ~ /^v/) { print $2; exit } ($1 == "require" && $2 == m) { print $3; exit }' "$1/go.mod"
}

GO_TAGS=selinux,notest,grpcnotrace

# build_stamp MODDIR EXTRA...: identifies a build: the wrapper's go.mod/go.sum and the flags.
build_stamp() {
  local mod=$1; shift
  { cat "$mod/go.mod" "$mod/go.sum"; printf '%s\n' "CGO_ENABLED=0 -trimpath -tags=$GO_TAGS" "$@"; } |
    sha256sum | cut -c1-16
}

bin_version() {
  case $1 in
  */kubectl) "$1" version --client 2>&1 | head -n1 ;;
  */kubeadm) "$1" version -o short 2>&1 | head -n1 ;;
  *) "$1" --version 2>&1 | head -n1 ;;
  esac
}

# cache_valid BINDIR STAMP VERSION_REGEX BIN...: all BINs exist, stamp matches, --version matches.
cache_valid() {
  local dir=$1 stamp=$2 re=$3 b; shift 3
  [[ -f $dir/.stamp && $(<"$dir/.stamp") == "$stamp" ]] || return 1
  for b in "$@"; do
    [[ -x $dir/$b ]] || return 1
    [[ $(bin_version "$dir/$b") =~ $re ]] || return 1
  done
}

need_go() {
  command -v go >/dev/null 2>&1 || fail go "the Go toolchain is not on PATH (need >= the wrapper modules' go line)"
}

# go_build COMPONENT MODDIR BINDIR STAMP LDFLAGS PKG...: one `go build` of all PKGs into BINDIR.
go_build() {
  local comp=$1 moddir=$2 bindir=$3 stamp=$4 ldflags=$5; shift 5
  local log=$LOGS/build-$comp.log tmp=$bindir.tmp
  need_go
  rm -rf "$tmp"
  mkdir -p "$tmp" "$LOGS"
  : >"$log"
  (
    cd "$moddir"
    export CGO_ENABLED=0
    run_logged "$comp build" "$log" go build -trimpath -tags="$GO_TAGS" \
      -ldflags="$ldflags" -o "$tmp/" "$@"
  ) || exit 1
  echo "$stamp" >"$tmp/.stamp"
  rm -rf "$bindir"
  mv "$tmp" "$bindir"
  STEP_RESULT=built
}

# kubelet, kubeadm and kube-proxy are for the kind node image (testbed/lib/kind.sh): the same
# build, so the node runs exactly the control plane's version.
K8S_BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kubeadm kube-proxy)

build_k8s() {
  local mod=$TESTBED_DIR/k8s v ldflags="-s -w" p date stamp minor
  v=$(module_version "$mod" k8s.io/kubernetes)
  [[ $v == "$K8S_VERSION" ]] || fail "k8s binaries" "testbed/k8s/go.mod requires k8s.io/kubernetes $v, scripts pin $K8S_VERSION"
  stamp=$(build_stamp "$mod" "version-ldflags")
  if cache_valid "$K8S_BIN" "$stamp" "${K8S_VERSION}\$" "${K8S_BINARIES[@]}"; then
    STEP_RESULT=cached
    return
  fi
  minor=${K8S_VERSION#v1.}
  minor=${minor%%.*}
  date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor"
    ldflags+=" -X $p.gitTreeState=clean -X $p.buildDate=$date" # gitCommit: not in the module zip
  done
  go_build k8s "$mod" "$K8S_BIN" "$stamp" "$ldflags" "${K8S_BINARIES[@]/#/k8s.io/kubernetes/cmd/}"
  cache_valid "$K8S_BIN" "$stamp" "${K8S_VERSION}\$" "${K8S_BINARIES[@]}" ||
    fail "k8s binaries" "built binaries do not report $K8S_VERSION" "$LOGS/build-k8s.log"
}

build_etcd() {
  local mod=$TESTBED_DIR/etcd v stamp
  v=$(module_version "$mod" go.etcd.io/etcd/server/v3)
  [[ $v == "$ETCD_VERSION" ]] || fail "etcd binary" "testbed/etcd/go.mod requires etcd server $v, scripts pin $ETCD_VERSION"
  stamp=$(build_stamp "$mod")
  if cache_valid "$ETCD_BIN" "$stamp" "etcd Version: ${ETCD_VERSION#v}" etcd; then
    STEP_RESULT=cached
    return
  fi
  go_build etcd "$mod" "$ETCD_BIN" "$stamp" "-s -w" go.etcd.io/etcd/server/v3
  # `go build -o DIR/` names the binary after the module path (".../server/v3" -> "server")
  local n
  for n in server v3; do
    if [[ -x $ETCD_BIN/$n && ! -e $ETCD_BIN/etcd ]]; then mv "$ETCD_BIN/$n" "$ETCD_BIN/etcd"; fi
  done
  cache_valid "$ETCD_BIN" "$stamp" "etcd Version: ${ETCD_VERSION#v}" etcd ||
    fail "etcd binary" "built binary does not report $ETCD_VERSION" "$LOGS/build-etcd.log"
}

# kwok >= 0.8 has no built-in stages (kwokctl supplies them). Assemble the defaults kwokctl uses
# from the module's own YAML. Node heartbeat by status update, not lease: a restarted kwok gets a
# new identity and would otherwise wait for the old instance's node leases to expire (~40s).
KWOK_STAGES=(node/fast/node-initialize node/heartbeat/node-heartbeat
  pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete)

kwok_stages() {
  local dir f
  dir=$(cd "$1" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok) || fail "kwok binary" "cannot locate the kwok module source"
  for f in "${KWOK_STAGES[@]}"; do
    [[ -s $dir/kustomize/stage/$f.yaml ]] || fail "kwok binary" "missing $dir/kustomize/stage/$f.yaml"
    echo "---"
    cat "$dir/kustomize/stage/$f.yaml"
  done
}

build_kwok() {
  local mod=$TESTBED_DIR/kwok v stamp
  v=$(module_version "$mod" sigs.k8s.io/kwok)
  [[ $v == "$KWOK_VERSION" ]] || fail "kwok binary" "testbed/kwok/go.mod requires kwok $v, scripts pin $KWOK_VERSION"
  stamp=$(build_stamp "$mod" "stages: ${KWOK_STAGES[*]}")
  if cache_valid "$KWOK_BIN" "$stamp" "${KWOK_VERSION#v}" kwok && [[ -s $KWOK_BIN/stages.yaml ]]; then
    STEP_RESULT=cached
    return
  fi
  go_build kwok "$mod" "$KWOK_BIN" "$stamp" "-s -w" sigs.k8s.io/kwok/cmd/kwok
  kwok_stages "$mod" >"$KWOK_BIN/stages.yaml.tmp"
  mv "$KWOK_BIN/stages.yaml.tmp" "$KWOK_BIN/stages.yaml"
  cache_valid "$KWOK_BIN" "$stamp" "${KWOK_VERSION#v}" kwok ||
    fail "kwok binary" "built binary does not report $KWOK_VERSION" "$LOGS/build-kwok.log"
}
