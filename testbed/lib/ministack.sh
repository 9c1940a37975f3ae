# shellcheck shell=bash
# MiniStack (PyPI `ministack`, MIT), the LocalStack-compatible AWS emulator: a host process from
# a pinned venv, and a locally built stand-in image for the official ministackorg/ministack
# (docs/design/testbed.md). The LocalStack code path of nexus-dev is tested against it, since
# LocalStack's image needs a token and cannot be pulled here. Sourced after aws.sh and docker.sh.

MINISTACK_VERSION=1.5.33
MINISTACK_PORT=25066          # host process, 127.0.0.1
MINISTACK_CONTAINER_PORT=4566 # the image: LocalStack's and MiniStack's default port
MINISTACK_IMAGE=nexus-dev.local/testbed/ministack:$MINISTACK_VERSION
MINISTACK_REQS=$TESTBED_DIR/ministack/requirements.txt
MINISTACK_VENV=$CACHE/venv-ministack-$MINISTACK_VERSION
MINISTACK_WHEELS=$CACHE/ministack-wheels-$MINISTACK_VERSION
MINISTACK_URL=http://127.0.0.1:$MINISTACK_PORT
MINISTACK_STARTED=0

ministack_venv() {
  local stamp py log=$LOGS/ministack-venv.log
  grep -qx "ministack==$MINISTACK_VERSION" "$MINISTACK_REQS" ||
    fail ministack-venv "$MINISTACK_REQS does not pin ministack==$MINISTACK_VERSION"
  stamp=$(files_hash "$MINISTACK_REQS")
  if [[ -f $MINISTACK_VENV/.stamp && $(<"$MINISTACK_VENV/.stamp") == "$stamp" && -x $MINISTACK_VENV/bin/ministack ]] &&
    "$MINISTACK_VENV/bin/python" -c 'import importlib.util as u, sys; sys.exit(u.find_spec("ministack") is None)' 2>/dev/null; then
    STEP_RESULT=cached
    return
  fi
  py=$(pick_python)
  : >"$log"
  rm -rf "$MINISTACK_VENV"
  run_logged ministack-venv "$log" "$py" -m venv "$MINISTACK_VENV"
  run_logged ministack-venv "$log" "$MINISTACK_VENV/bin/pip" install --disable-pip-version-check -q -r "$MINISTACK_REQS"
  echo "$stamp" >"$MINISTACK_VENV/.stamp"
  STEP_RESULT=built
}

ministack_healthy() { curl -fsS --max-time 2 -o /dev/null "$MINISTACK_URL/_localstack/health"; }

# The venv's stamp is part of the command line, so a re-pinned venv restarts the process.
ministack_cmd() {
  MINISTACK_CMD=(env "NEXUS_TESTBED_VENV=$(cat "$MINISTACK_VENV/.stamp" 2>/dev/null)"
    BIND_HOST=127.0.0.1 "GATEWAY_PORT=$MINISTACK_PORT" "$MINISTACK_VENV/bin/ministack")
}

ministack_up() {
  ministack_cmd
  if up_to_date ministack "${MINISTACK_CMD[@]}" && ministack_healthy; then STEP_RESULT=running; return; fi
  stop_bg ministack
  start_bg ministack "${MINISTACK_CMD[@]}"
  wait_for ministack "$LOGS/ministack.log" "$MINISTACK_URL/_localstack/health" ministack_healthy
  MINISTACK_STARTED=1
  STEP_RESULT=started
}

verify_ministack() {
  local log=$LOGS/verify-ministack.log
  : >"$log"
  run_logged verify-ministack "$log" "$MINISTACK_VENV/bin/python" "$TESTBED_DIR/moto/smoke.py" "$MINISTACK_URL" ministack
  STEP_RESULT=passed
}

reset_ministack() {
  curl -fsS --max-time 10 -X POST -o /dev/null "$MINISTACK_URL/_ministack/reset" ||
    fail ministack "POST $MINISTACK_URL/_ministack/reset failed (is it up? scripts/testbed status)" "$LOGS/ministack.log"
  say "ministack reset"
}

# ---- the stand-in image ----
# Wheels for the image, fetched on the host (containers cannot reach PyPI here).
ministack_wheels() {
  local log=$1 plat=() i
  [[ -f $MINISTACK_WHEELS/.stamp && $(<"$MINISTACK_WHEELS/.stamp") == "$(files_hash "$MINISTACK_REQS")" ]] && return
  for i in $(seq 5 36); do plat+=(--platform "manylinux_2_${i}_x86_64"); done
  plat+=(--platform manylinux2014_x86_64 --platform manylinux2010_x86_64 --platform manylinux1_x86_64)
  rm -rf "$MINISTACK_WHEELS"
  run_logged ministack-image "$log" "$MINISTACK_VENV/bin/pip" download -q --disable-pip-version-check \
    -d "$MINISTACK_WHEELS" --only-binary=:all: "${plat[@]}" --python-version "$IMAGE_PY" --implementation cp \
    --abi "cp${IMAGE_PY/./}" --abi abi3 --abi none -r "$MINISTACK_REQS"
  files_hash "$MINISTACK_REQS" >"$MINISTACK_WHEELS/.stamp"
}

# The image's check: a container with testbed/ministack/ready.d mounted read-only at
# /etc/localstack/init/ready.d (as nexus-dev mounts a project's hooks) must answer
# /_localstack/health, run both hooks (.sh and .py), and serve the buckets they created.
verify_ministack_image() {
  local log=$LOGS/image-ministack.log c=$VERIFY_PREFIX-ministack port url health b deadline
  docker rm -f "$c" >/dev/null 2>&1 || true
  docker run -d --name "$c" -p "127.0.0.1::$MINISTACK_CONTAINER_PORT" \
    -v "$TESTBED_DIR/ministack/ready.d:/etc/localstack/init/ready.d:ro" "$MINISTACK_IMAGE" >>"$log" 2>&1 ||
    fail ministack-image "cannot start a container from $MINISTACK_IMAGE" "$log"
  port=$(docker port "$c" "$MINISTACK_CONTAINER_PORT/tcp" | head -n1 | sed 's/.*://')
  url=http://127.0.0.1:$port
  deadline=$(($(date +%s) + WAIT_TIMEOUT))
  # /_ministack/ready is 200 once the ready.d hooks have run
  until http_200 "$url/_localstack/health" && http_200 "$url/_ministack/ready"; do
    if [[ $(docker inspect -f '{{.State.Running}}' "$c" 2>/dev/null) != true ]] || (($(date +%s) >= deadline)); then
      docker logs "$c" >>"$log" 2>&1 || true
      docker rm -f "$c" >/dev/null 2>&1 || true
      fail ministack-image "container from $MINISTACK_IMAGE did not become ready (container log appended)" "$log"
    fi
    sleep 0.2
  done
  health=$(curl -fsS --max-time 2 "$url/_localstack/health")
  printf '%s\n' "$health" >>"$log"
  for b in testbed-hook-sh testbed-hook-py; do
    if [[ $health != *'"ready_scripts": {"status": "completed", "total": 2, "completed": 2, "failed": 0}'* ]] ||
      ! http_200 "$url/$b"; then
      docker logs "$c" >>"$log" 2>&1 || true
      docker rm -f "$c" >/dev/null 2>&1 || true
      fail ministack-image "the ready.d hooks did not both run (bucket $b; health and container log appended)" "$log"
    fi
  done
  docker rm -f "$c" >/dev/null 2>&1 || true
}

# The image is reused while its label holds the hash of its inputs (Dockerfile, pins).
ministack_image_inputs() { files_hash "$IMAGES_DIR/ministack/Dockerfile" "$MINISTACK_REQS"; }

ministack_image() {
  local inputs old
  inputs=$(ministack_image_inputs)
  old=$(docker image inspect -f '{{.Id}} {{index .Config.Labels "dev.nexus.testbed.inputs"}}' "$MINISTACK_IMAGE" 2>/dev/null) || old=
  if [[ -n $old && ${old#* } == "$inputs" ]]; then STEP_RESULT=cached; return; fi
  local log=$LOGS/image-ministack.log ctx=$CACHE/tmp/ministack-image-context
  : >"$log"
  ministack_wheels "$log"
  rm -rf "$ctx"
  mkdir -p "$ctx"
  cp "$IMAGES_DIR/ministack/Dockerfile" "$MINISTACK_REQS" "$ctx/"
  cp -rl "$MINISTACK_WHEELS" "$ctx/wheels" 2>/dev/null || cp -r "$MINISTACK_WHEELS" "$ctx/wheels"
  run_logged ministack-image "$log" docker build --pull=false --label "dev.nexus.testbed.inputs=$inputs" \
    -t "$MINISTACK_IMAGE" "$ctx"
  rm -rf "$ctx"
  # the previous build, now untagged (kept if a container still uses it)
  if [[ -n $old ]]; then docker rmi "${old%% *}" >/dev/null 2>&1 || true; fi
  verify_ministack_image
  STEP_RESULT=built
}

verify_ministack_images() {
  verify_ministack_image
  STEP_RESULT=passed
}

# status: the host process, and the image (only asked when dockerd answers)
ministack_status() {
  report_status ministack "127.0.0.1:$MINISTACK_PORT" "$( (is_running ministack && ministack_healthy) && echo ok || echo down)"
  if docker_ok && image_exists "$MINISTACK_IMAGE"; then
    report_status image "$MINISTACK_IMAGE" present
  else
    report_status image "$MINISTACK_IMAGE" missing
  fi
}
