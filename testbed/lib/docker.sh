# shellcheck shell=bash
# Docker Engine (Debian's docker.io) and the locally built images: a debootstrapped base image,
# a registry stand-in and an AWS emulator stand-in. Nothing is ever pulled. Sourced.

IMAGES_DIR=$TESTBED_DIR/images
BASE_TAR=$CACHE/debian-$DEBIAN_SUITE-minbase.tar
DEBIAN_MIRROR=${NEXUS_TESTBED_DEBIAN_MIRROR:-http://deb.debian.org/debian}
IMAGE_PY=3.11 # Debian bookworm's python3; the moto image's wheels are fetched for it
VERIFY_PREFIX=nexus-testbed-verify

# The legacy builder: no buildx plugin on these machines, and it never resolves local FROMs remotely.
export DOCKER_BUILDKIT=0

docker_ok() { docker info >/dev/null 2>&1; }

# dockerd runs every container through the test bed's runtime wrapper (testbed/kind/tools/nexus-runc):
# this machine's capability bounding set lacks CAP_SYS_RESOURCE, which runc asks for on
# `--privileged` (kind's node containers). Flags, not /etc/docker/daemon.json: no system file
# is edited. A dockerd this script started earlier with other flags is restarted.
DOCKERD_CHECKED=0 # 1: dockerd is ours and runs with the wrapper (skip the privileged probe)

dockerd_cmd() {
  # shellcheck disable=SC2206 # NEXUS_TESTBED_DOCKERD_ARGS is a list of extra flags
  DOCKERD_CMD=(dockerd --host="unix://$DOCKER_SOCK" --add-runtime="$RUNTIME_NAME=$RUNC_WRAPPER"
    --default-runtime="$RUNTIME_NAME" ${NEXUS_TESTBED_DOCKERD_ARGS:-})
}

dockerd_up() {
  dockerd_cmd
  if docker_ok; then
    if ! is_running dockerd; then STEP_RESULT=external; return; fi
    if up_to_date dockerd "${DOCKERD_CMD[@]}"; then
      DOCKERD_CHECKED=1
      STEP_RESULT=running
      return
    fi
    say "dockerd: restarting it with the runtime wrapper (its containers stop)"
  fi
  command -v docker >/dev/null 2>&1 || apt_install docker.io
  command -v dockerd >/dev/null 2>&1 || apt_install docker.io
  stop_bg dockerd
  # a dockerd killed without cleanup leaves its pid file behind and the next one refuses to start
  local old i
  for ((i = 0; i < 50; i++)); do
    [[ -f /var/run/docker.pid ]] || break
    old=$(</var/run/docker.pid)
    if kill -0 "$old" 2>/dev/null; then sleep 0.2; else rm -f /var/run/docker.pid; fi
  done
  # Defaults otherwise: overlay2 on ext4, iptables-nft, docker0 bridge.
  start_bg dockerd "${DOCKERD_CMD[@]}"
  wait_for dockerd "$LOGS/dockerd.log" "docker info" docker_ok
  STEP_RESULT=started
}

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

base_image() {
  if image_exists "$BASE_IMAGE"; then STEP_RESULT=cached; return; fi
  local log=$LOGS/image-base.log root=$CACHE/tmp/rootfs-$DEBIAN_SUITE
  : >"$log"
  if [[ ! -s $BASE_TAR ]]; then
    need_cmd debootstrap debootstrap
    rm -rf "$root"
    mkdir -p "$(dirname "$root")"
    run_logged base-image "$log" debootstrap --variant=minbase "$DEBIAN_SUITE" "$root" "$DEBIAN_MIRROR"
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    run_logged base-image "$log" tar --numeric-owner -C "$root" -cf "$BASE_TAR.tmp" .
    mv "$BASE_TAR.tmp" "$BASE_TAR"
    rm -rf "$root"
  fi
  run_logged base-image "$log" docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/bash"]' "$BASE_TAR" "$BASE_IMAGE"
  STEP_RESULT=imported
}

# ---- verification helpers (containers are always removed) ----
# run_verify NAME IMAGE: start a container publishing :5000 on a random loopback port; echo the port.
run_verify() {
  local name=$VERIFY_PREFIX-$1 image=$2
  docker rm -f "$name" >/dev/null 2>&1 || true
  docker run -d --name "$name" -p 127.0.0.1::5000 "$image" >/dev/null || return 1
  docker port "$name" 5000/tcp | head -n1 | sed 's/.*://'
}

http_200() { [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1") == 200 ]]; }

# verify_in_container COMPONENT LOG URL_PATH IMAGE NAME [EXTRA_CHECK]
verify_container() {
  local comp=$1 log=$2 path=$3 image=$4 name=$5 port
  port=$(run_verify "$name" "$image" 2>>"$log") || fail "$comp" "cannot start a container from $image" "$log"
  VERIFY_PORT=$port
  local deadline=$(($(date +%s) + WAIT_TIMEOUT))
  until http_200 "http://127.0.0.1:$port$path"; do
    if [[ $(docker inspect -f '{{.State.Running}}' "$VERIFY_PREFIX-$name" 2>/dev/null) != true ]] ||
      (($(date +%s) >= deadline)); then
      docker logs "$VERIFY_PREFIX-$name" >>"$log" 2>&1 || true
      docker rm -f "$VERIFY_PREFIX-$name" >/dev/null 2>&1 || true
      fail "$comp" "container from $image did not answer GET $path (container log appended)" "$log"
    fi
    sleep 0.2
  done
}

verify_registry_image() {
  local log=$LOGS/image-registry.log c=$VERIFY_PREFIX-registry tag
  verify_container registry-image "$log" /v2/ "$REGISTRY_IMAGE" registry
  tag=127.0.0.1:$VERIFY_PORT/testbed/verify:1
  docker tag "$BASE_IMAGE" "$tag"
  if ! docker push "$tag" >>"$log" 2>&1; then
    docker rmi "$tag" >/dev/null 2>&1 || true
    docker rm -f "$c" >/dev/null 2>&1 || true
    fail registry-image "docker push $tag failed" "$log"
  fi
  docker rmi "$tag" >/dev/null 2>&1 || true
  docker rm -f "$c" >/dev/null 2>&1 || true
}

verify_moto_image() {
  local log=$LOGS/image-moto.log
  verify_container moto-image "$log" /moto-api/ "$MOTO_IMAGE" moto
  docker rm -f "$VERIFY_PREFIX-moto" >/dev/null 2>&1 || true
}

registry_image() {
  if image_exists "$REGISTRY_IMAGE"; then STEP_RESULT=cached; return; fi
  local log=$LOGS/image-registry.log
  : >"$log"
  run_logged registry-image "$log" docker build --pull=false -t "$REGISTRY_IMAGE" "$IMAGES_DIR/registry"
  verify_registry_image
  STEP_RESULT=built
}

# Wheels for the moto image, fetched on the host (containers cannot reach PyPI here).
moto_wheels() {
  local dir=$1 log=$2 plat=() i
  [[ -f $dir/.stamp && $(<"$dir/.stamp") == "$(files_hash "$MOTO_REQS")" ]] && return
  for i in $(seq 5 36); do plat+=(--platform "manylinux_2_${i}_x86_64"); done
  plat+=(--platform manylinux2014_x86_64 --platform manylinux2010_x86_64 --platform manylinux1_x86_64)
  rm -rf "$dir"
  run_logged moto-image "$log" "$MOTO_VENV/bin/pip" download -q --disable-pip-version-check \
    -d "$dir" --only-binary=:all: "${plat[@]}" --python-version "$IMAGE_PY" --implementation cp \
    --abi "cp${IMAGE_PY/./}" --abi abi3 --abi none -r "$MOTO_REQS"
  files_hash "$MOTO_REQS" >"$dir/.stamp"
}

moto_image() {
  if image_exists "$MOTO_IMAGE"; then STEP_RESULT=cached; return; fi
  local log=$LOGS/image-moto.log ctx=$CACHE/tmp/moto-image-context
  : >"$log"
  moto_wheels "$CACHE/moto-wheels-$MOTO_VERSION" "$log"
  rm -rf "$ctx"
  mkdir -p "$ctx"
  cp "$IMAGES_DIR/moto/Dockerfile" "$MOTO_REQS" "$ctx/"
  cp -rl "$CACHE/moto-wheels-$MOTO_VERSION" "$ctx/wheels" 2>/dev/null ||
    cp -r "$CACHE/moto-wheels-$MOTO_VERSION" "$ctx/wheels"
  run_logged moto-image "$log" docker build --pull=false -t "$MOTO_IMAGE" "$ctx"
  rm -rf "$ctx"
  verify_moto_image
  STEP_RESULT=built
}

verify_images() {
  verify_registry_image
  verify_moto_image
  STEP_RESULT=passed
}

docker_status() {
  local d=down img
  docker_ok && d=ok
  report_status dockerd "$DOCKER_SOCK" "$d"
  for img in "$BASE_IMAGE" "$REGISTRY_IMAGE" "$MOTO_IMAGE"; do
    if [[ $d == ok ]] && image_exists "$img"; then report_status image "$img" present; else report_status image "$img" missing; fi
  done
  kind_status "$d"
}
