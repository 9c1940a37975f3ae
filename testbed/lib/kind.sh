# shellcheck shell=bash
# Real kind clusters on these machines (docs/design/testbed.md, "kind"): the host's runtime
# wrapper for dockerd, the pinned `kind` binary, crictl, CoreDNS, and a kind node image built
# here from the base image, Debian's packages and the test bed's Kubernetes build, with every
# image kubeadm starts already in the node's containerd. Nothing is pulled. Sourced.

KIND_VERSION=v0.30.0     # sigs.k8s.io/kind; its module also provides the node's files
CRICTL_VERSION=v1.34.0   # sigs.k8s.io/cri-tools, the 1.34 line
LPP_VERSION=v0.0.30      # github.com/rancher/local-path-provisioner (kind's default storage)
LPP_IMAGE=nexus-dev.local/testbed/local-path-provisioner:$LPP_VERSION
LPP_HELPER_IMAGE=nexus-dev.local/testbed/local-path-helper:$DEBIAN_SUITE
PODROUTES_IMAGE=nexus-dev.local/testbed/kind-podroutes:1 # default-cni.yaml names it
KIND_NODE_IMAGE=nexus-dev.local/testbed/kind-node:$K8S_VERSION
KIND_HELLO_IMAGE=nexus-dev.local/testbed/kind-hello:1
KIND_HASH_LABEL=dev.nexus.testbed.inputs
KIND_VERIFY_CLUSTER=nexus-testbed-verify
RUNTIME_NAME=nexus-runc

KIND_DIR=$TESTBED_DIR/kind
KIND_BIN=$CACHE/kind-$KIND_VERSION/bin
CRICTL_BIN=$CACHE/crictl-$CRICTL_VERSION/bin
LPP_BIN=$CACHE/local-path-provisioner-$LPP_VERSION/bin
KIND_TOOLS_BIN=$CACHE/kind-tools/bin
RUNC_WRAPPER=$KIND_TOOLS_BIN/nexus-runc
COREDNS_BIN= # set by coredns_dir (needs testbed/kind/coredns/go.mod)

KIND_IMAGE_BUILT=0 # set to 1 when `up` (re)built the node image (triggers verify_kind)

coredns_version() { module_version "$KIND_DIR/coredns" github.com/coredns/coredns; }
COREDNS_BIN=$CACHE/coredns-$(coredns_version)/bin

# ---- small Go programs: the runtime wrapper, the pause process, the check workload ----
KIND_TOOLS=(nexus-runc pause hello podroutes)

kind_tools_stamp() {
  (cd "$KIND_DIR/tools" && cat go.mod ./*/*.go) | { cat; printf '%s\n' "CGO_ENABLED=0 -trimpath -s -w"; } |
    sha256sum | cut -c1-16
}

build_kind_tools() {
  local stamp t ok=1
  stamp=$(kind_tools_stamp)
  if [[ -f $KIND_TOOLS_BIN/.stamp && $(<"$KIND_TOOLS_BIN/.stamp") == "$stamp" ]]; then
    for t in "${KIND_TOOLS[@]}"; do [[ -x $KIND_TOOLS_BIN/$t ]] || ok=0; done
    if ((ok)); then STEP_RESULT=cached; return; fi
  fi
  go_build kind-tools "$KIND_DIR/tools" "$KIND_TOOLS_BIN" "$stamp" "-s -w" "${KIND_TOOLS[@]/#/./}"
}

# ---- CoreDNS: kubeadm's plugins only (testbed/kind/coredns/main.go) ----
build_coredns() {
  local mod=$KIND_DIR/coredns stamp v
  v=$(coredns_version)
  stamp=$(build_stamp "$mod" "$(cat "$mod/main.go")")
  if cache_valid "$COREDNS_BIN" "$stamp" "CoreDNS-${v#v}" coredns; then
    STEP_RESULT=cached
    return
  fi
  go_build coredns "$mod" "$COREDNS_BIN" "$stamp" "-s -w" .
  cache_valid "$COREDNS_BIN" "$stamp" "CoreDNS-${v#v}" coredns ||
    fail coredns "built binary does not report CoreDNS ${v#v}" "$LOGS/build-coredns.log"
}

# go_install COMPONENT BINDIR PKG@VERSION BIN VERSION_REGEX [LDFLAGS]: a released main without
# replace directives (kind, crictl), checksum-verified through the module proxy as usual.
go_install() {
  local comp=$1 bindir=$2 pkg=$3 bin=$4 re=$5 ldflags="-s -w ${6:-}"
  local stamp log=$LOGS/build-$comp.log tmp=$bindir.tmp
  stamp=$(printf '%s\n' "$pkg" "CGO_ENABLED=0 -trimpath $ldflags" | sha256sum | cut -c1-16)
  if cache_valid "$bindir" "$stamp" "$re" "$bin"; then STEP_RESULT=cached; return; fi
  need_go
  rm -rf "$tmp"
  mkdir -p "$tmp" "$LOGS"
  : >"$log"
  (
    cd /
    export CGO_ENABLED=0 GOBIN=$tmp
    run_logged "$comp build" "$log" go install -trimpath -ldflags="$ldflags" "$pkg"
  ) || exit 1
  echo "$stamp" >"$tmp/.stamp"
  rm -rf "$bindir"
  mv "$tmp" "$bindir"
  cache_valid "$bindir" "$stamp" "$re" "$bin" || fail "$comp" "built binary does not report $re" "$log"
  STEP_RESULT=built
}

build_kind() { go_install kind "$KIND_BIN" "sigs.k8s.io/kind@$KIND_VERSION" kind "kind version ${KIND_VERSION#v}"; }
build_crictl() {
  go_install crictl "$CRICTL_BIN" "sigs.k8s.io/cri-tools/cmd/crictl@$CRICTL_VERSION" crictl "$CRICTL_VERSION" \
    "-X sigs.k8s.io/cri-tools/pkg/version.Version=$CRICTL_VERSION"
}

build_lpp() {
  go_install local-path-provisioner "$LPP_BIN" "github.com/rancher/local-path-provisioner@$LPP_VERSION" \
    local-path-provisioner "version $LPP_VERSION" "-X main.VERSION=$LPP_VERSION"
}

kind_builds() {
  step "kind tools" build_kind_tools
  step "kind binary" build_kind
  step "crictl binary" build_crictl
  step "coredns binary" build_coredns
  step "local-path binary" build_lpp
}

# ---- privileged containers through the runtime wrapper ----

check_privileged() {
  local log=$LOGS/dockerd.log out
  if ((DOCKERD_CHECKED)); then STEP_RESULT=known; return; fi # our dockerd, with the wrapper
  if ! out=$(docker run --rm --privileged "$BASE_IMAGE" sh -c 'grep CapEff /proc/self/status' 2>&1); then
    printf '%s\n' "$out" >>"$log"
    fail dockerd "docker run --privileged fails (a dockerd not started by the test bed must use $RUNC_WRAPPER as its default runtime: dockerd --add-runtime=$RUNTIME_NAME=$RUNC_WRAPPER --default-runtime=$RUNTIME_NAME)" "$log"
  fi
  STEP_RESULT=passed
}

# ---- the node image ----
kind_module_dir() {
  (cd / && go mod download -json "sigs.k8s.io/kind@$KIND_VERSION") |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])'
}

# Every input of the node image: this script up to its end-to-end check (so editing the check
# rebuilds nothing), testbed/kind/node, the binaries' stamps, the versions.
kind_node_hash() {
  {
    printf '%s\n' "$KIND_VERSION" "$CRICTL_VERSION" "$K8S_VERSION" "$ETCD_VERSION" "$DEBIAN_SUITE"
    sed '/^# ---- end-to-end check/q' "$TESTBED_DIR/lib/kind.sh"
    (cd "$KIND_DIR/node" && find . -type f | LC_ALL=C sort | xargs cat)
    cat "$K8S_BIN/.stamp" "$ETCD_BIN/.stamp" "$COREDNS_BIN/.stamp" "$KIND_TOOLS_BIN/.stamp" "$CRICTL_BIN/.stamp" \
      "$LPP_BIN/.stamp" 2>/dev/null
  } | sha256sum | cut -c1-16
}

image_label() { docker image inspect -f "{{index .Config.Labels \"$2\"}}" "$1" 2>/dev/null; }

kind_node_current() {
  image_exists "$KIND_NODE_IMAGE" && [[ $(image_label "$KIND_NODE_IMAGE" "$KIND_HASH_LABEL") == "$(kind_node_hash)" ]]
}

# docker_build_from LOG IMAGE CONTEXT: build IMAGE from CONTEXT's Dockerfile (never pulls).
docker_build_from() {
  local log=$1 image=$2 ctx=$3
  run_logged kind-node-image "$log" docker build --pull=false -q -t "$image" "$ctx"
}

# The images kubeadm starts, under the names kubeadm asks for, and those of the node's storage
# manifest (testbed/kind/node/files/kind/manifests/default-storage.yaml).
kind_component_images() {
  local log=$1 work=$2 img repo name ctx
  KIND_IMAGES=()
  mapfile -t KIND_IMAGES < <("$K8S_BIN/kubeadm" config images list --kubernetes-version "$K8S_VERSION" 2>>"$log")
  ((${#KIND_IMAGES[@]} >= 7)) || fail kind-node-image "kubeadm config images list gave: ${KIND_IMAGES[*]}" "$log"
  KIND_IMAGES+=("$LPP_IMAGE" "$LPP_HELPER_IMAGE" "$PODROUTES_IMAGE")
  for img in "${KIND_IMAGES[@]}"; do
    repo=${img%:*}
    name=${repo##*/}
    ctx=$work/img-$name
    rm -rf "$ctx"
    mkdir -p "$ctx/bin"
    case $name in
    kube-apiserver | kube-controller-manager | kube-scheduler)
      ln "$K8S_BIN/$name" "$ctx/bin/" 2>/dev/null || cp "$K8S_BIN/$name" "$ctx/bin/"
      printf '%s\n' 'FROM scratch' 'COPY bin/ /usr/local/bin/' 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
        "ENTRYPOINT [\"/usr/local/bin/$name\"]" >"$ctx/Dockerfile"
      ;;
    etcd) # the test bed's etcd build, under the tag kubeadm asks for
      cp "$ETCD_BIN/etcd" "$ctx/bin/"
      printf '%s\n' 'FROM scratch' 'COPY bin/ /usr/local/bin/' 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
        'ENTRYPOINT ["/usr/local/bin/etcd"]' >"$ctx/Dockerfile"
      ;;
    coredns)
      cp "$COREDNS_BIN/coredns" "$ctx/bin/"
      printf '%s\n' 'FROM scratch' 'COPY bin/coredns /coredns' 'EXPOSE 53 53/udp' \
        'ENTRYPOINT ["/coredns"]' >"$ctx/Dockerfile"
      ;;
    pause)
      cp "$KIND_TOOLS_BIN/pause" "$ctx/bin/"
      printf '%s\n' 'FROM scratch' 'COPY bin/pause /pause' 'USER 65535:65535' \
        'ENTRYPOINT ["/pause"]' >"$ctx/Dockerfile"
      ;;
    kube-proxy) # needs iptables, ip6tables, conntrack, nft
      cp "$K8S_BIN/kube-proxy" "$ctx/bin/"
      printf '%s\n' "FROM $BASE_IMAGE" \
        'RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends iptables nftables conntrack ipset kmod && rm -rf /var/lib/apt/lists/*' \
        'COPY bin/ /usr/local/bin/' 'ENTRYPOINT ["/usr/local/bin/kube-proxy"]' >"$ctx/Dockerfile"
      ;;
    local-path-provisioner)
      cp "$LPP_BIN/local-path-provisioner" "$ctx/bin/"
      printf '%s\n' 'FROM scratch' 'COPY bin/ /usr/local/bin/' 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
        'ENTRYPOINT ["/usr/local/bin/local-path-provisioner"]' >"$ctx/Dockerfile"
      ;;
    kind-podroutes) # the CNI manifest's DaemonSet; needs `ip`
      cp "$KIND_TOOLS_BIN/podroutes" "$ctx/bin/"
      printf '%s\n' "FROM $BASE_IMAGE" \
        'RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends iproute2 && rm -rf /var/lib/apt/lists/*' \
        'COPY bin/ /usr/local/bin/' 'ENTRYPOINT ["/usr/local/bin/podroutes"]' >"$ctx/Dockerfile"
      ;;
    local-path-helper) # runs the provisioner's setup/teardown scripts: sh, mkdir, rm
      printf '%s\n' "FROM $BASE_IMAGE" >"$ctx/Dockerfile"
      ;;
    *) fail kind-node-image "kubeadm asks for $img, which the test bed does not build" "$log" ;;
    esac
    docker_build_from "$log" "$img" "$ctx"
  done
}

kind_node_image() {
  local h log=$LOGS/image-kind-node.log work=$CACHE/tmp/kind-node ctx kdir stage c i
  h=$(kind_node_hash)
  if image_exists "$KIND_NODE_IMAGE" && [[ $(image_label "$KIND_NODE_IMAGE" "$KIND_HASH_LABEL") == "$h" ]]; then
    STEP_RESULT=cached
    return
  fi
  : >"$log"
  local old
  old=$(docker image inspect -f '{{.Id}}' "$KIND_NODE_IMAGE" 2>/dev/null) || old=
  kdir=$(kind_module_dir) || fail kind-node-image "cannot locate the sigs.k8s.io/kind module" "$log"
  rm -rf "$work"
  ctx=$work/node
  mkdir -p "$ctx/bin" "$ctx/sbin" "$ctx/kube"
  cp -r "$kdir/images/base/files" "$ctx/kind-files"
  chmod -R u+w,go-w,a+rX "$ctx/kind-files" # the module cache is read-only
  cp -r "$KIND_DIR/node/Dockerfile" "$KIND_DIR/node/files" "$ctx/"
  printf '%s' "$K8S_VERSION" >"$ctx/files/kind/version"
  cp "$CRICTL_BIN/crictl" "$ctx/bin/"
  cp "$RUNC_WRAPPER" "$ctx/sbin/"
  for i in kubelet kubeadm kubectl; do cp "$K8S_BIN/$i" "$ctx/kube/"; done
  stage=nexus-dev.local/testbed/kind-node-stage:$K8S_VERSION
  run_logged kind-node-image "$log" docker build --pull=false -t "$stage" "$ctx"

  kind_component_images "$log" "$work"
  run_logged kind-node-image "$log" docker save -o "$work/images.tar" "${KIND_IMAGES[@]}"

  # Import into the node's containerd as kind's own `kind build node-image` does: containerd in
  # an (unprivileged) build container, `ctr images import --no-unpack`, then `docker commit`.
  c=nexus-testbed-kind-build
  docker rm -f "$c" >/dev/null 2>&1 || true
  run_logged kind-node-image "$log" docker run -d --name "$c" --entrypoint sleep "$stage" infinity
  run_logged kind-node-image "$log" docker exec "$c" bash -c 'nohup containerd >/tmp/containerd.log 2>&1 &'
  for ((i = 0; i < 100; i++)); do
    docker exec "$c" ctr version >/dev/null 2>&1 && break
    sleep 0.2
  done
  printf '\n=== docker exec -i %s ctr images import < %s\n' "$c" "$work/images.tar" >>"$log"
  docker exec -i "$c" ctr --namespace=k8s.io images import --all-platforms --no-unpack --digests - \
    <"$work/images.tar" >>"$log" 2>&1 || fail kind-node-image "ctr images import failed" "$log"
  local have missing=()
  have=$(docker exec "$c" ctr --namespace=k8s.io images list -q 2>>"$log")
  printf '%s\n' "$have" >>"$log"
  for i in "${KIND_IMAGES[@]}"; do grep -qxF "$i" <<<"$have" || missing+=("$i"); done
  ((${#missing[@]} == 0)) || fail kind-node-image "not in the node's containerd after import: ${missing[*]}" "$log"
  docker exec "$c" sh -c 'pkill containerd; for i in $(seq 50); do pgrep -x containerd >/dev/null || break; sleep 0.2; done; rm -rf /tmp/containerd.log /run/containerd' >>"$log" 2>&1 || true
  run_logged kind-node-image "$log" docker commit \
    --change 'ENTRYPOINT [ "/usr/local/bin/entrypoint", "/sbin/init" ]' --change 'CMD []' \
    --change "LABEL $KIND_HASH_LABEL=$h" "$c" "$KIND_NODE_IMAGE"
  docker rm -f "$c" >/dev/null 2>&1 || true
  docker rmi "$stage" >/dev/null 2>&1 || true
  # the previous build (about 1.5 GB, mostly its own copy of the images) is no longer needed
  if [[ -n $old ]]; then docker rmi "$old" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
  KIND_IMAGE_BUILT=1
  STEP_RESULT=built
}

# ---- end-to-end check: a kind cluster with real pods ----
kind_cmd() { PATH=$KIND_BIN:$PATH "$KIND_BIN/kind" "$@"; }

hello_image() {
  local log=$1 ctx=$CACHE/tmp/kind-hello h
  h=$(cat "$KIND_TOOLS_BIN/.stamp")
  if image_exists "$KIND_HELLO_IMAGE" && [[ $(image_label "$KIND_HELLO_IMAGE" "$KIND_HASH_LABEL") == "$h" ]]; then return; fi
  local old
  old=$(docker image inspect -f '{{.Id}}' "$KIND_HELLO_IMAGE" 2>/dev/null) || old=
  rm -rf "$ctx"
  mkdir -p "$ctx"
  cp "$KIND_TOOLS_BIN/hello" "$ctx/"
  printf '%s\n' 'FROM scratch' 'COPY hello /hello' 'EXPOSE 8080' "LABEL $KIND_HASH_LABEL=$h" \
    'ENTRYPOINT ["/hello"]' >"$ctx/Dockerfile"
  docker_build_from "$log" "$KIND_HELLO_IMAGE" "$ctx"
  if [[ -n $old ]]; then docker rmi "$old" >/dev/null 2>&1 || true; fi
  rm -rf "$ctx"
}

kind_verify_config() {
  # The product's kind/cluster.yaml, without its host ports (80/443 may be taken).
  cat <<'EOF'
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
containerdConfigPatches:
- |-
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "/etc/containerd/certs.d"
nodes:
- role: control-plane
EOF
}

kind_verify_manifest() {
  cat <<EOF
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: hello-data
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Mi}}
---
apiVersion: v1
kind: Pod
metadata:
  name: hello
  labels: {app: hello}
spec:
  containers:
  - name: hello
    image: $KIND_HELLO_IMAGE
    imagePullPolicy: Never
    ports: [{containerPort: 8080}]
    readinessProbe:
      httpGet: {path: /healthz, port: 8080}
      periodSeconds: 1
    volumeMounts: [{name: data, mountPath: /data}]
  volumes:
  - name: data
    persistentVolumeClaim: {claimName: hello-data}
---
apiVersion: v1
kind: Service
metadata:
  name: hello
spec:
  selector: {app: hello}
  ports: [{port: 80, targetPort: 8080}]
EOF
}

# expect_body LOG DESCRIPTION REGEX CMD...: CMD's output matches REGEX, retried for a while.
expect_body() {
  local log=$1 what=$2 re=$3 out i; shift 3
  for ((i = 0; i < 30; i++)); do
    out=$("$@" 2>>"$log") && [[ $out =~ $re ]] && { printf '%s: %s\n' "$what" "$out" >>"$log"; return; }
    sleep 1
  done
  printf '%s: last output: %s\n' "$what" "$out" >>"$log"
  kind_fail "$what did not answer as expected" "$log"
}

kind_fail() {
  local log=$2 kc=("$K8S_BIN/kubectl" --kubeconfig "$STATE/kind-verify.kubeconfig")
  {
    echo "----- diagnostics"
    "${kc[@]}" get nodes,pods -A -o wide
    "${kc[@]}" get events -A --sort-by=.lastTimestamp | tail -n 30
    docker exec "$KIND_VERIFY_CLUSTER-control-plane" journalctl -u kubelet --no-pager | tail -n 40
  } >>"$log" 2>&1 || true
  [[ -n ${NEXUS_TESTBED_KEEP_KIND:-} ]] ||
    kind_cmd delete cluster --name "$KIND_VERIFY_CLUSTER" --kubeconfig "$STATE/kind-verify.kubeconfig" >>"$log" 2>&1 || true
  fail kind "$1 (set NEXUS_TESTBED_KEEP_KIND=1 to keep the cluster)" "$log"
}

verify_kind() {
  local log=$LOGS/verify-kind.log kcfg=$STATE/kind-verify.kubeconfig cfg=$STATE/kind-verify.yaml pf pid port t0
  local kc=("$K8S_BIN/kubectl" --kubeconfig "$kcfg")
  : >"$log"
  hello_image "$log"
  kind_verify_config >"$cfg"
  kind_cmd delete cluster --name "$KIND_VERIFY_CLUSTER" --kubeconfig "$kcfg" >>"$log" 2>&1 || true
  t0=$SECONDS
  if ! kind_cmd create cluster --name "$KIND_VERIFY_CLUSTER" --image "$KIND_NODE_IMAGE" \
    --config "$cfg" --kubeconfig "$kcfg" --wait 120s >>"$log" 2>&1; then
    kind_fail "kind create cluster failed" "$log"
  fi
  printf 'kind create cluster: %ss\n' $((SECONDS - t0)) >>"$log"
  "${kc[@]}" wait --for=condition=Ready node --all --timeout=60s >>"$log" 2>&1 || kind_fail "node not Ready" "$log"
  "${kc[@]}" -n kube-system rollout status deployment/coredns --timeout=90s >>"$log" 2>&1 ||
    kind_fail "CoreDNS did not become available" "$log"
  kind_cmd load docker-image "$KIND_HELLO_IMAGE" --name "$KIND_VERIFY_CLUSTER" >>"$log" 2>&1 ||
    kind_fail "kind load docker-image $KIND_HELLO_IMAGE failed" "$log"
  kind_verify_manifest | "${kc[@]}" apply -f - >>"$log" 2>&1 || kind_fail "cannot create the check pod" "$log"
  "${kc[@]}" wait --for=condition=Ready pod/hello --timeout=60s >>"$log" 2>&1 ||
    kind_fail "the check pod did not become Ready (its volume from the default StorageClass, its readiness probe)" "$log"
  "${kc[@]}" get pvc hello-data -o 'jsonpath={.status.phase}{"\n"}' >>"$log" 2>&1
  # HTTP through `kubectl port-forward` (random local port on 127.0.0.1)
  pf=$STATE/kind-verify-portforward.log
  : >"$pf" # before the background job opens it: sed below must find it
  "${kc[@]}" port-forward --address 127.0.0.1 pod/hello :8080 >"$pf" 2>&1 &
  pid=$!
  port=
  for ((t0 = 0; t0 < 100; t0++)); do
    port=$(sed -n 's/^Forwarding from 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$pf" | head -n1) || true
    [[ -n $port ]] && break
    sleep 0.1
  done
  cat "$pf" >>"$log"
  if [[ -z $port ]]; then kill "$pid" 2>/dev/null || true; kind_fail "kubectl port-forward did not start" "$log"; fi
  expect_body "$log" "GET / through port-forward" '^hello from hello' curl -fsS --max-time 3 "http://127.0.0.1:$port/"
  # DNS (CoreDNS behind its ClusterIP, so kube-proxy too), then a Service by name
  expect_body "$log" "kubernetes.default from a pod" '^10\.96\.0\.1$' \
    curl -fsS --max-time 8 "http://127.0.0.1:$port/resolve?name=kubernetes.default"
  expect_body "$log" "GET http://hello.default.svc/ from a pod" '^hello from hello' \
    curl -fsS --max-time 8 "http://127.0.0.1:$port/fetch?url=http://hello.default.svc/"
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  run_logged kind "$log" kind_cmd delete cluster --name "$KIND_VERIFY_CLUSTER" --kubeconfig "$kcfg"
  rm -f "$kcfg" "$pf"
  STEP_RESULT=passed
}

kind_status() {
  local d=$1
  if [[ -x $KIND_BIN/kind ]]; then report_status kind "$KIND_BIN/kind" present; else report_status kind "$KIND_BIN/kind" missing; fi
  if [[ -x $RUNC_WRAPPER ]]; then report_status runtime-wrapper "$RUNC_WRAPPER" present; else report_status runtime-wrapper "$RUNC_WRAPPER" missing; fi
  if [[ $d == ok ]] && kind_node_current; then
    report_status image "$KIND_NODE_IMAGE" present
  else
    report_status image "$KIND_NODE_IMAGE" missing
  fi
}
