# shellcheck shell=bash
# The Kubernetes control plane as host processes: PKI, etcd, kube-apiserver, kubeconfig,
# kube-controller-manager, kube-scheduler, kwok and its fake nodes. Sourced.

K8S_STARTED=0 # set to 1 when `up` started any control-plane process (triggers verify_k8s)

# ---- PKI (generated once; lives in $STATE/pki) ----
pki() {
  if [[ -s $PKI/ca.crt && -s $PKI/apiserver.crt && -s $PKI/admin.crt && -s $PKI/sa.pub ]]; then
    STEP_RESULT=cached
    return
  fi
  need_cmd openssl openssl
  local log=$LOGS/pki.log tmp=$PKI.tmp
  rm -rf "$tmp"
  mkdir -p "$tmp" "$LOGS"
  (
    cd "$tmp"
    printf '%s\n' 'subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local' \
      'keyUsage=critical,digitalSignature,keyEncipherment' 'extendedKeyUsage=serverAuth' >apiserver.ext
    printf '%s\n' 'keyUsage=critical,digitalSignature,keyEncipherment' 'extendedKeyUsage=clientAuth' >client.ext
    run_logged pki "$log" openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
      -keyout ca.key -out ca.crt -subj /CN=nexus-testbed-ca
    run_logged pki "$log" openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr \
      -subj /CN=kube-apiserver
    run_logged pki "$log" openssl x509 -req -sha256 -in apiserver.csr -CA ca.crt -CAkey ca.key \
      -CAcreateserial -days 3650 -out apiserver.crt -extfile apiserver.ext
    run_logged pki "$log" openssl req -newkey rsa:2048 -nodes -keyout admin.key -out admin.csr \
      -subj "/O=system:masters/CN=nexus-testbed-admin"
    run_logged pki "$log" openssl x509 -req -sha256 -in admin.csr -CA ca.crt -CAkey ca.key \
      -CAcreateserial -days 3650 -out admin.crt -extfile client.ext
    run_logged pki "$log" openssl genrsa -out sa.key 2048
    run_logged pki "$log" openssl rsa -in sa.key -pubout -out sa.pub
    rm -f ./*.csr ./*.ext ca.srl
    chmod 600 ./*.key
  ) || exit 1
  rm -rf "$PKI"
  mv "$tmp" "$PKI"
  STEP_RESULT=created
}

# Components in start order; each depends on the ones before it.
K8S_CHAIN=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

# stop_chain NAME: stop NAME and everything after it in K8S_CHAIN, last first (the later steps
# of `up` start them again). An apiserver with open watches, or without etcd, takes ~20s to
# shut down; stopped in this order each component exits in well under a second.
stop_chain() {
  local i j
  for ((i = 0; i < ${#K8S_CHAIN[@]}; i++)); do [[ ${K8S_CHAIN[i]} == "$1" ]] && break; done
  for ((j = ${#K8S_CHAIN[@]} - 1; j >= i; j--)); do stop_bg "${K8S_CHAIN[j]}"; done
}

# ---- etcd ----
etcd_healthy() { curl -fsS --max-time 2 "http://127.0.0.1:$ETCD_PORT/health" | grep -q '"health":"true"'; }

etcd_up() {
  local u=http://127.0.0.1
  local cmd=("$ETCD_BIN/etcd" --name=testbed --data-dir="$STATE/etcd" \
    --listen-client-urls="$u:$ETCD_PORT" --advertise-client-urls="$u:$ETCD_PORT" \
    --listen-peer-urls="$u:$ETCD_PEER_PORT" --initial-advertise-peer-urls="$u:$ETCD_PEER_PORT" \
    --initial-cluster="testbed=$u:$ETCD_PEER_PORT" --unsafe-no-fsync=true \
    --quota-backend-bytes=$((4 * 1024 * 1024 * 1024)))
  if up_to_date etcd "${cmd[@]}" && etcd_healthy; then STEP_RESULT=running; return; fi
  stop_chain etcd
  start_bg etcd "${cmd[@]}"
  wait_for etcd "$LOGS/etcd.log" "http://127.0.0.1:$ETCD_PORT/health" etcd_healthy
  K8S_STARTED=1
  STEP_RESULT=started
}

# ---- kube-apiserver ----
apiserver_healthy() {
  curl -fsS --max-time 3 --cacert "$PKI/ca.crt" "https://127.0.0.1:$APISERVER_PORT/readyz" | grep -qx ok
}

# The apiserver advertises the address of the default-route interface. Without a default route
# it refuses to start, and a loopback address is rejected, so fall back to any global IPv4.
advertise_flag() {
  command -v ip >/dev/null 2>&1 || return 0
  if ip -4 route show default 2>/dev/null | grep -q .; then return; fi
  local a
  a=$(ip -4 -o addr show scope global 2>/dev/null | awk '{sub(/\/.*/, "", $4); print $4; exit}')
  [[ -n $a ]] || fail kube-apiserver "no default route and no global IPv4 address to advertise"
  echo "--advertise-address=$a"
}

apiserver_up() {
  local adv
  adv=$(advertise_flag)
  eks_webhook_kubeconfig # EKS-style tokens: testbed/lib/eks.sh
  eks_apiserver_flags
  # shellcheck disable=SC2206 # $adv is empty or one word
  local cmd=("$K8S_BIN/kube-apiserver" $adv \
    --bind-address=127.0.0.1 --secure-port="$APISERVER_PORT" \
    --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
    --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
    --client-ca-file="$PKI/ca.crt" --cert-dir="$STATE/apiserver-certs" \
    --service-account-issuer="$SA_ISSUER" \
    --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
    --service-account-jwks-uri="https://127.0.0.1:$APISERVER_PORT/openid/v1/jwks" \
    --service-cluster-ip-range=10.0.0.0/24 --authorization-mode=Node,RBAC \
    --allow-privileged=true --profiling=false "${EKS_APISERVER_FLAGS[@]}")
  if up_to_date kube-apiserver "${cmd[@]}" && apiserver_healthy; then STEP_RESULT=running; return; fi
  stop_chain kube-apiserver
  start_bg kube-apiserver "${cmd[@]}"
  wait_for kube-apiserver "$LOGS/kube-apiserver.log" "https://127.0.0.1:$APISERVER_PORT/readyz" apiserver_healthy
  K8S_STARTED=1
  STEP_RESULT=started
}

# ---- kubeconfig (embedded certificates; one file for KCM, scheduler, kwok and the tests) ----
kubeconfig() {
  local b64="base64 -w0" tmp=$KUBECONFIG_FILE.tmp
  cat >"$tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: $KUBE_CONTEXT
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority-data: $($b64 "$PKI/ca.crt")
users:
- name: $KUBE_CONTEXT-admin
  user:
    client-certificate-data: $($b64 "$PKI/admin.crt")
    client-key-data: $($b64 "$PKI/admin.key")
contexts:
- name: $KUBE_CONTEXT
  context:
    cluster: $KUBE_CONTEXT
    user: $KUBE_CONTEXT-admin
current-context: $KUBE_CONTEXT
EOF
  chmod 600 "$tmp"
  if cmp -s "$tmp" "$KUBECONFIG_FILE"; then
    rm -f "$tmp"
    STEP_RESULT=cached
  else
    mv "$tmp" "$KUBECONFIG_FILE"
    STEP_RESULT=written
  fi
}

kc() { "$K8S_BIN/kubectl" --kubeconfig "$KUBECONFIG_FILE" --context "$KUBE_CONTEXT" "$@"; }

# ---- kube-controller-manager and kube-scheduler ----
secure_healthy() { curl -fsS --max-time 2 -k "https://127.0.0.1:$1/healthz" | grep -qx ok; }

kcm_up() {
  local cmd=("$K8S_BIN/kube-controller-manager" \
    --kubeconfig="$KUBECONFIG_FILE" --authentication-kubeconfig="$KUBECONFIG_FILE" \
    --authorization-kubeconfig="$KUBECONFIG_FILE" \
    --bind-address=127.0.0.1 --secure-port="$KCM_PORT" --cert-dir="$STATE/kcm-certs" \
    --leader-elect=false --service-account-private-key-file="$PKI/sa.key" \
    --root-ca-file="$PKI/ca.crt" --service-cluster-ip-range=10.0.0.0/24 --profiling=false)
  if up_to_date kube-controller-manager "${cmd[@]}" && secure_healthy "$KCM_PORT"; then STEP_RESULT=running; return; fi
  stop_bg kube-controller-manager
  start_bg kube-controller-manager "${cmd[@]}"
  wait_for kube-controller-manager "$LOGS/kube-controller-manager.log" \
    "https://127.0.0.1:$KCM_PORT/healthz" secure_healthy "$KCM_PORT"
  K8S_STARTED=1
  STEP_RESULT=started
}

scheduler_up() {
  local cmd=("$K8S_BIN/kube-scheduler" \
    --kubeconfig="$KUBECONFIG_FILE" --authentication-kubeconfig="$KUBECONFIG_FILE" \
    --authorization-kubeconfig="$KUBECONFIG_FILE" \
    --bind-address=127.0.0.1 --secure-port="$SCHEDULER_PORT" --cert-dir="$STATE/scheduler-certs" \
    --leader-elect=false --profiling=false)
  if up_to_date kube-scheduler "${cmd[@]}" && secure_healthy "$SCHEDULER_PORT"; then STEP_RESULT=running; return; fi
  stop_bg kube-scheduler
  start_bg kube-scheduler "${cmd[@]}"
  wait_for kube-scheduler "$LOGS/kube-scheduler.log" \
    "https://127.0.0.1:$SCHEDULER_PORT/healthz" secure_healthy "$SCHEDULER_PORT"
  K8S_STARTED=1
  STEP_RESULT=started
}

# ---- kwok and its fake nodes ----
kwok_up() {
  local cmd=("$KWOK_BIN/kwok" --kubeconfig="$KUBECONFIG_FILE" --config="$KWOK_BIN/stages.yaml"
    --manage-all-nodes=true --node-lease-duration-seconds=0 --cidr=10.244.0.0/16)
  if up_to_date kwok "${cmd[@]}"; then STEP_RESULT=running; return; fi
  stop_bg kwok
  start_bg kwok "${cmd[@]}"
  sleep 0.5
  is_running kwok || fail kwok "process exited right after start" "$LOGS/kwok.log"
  K8S_STARTED=1
  STEP_RESULT=started
}

NODES=(kwok-node-0 kwok-node-1)

nodes_ready() {
  local n out
  out=$(kc get nodes -o 'jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' 2>/dev/null) || return 1
  for n in "${NODES[@]}"; do grep -qx "$n=True" <<<"$out" || return 1; done
}

node_manifest() {
  local n
  for n in "${NODES[@]}"; do
    cat <<EOF
---
apiVersion: v1
kind: Node
metadata:
  name: $n
  annotations:
    node.alpha.kubernetes.io/ttl: "0"
    kwok.x-k8s.io/node: fake
  labels:
    kubernetes.io/hostname: $n
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    type: kwok
status:
  allocatable: {cpu: "32", memory: 256Gi, pods: "250", ephemeral-storage: 1Ti}
  capacity: {cpu: "32", memory: 256Gi, pods: "250", ephemeral-storage: 1Ti}
EOF
  done
}

nodes_up() {
  if nodes_ready; then STEP_RESULT=ready; return; fi
  local log=$LOGS/nodes.log
  node_manifest >"$STATE/nodes.yaml"
  run_logged nodes "$log" kc apply -f "$STATE/nodes.yaml"
  wait_for kwok "$LOGS/kwok.log" "nodes ${NODES[*]} to become Ready" nodes_ready
  STEP_RESULT=created
}

# ---- end-to-end check: a Deployment becomes Available and survives a rolling update ----
verify_k8s() {
  local log=$LOGS/verify-k8s.log ns=testbed-verify-$RANDOM t=${WAIT_TIMEOUT}s
  : >"$log"
  run_logged verify-k8s "$log" kc create namespace "$ns"
  wait_for kube-controller-manager "$LOGS/kube-controller-manager.log" "the default ServiceAccount in a new namespace" \
    kc -n "$ns" get serviceaccount default
  run_logged verify-k8s "$log" kc -n "$ns" create deployment t --image=x --replicas=2
  run_logged verify-k8s "$log" kc -n "$ns" rollout status deployment/t --timeout="$t"
  run_logged verify-k8s "$log" kc -n "$ns" set image deployment/t x=y
  run_logged verify-k8s "$log" kc -n "$ns" rollout status deployment/t --timeout="$t"
  run_logged verify-k8s "$log" kc -n "$ns" wait --for=condition=Available deployment/t --timeout="$t"
  run_logged verify-k8s "$log" kc delete namespace "$ns" --wait=false
  STEP_RESULT=passed
}

k8s_status() {
  local name port
  for name in etcd:127.0.0.1:$ETCD_PORT kube-apiserver:127.0.0.1:$APISERVER_PORT \
    kube-controller-manager:127.0.0.1:$KCM_PORT kube-scheduler:127.0.0.1:$SCHEDULER_PORT kwok:-; do
    port=${name#*:}
    name=${name%%:*}
    report_status "$name" "$port" "$(k8s_check "$name")"
  done
  if nodes_ready; then report_status nodes "${NODES[*]}" ready; else report_status nodes "${NODES[*]}" not-ready; fi
}

k8s_check() {
  case $1 in
  etcd) is_running etcd && etcd_healthy ;;
  kube-apiserver) is_running kube-apiserver && apiserver_healthy ;;
  kube-controller-manager) is_running kube-controller-manager && secure_healthy "$KCM_PORT" ;;
  kube-scheduler) is_running kube-scheduler && secure_healthy "$SCHEDULER_PORT" ;;
  kwok) is_running kwok ;;
  esac && echo ok || echo down
}
