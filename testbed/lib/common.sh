# shellcheck shell=bash
# Shared helpers for scripts/testbed: settings, step timing, process management, failures.
# Sourced, never executed.

# ---- pinned versions (the Go wrapper modules under testbed/ must agree; build.sh checks) ----
K8S_VERSION=v1.34.4
ETCD_VERSION=v3.6.16
KWOK_VERSION=v0.8.0
MOTO_VERSION=5.2.5
DEBIAN_SUITE=bookworm

# ---- ports (all on 127.0.0.1) ----
ETCD_PORT=23790
ETCD_PEER_PORT=23800
APISERVER_PORT=26443
KCM_PORT=20257
SCHEDULER_PORT=20259
MOTO_PORT=25055

# ---- names ----
KUBE_CONTEXT=nexus-testbed
SA_ISSUER=https://kubernetes.default.svc.cluster.local
BASE_IMAGE=nexus-dev.local/testbed/debian:${DEBIAN_SUITE}
REGISTRY_IMAGE=nexus-dev.local/testbed/registry:${DEBIAN_SUITE}
MOTO_IMAGE=nexus-dev.local/testbed/moto:${MOTO_VERSION}
DOCKER_SOCK=/var/run/docker.sock

# ---- directories ----
CACHE=${NEXUS_TESTBED_CACHE:-$HOME/.cache/nexus-dev-testbed}
STATE=${NEXUS_TESTBED_DIR:-$HOME/.local/state/nexus-dev-testbed}
LOGS=$STATE/logs
PIDS=$STATE/pids
PKI=$STATE/pki
KUBECONFIG_FILE=$STATE/kubeconfig

K8S_BIN=$CACHE/k8s-$K8S_VERSION/bin
ETCD_BIN=$CACHE/etcd-$ETCD_VERSION/bin
KWOK_BIN=$CACHE/kwok-$KWOK_VERSION/bin

# Health-wait timeout per component, seconds.
WAIT_TIMEOUT=${NEXUS_TESTBED_TIMEOUT:-60}

export DEBIAN_FRONTEND=noninteractive
export DOCKER_HOST=unix://$DOCKER_SOCK
export GOTOOLCHAIN=local
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-buildvcs=false"

# ---- output ----
# stdout is reserved for `env`; everything else goes to stderr.
say() { printf 'testbed: %s\n' "$*" >&2; }

# microseconds since the epoch (bash 5, no subprocess)
now() { local t=${EPOCHREALTIME/./}; echo "${t#0}"; }

# step NAME FUNC [ARGS...]: run FUNC, print "testbed: NAME  <outcome>  <secs>s".
# FUNC sets STEP_RESULT (default "ok"; e.g. "cached", "running", "started", "built").
step() {
  local name=$1; shift
  local t0 t1
  STEP_RESULT=ok
  t0=$(now)
  "$@"
  t1=$(now)
  local ds=$(((t1 - t0) / 100000))
  printf 'testbed: %-18s %-8s %3d.%ds\n' "$name" "$STEP_RESULT" $((ds / 10)) $((ds % 10)) >&2
}

# fail COMPONENT MESSAGE [LOGFILE]: print a clear error, the log's tail, and exit 1.
fail() {
  local comp=$1 msg=$2 log=${3:-}
  {
    printf '\ntestbed: ERROR: %s: %s\n' "$comp" "$msg"
    if [[ -n $log ]]; then
      printf 'testbed: log: %s\n' "$log"
      if [[ -s $log ]]; then
        printf -- '----- last 30 lines of %s -----\n' "$log"
        tail -n 30 "$log"
        printf -- '----- end of %s -----\n' "$log"
      fi
    fi
  } >&2
  exit 1
}

# run_logged COMPONENT LOGFILE CMD...: run CMD quietly, appending to LOGFILE; fail on error.
run_logged() {
  local comp=$1 log=$2; shift 2
  mkdir -p "$(dirname "$log")"
  printf '\n=== %s: %s\n' "$(date -u +%FT%TZ)" "$*" >>"$log"
  if ! "$@" >>"$log" 2>&1; then
    fail "$comp" "command failed: $*" "$log"
  fi
}

# ---- processes ----
pidfile() { echo "$PIDS/$1.pid"; }

# proc_start PID: the process's start time in clock ticks (guards against pid reuse).
proc_start() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }             # drop "pid (comm) ", comm may contain spaces
  # shellcheck disable=SC2086 # word-split on purpose; field 22 of stat is field 20 here
  set -- $stat
  echo "${20}"
}

# alive PID: the process exists and is not a zombie (a detached process whose parent exited is
# reaped by init, which may take a while).
alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != Z ]]
}

# is_running NAME: the process recorded in NAME's pid file is alive (and is not a reused pid).
is_running() {
  local f pid start
  f=$(pidfile "$1")
  [[ -f $f ]] || return 1
  read -r pid start _ <"$f" || return 1
  [[ -n ${pid:-} ]] && alive "$pid" || return 1
  [[ -z ${start:-} || $(proc_start "$pid") == "$start" ]]
}

running_pid() { local pid _; read -r pid _ <"$(pidfile "$1")"; echo "$pid"; }

# start_bg NAME CMD...: start CMD detached (own session), log to $LOGS/NAME.log, record pid.
start_bg() {
  local name=$1; shift
  local log=$LOGS/$name.log pid
  mkdir -p "$LOGS" "$PIDS"
  printf '\n=== %s: starting %s\n' "$(date -u +%FT%TZ)" "$*" >>"$log"
  setsid nohup "$@" >>"$log" 2>&1 </dev/null 9>&- &
  pid=$!
  echo "$pid $(proc_start "$pid") $(args_hash "$@")" >"$(pidfile "$name")"
}

# args_hash CMD...: identifies a command line, and the build of its binary (the cache stamp next
# to it, if any), so a rebuilt binary also restarts its process.
args_hash() {
  { printf '%s\n' "$@"; cat "$(dirname "$1")/.stamp" 2>/dev/null || true; } | sha256sum | cut -c1-16
}

# up_to_date NAME CMD...: NAME is running, and was started with exactly CMD (so a changed flag
# in these scripts restarts the component on the next `up`).
up_to_date() {
  local name=$1 _p _s h; shift
  is_running "$name" || return 1
  read -r _p _s h <"$(pidfile "$name")"
  [[ ${h:-} == "$(args_hash "$@")" ]]
}

# stop_bg NAME: TERM, wait up to 15s, then KILL; remove the pid file.
stop_bg() {
  local name=$1 pid i t0
  if is_running "$name"; then
    t0=$SECONDS
    pid=$(running_pid "$name")
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 150; i++)); do
      alive "$pid" || break
      sleep 0.1
    done
    if alive "$pid"; then
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
    fi
    say "$name stopped (pid $pid, $((SECONDS - t0))s)"
  fi
  rm -f "$(pidfile "$name")"
}

# wait_for COMPONENT LOGFILE DESCRIPTION CMD...: poll CMD every 0.2s until it succeeds;
# fail after WAIT_TIMEOUT seconds, or at once if the component's process died.
wait_for() {
  local comp=$1 log=$2 what=$3; shift 3
  local deadline
  deadline=$(($(date +%s) + WAIT_TIMEOUT))
  while ! "$@" >/dev/null 2>&1; do
    if [[ -f $(pidfile "$comp") ]] && ! is_running "$comp"; then
      fail "$comp" "process exited while waiting for $what" "$log"
    fi
    if (($(date +%s) >= deadline)); then
      fail "$comp" "timed out after ${WAIT_TIMEOUT}s waiting for $what" "$log"
    fi
    sleep 0.2
  done
}

# apt_install PKG...: install Debian packages, running `apt-get update` once per `up`.
APT_UPDATED=0
apt_install() {
  local log=$LOGS/apt.log
  # Another apt (unattended upgrades, a second script) may hold the lock: wait for it.
  local wait=(-o DPkg::Lock::Timeout=600)
  if ((APT_UPDATED == 0)); then
    run_logged apt "$log" apt-get "${wait[@]}" update
    APT_UPDATED=1
  fi
  run_logged apt "$log" apt-get "${wait[@]}" install -y --no-install-recommends "$@"
}

# need_cmd CMD DEBIAN_PACKAGE: make sure CMD exists, installing its package if missing.
need_cmd() {
  command -v "$1" >/dev/null 2>&1 || apt_install "$2"
  command -v "$1" >/dev/null 2>&1 || fail apt "package $2 installed but $1 is still missing" "$LOGS/apt.log"
}

# hash of files (for cache stamps)
files_hash() { cat "$@" | sha256sum | cut -c1-16; }
