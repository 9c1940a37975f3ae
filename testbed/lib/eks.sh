# shellcheck shell=bash
# The EKS and ECR stand-ins (docs/design/testbed.md, "EKS and ECR stand-ins"): the token webhook
# the kube-apiserver asks about `k8s-aws-v1.` tokens, its RBAC, the ECR registry image, the
# ECR registry's TLS certificate, and their checks. moto's patches are in testbed/moto/server.py
# (started by aws.sh). Sourced.

EKS_DIR=$TESTBED_DIR/eks
EKS_CLUSTER=nexus-testbed-eks
EKS_REGION=us-east-1
EKS_WEBHOOK_PORT=26447
EKS_IDENTITIES=$EKS_DIR/identities.json
EKS_STATE=$STATE/eks
EKS_WEBHOOK_KUBECONFIG=$EKS_STATE/webhook.kubeconfig
EKS_GET_TOKEN=$EKS_STATE/get-token
ECR_REGISTRY_IMAGE=nexus-dev.local/testbed/ecr-registry:$DEBIAN_SUITE
ECR_TLS_DIR=$PKI/ecr-registry
ECR_INPUTS_LABEL=dev.nexus.testbed.inputs
EKS_STARTED=0

# The identity the env contract exports: "admin" of identities.json (group nexus-dev:eks-admins,
# bound to cluster-admin). Test-only credentials; verify.py checks that they match the file.
EKS_ACCESS_KEY_ID=AKIANEXUSTESTBED0001
EKS_SECRET_ACCESS_KEY=TESTBEDONLYnotArealSECRETnexusDevEks0001

# The kubeconfig kube-apiserver reads for --authentication-token-webhook-config-file (written
# before the apiserver starts; the webhook itself starts after moto). Plain http on loopback.
eks_webhook_kubeconfig() {
  mkdir -p "$EKS_STATE"
  local tmp=$EKS_WEBHOOK_KUBECONFIG.tmp
  cat >"$tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: nexus-testbed-eks-webhook
  cluster:
    server: http://127.0.0.1:$EKS_WEBHOOK_PORT/authenticate
users:
- name: kube-apiserver
contexts:
- name: webhook
  context:
    cluster: nexus-testbed-eks-webhook
    user: kube-apiserver
current-context: webhook
EOF
  if cmp -s "$tmp" "$EKS_WEBHOOK_KUBECONFIG"; then rm -f "$tmp"; else mv "$tmp" "$EKS_WEBHOOK_KUBECONFIG"; fi
}

# The apiserver flags (k8s.sh adds them to its command line).
eks_apiserver_flags() {
  EKS_APISERVER_FLAGS=(--authentication-token-webhook-config-file="$EKS_WEBHOOK_KUBECONFIG"
    --authentication-token-webhook-version=v1)
}

eks_webhook_healthy() { [[ $(curl -fsS --max-time 2 "http://127.0.0.1:$EKS_WEBHOOK_PORT/healthz" 2>/dev/null) == ok ]]; }

# admin_get PATH: GET on the apiserver with the test bed's admin client certificate; 0 if 200.
admin_get() {
  curl -fsS --max-time 5 -o /dev/null --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
    "https://127.0.0.1:$APISERVER_PORT$1"
}

# eks_rbac: the ClusterRoleBindings of rbac.yaml exist (applied if not; EKS_STARTED=1 then).
eks_rbac() {
  local b=/apis/rbac.authorization.k8s.io/v1/clusterrolebindings
  if admin_get "$b/nexus-testbed-eks-admins" 2>/dev/null && admin_get "$b/nexus-testbed-eks-viewers" 2>/dev/null; then
    return
  fi
  run_logged eks-webhook "$LOGS/eks-webhook.log" kc apply -f "$EKS_DIR/rbac.yaml"
  EKS_STARTED=1
  [[ $STEP_RESULT == started ]] || STEP_RESULT=rbac
}

# A `get-token` command for kubeconfig exec users and tests (`aws eks get-token` stand-in).
eks_get_token_wrapper() {
  local tmp=$EKS_GET_TOKEN.tmp
  # shellcheck disable=SC2016 # "$@" is for the written script
  printf '#!/bin/sh\n# Written by scripts/testbed: `aws eks get-token` for the test bed (testbed/eks/get_token.py).\nexec %q -B %q "$@"\n' \
    "$MOTO_VENV/bin/python" "$EKS_DIR/get_token.py" >"$tmp"
  chmod 755 "$tmp"
  if cmp -s "$tmp" "$EKS_GET_TOKEN"; then rm -f "$tmp"; else mv "$tmp" "$EKS_GET_TOKEN"; fi
}

eks_webhook_up() {
  local rev
  rev=$(files_hash "$EKS_DIR/webhook.py" "$EKS_DIR/ekstoken.py" "$EKS_IDENTITIES")
  local cmd=("$MOTO_VENV/bin/python" -B "$EKS_DIR/webhook.py" --listen "127.0.0.1:$EKS_WEBHOOK_PORT"
    --cluster "$EKS_CLUSTER" --sts-endpoint "$MOTO_URL" --identities "$EKS_IDENTITIES" --rev "$rev")
  eks_get_token_wrapper
  if up_to_date eks-webhook "${cmd[@]}" && eks_webhook_healthy; then
    STEP_RESULT=running
  else
    stop_bg eks-webhook
    start_bg eks-webhook "${cmd[@]}"
    wait_for eks-webhook "$LOGS/eks-webhook.log" "http://127.0.0.1:$EKS_WEBHOOK_PORT/healthz" eks_webhook_healthy
    EKS_STARTED=1
    STEP_RESULT=started
  fi
  eks_rbac
}

# The ECR registry's TLS certificate (for `ecr-registry start --tls`), signed by the test bed CA.
ecr_tls_cert() {
  [[ -s $ECR_TLS_DIR/tls.crt && -s $ECR_TLS_DIR/tls.key ]] && return
  need_cmd openssl openssl
  local log=$LOGS/pki.log tmp=$ECR_TLS_DIR.tmp
  rm -rf "$tmp"
  mkdir -p "$tmp"
  printf '%s\n' 'subjectAltName=IP:127.0.0.1,DNS:localhost' \
    'keyUsage=critical,digitalSignature,keyEncipherment' 'extendedKeyUsage=serverAuth' >"$tmp/ext"
  run_logged pki "$log" openssl req -newkey rsa:2048 -nodes -keyout "$tmp/tls.key" -out "$tmp/tls.csr" \
    -subj /CN=nexus-testbed-ecr-registry
  run_logged pki "$log" openssl x509 -req -sha256 -in "$tmp/tls.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" \
    -CAcreateserial -CAserial "$tmp/ca.srl" -days 3650 -out "$tmp/tls.crt" -extfile "$tmp/ext"
  rm -f "$tmp/tls.csr" "$tmp/ext" "$tmp/ca.srl"
  chmod 644 "$tmp/tls.key" # read by the registry inside its container; a test-only key
  rm -rf "$ECR_TLS_DIR"
  mv "$tmp" "$ECR_TLS_DIR"
}

# The image, rebuilt when its inputs change (label dev.nexus.testbed.inputs: a hash of
# testbed/eks/ecr-image/* and the registry image's id).
ecr_registry_image() {
  local log=$LOGS/image-ecr-registry.log want have old
  ecr_tls_cert
  want=$( { docker image inspect -f '{{.Id}}' "$REGISTRY_IMAGE"; cat "$EKS_DIR"/ecr-image/*; } | sha256sum | cut -c1-16)
  have=$(docker image inspect -f "{{index .Config.Labels \"$ECR_INPUTS_LABEL\"}}" "$ECR_REGISTRY_IMAGE" 2>/dev/null || true)
  if [[ $have == "$want" ]]; then STEP_RESULT=cached; return; fi
  old=$(docker image inspect -f '{{.Id}}' "$ECR_REGISTRY_IMAGE" 2>/dev/null || true)
  : >"$log"
  run_logged ecr-registry-image "$log" docker build --pull=false --label "$ECR_INPUTS_LABEL=$want" \
    -t "$ECR_REGISTRY_IMAGE" "$EKS_DIR/ecr-image"
  if [[ -n $old && $old != "$(docker image inspect -f '{{.Id}}' "$ECR_REGISTRY_IMAGE")" ]]; then
    docker rmi "$old" >/dev/null 2>&1 || true
  fi
  EKS_STARTED=1 # `up` runs verify_eks, which starts the new image
  STEP_RESULT=built
}

verify_eks() {
  local log=$LOGS/verify-eks.log
  : >"$log"
  run_logged verify-eks "$log" "$MOTO_VENV/bin/python" -B "$EKS_DIR/verify.py" \
    --cluster "$EKS_CLUSTER" --region "$EKS_REGION" --kube-server "https://127.0.0.1:$APISERVER_PORT" \
    --ca "$PKI/ca.crt" --kubeconfig "$KUBECONFIG_FILE" --kubectl "$K8S_BIN/kubectl" \
    --sts-endpoint "$MOTO_URL" --sa-issuer "$SA_ISSUER" --get-token "$EKS_GET_TOKEN" \
    --access-key-id "$EKS_ACCESS_KEY_ID" --secret-access-key "$EKS_SECRET_ACCESS_KEY" \
    --ecr-registry "$EKS_DIR/ecr-registry" --ecr-image "$ECR_REGISTRY_IMAGE" --ecr-tls-dir "$ECR_TLS_DIR" \
    --webhook-log "$LOGS/eks-webhook.log"
  STEP_RESULT=passed
}

eks_status() {
  report_status eks-webhook "127.0.0.1:$EKS_WEBHOOK_PORT" "$( (is_running eks-webhook && eks_webhook_healthy) && echo ok || echo down)"
  if docker_ok && image_exists "$ECR_REGISTRY_IMAGE"; then
    report_status image "$ECR_REGISTRY_IMAGE" present
  else
    report_status image "$ECR_REGISTRY_IMAGE" missing
  fi
}

eks_env() {
  local ca
  ca=$(base64 -w0 "$PKI/ca.crt" 2>/dev/null || true)
  EKS_ENV=(
    "NEXUS_TESTBED_EKS_CLUSTER=$EKS_CLUSTER"
    "NEXUS_TESTBED_EKS_REGION=$EKS_REGION"
    "NEXUS_TESTBED_EKS_ENDPOINT=https://127.0.0.1:$APISERVER_PORT"
    "NEXUS_TESTBED_EKS_CA_DATA=$ca"
    "NEXUS_TESTBED_EKS_ACCESS_KEY_ID=$EKS_ACCESS_KEY_ID"
    "NEXUS_TESTBED_EKS_SECRET_ACCESS_KEY=$EKS_SECRET_ACCESS_KEY"
    "NEXUS_TESTBED_EKS_IDENTITIES=$EKS_IDENTITIES"
    "NEXUS_TESTBED_EKS_GET_TOKEN=$EKS_GET_TOKEN"
    "NEXUS_TESTBED_CA_FILE=$PKI/ca.crt"
    "NEXUS_TESTBED_ECR_REGISTRY_IMAGE=$ECR_REGISTRY_IMAGE"
    "NEXUS_TESTBED_ECR_REGISTRY_CTL=$EKS_DIR/ecr-registry"
    "NEXUS_TESTBED_ECR_USERNAME=AWS"
    "NEXUS_TESTBED_ECR_PASSWORD=123456789012-auth-token"
    "NEXUS_TESTBED_ECR_TLS_DIR=$ECR_TLS_DIR"
  )
}
