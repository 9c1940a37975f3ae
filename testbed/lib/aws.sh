# shellcheck shell=bash
# The AWS emulator: moto server from a pinned venv. Sourced.

MOTO_REQS=$TESTBED_DIR/moto/requirements.txt
MOTO_VENV=$CACHE/venv-moto-$MOTO_VERSION
MOTO_URL=http://127.0.0.1:$MOTO_PORT
MOTO_STARTED=0

pick_python() {
  local p
  for p in python3.11 python3; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import sys, venv; sys.exit(sys.version_info < (3, 9))' 2>/dev/null; then
      echo "$p"
      return
    fi
  done
  apt_install python3 python3-venv
  echo python3
}

moto_venv() {
  local stamp py log=$LOGS/moto-venv.log
  grep -qx "moto==$MOTO_VERSION" "$MOTO_REQS" || fail moto-venv "$MOTO_REQS does not pin moto==$MOTO_VERSION"
  stamp=$(files_hash "$MOTO_REQS")
  if [[ -f $MOTO_VENV/.stamp && $(<"$MOTO_VENV/.stamp") == "$stamp" && -x $MOTO_VENV/bin/moto_server ]] &&
    "$MOTO_VENV/bin/python" -c 'import importlib.util as u, sys; sys.exit(u.find_spec("moto") is None)' 2>/dev/null; then
    STEP_RESULT=cached
    return
  fi
  py=$(pick_python)
  : >"$log"
  rm -rf "$MOTO_VENV"
  run_logged moto-venv "$log" "$py" -m venv "$MOTO_VENV"
  run_logged moto-venv "$log" "$MOTO_VENV/bin/pip" install --disable-pip-version-check -q -r "$MOTO_REQS"
  echo "$stamp" >"$MOTO_VENV/.stamp"
  STEP_RESULT=built
}

moto_healthy() { curl -fsS --max-time 2 -o /dev/null "$MOTO_URL/moto-api/"; }

moto_up() {
  # moto_server with the EKS/STS patches of the EKS stand-in (testbed/moto/server.py; the rev
  # argument, a hash of the patch and the identities, restarts moto when either changes)
  local cmd=("$MOTO_VENV/bin/python" -B "$TESTBED_DIR/moto/server.py"
    --testbed-identities "$EKS_IDENTITIES"
    --testbed-rev "$(files_hash "$TESTBED_DIR/moto/server.py" "$EKS_IDENTITIES")"
    -H 127.0.0.1 -p "$MOTO_PORT")
  if up_to_date moto "${cmd[@]}" && moto_healthy; then STEP_RESULT=running; return; fi
  stop_bg moto
  start_bg moto "${cmd[@]}"
  wait_for moto "$LOGS/moto.log" "$MOTO_URL/moto-api/" moto_healthy
  MOTO_STARTED=1
  STEP_RESULT=started
}

verify_aws() {
  local log=$LOGS/verify-aws.log
  : >"$log"
  run_logged verify-aws "$log" "$MOTO_VENV/bin/python" "$TESTBED_DIR/moto/smoke.py" "$MOTO_URL"
  STEP_RESULT=passed
}

reset_aws() {
  curl -fsS --max-time 10 -X POST -o /dev/null "$MOTO_URL/moto-api/reset" ||
    fail moto "POST $MOTO_URL/moto-api/reset failed (is the emulator up? scripts/testbed status)" "$LOGS/moto.log"
  say "moto reset"
}
