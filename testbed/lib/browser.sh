# shellcheck shell=bash
# Headless Chromium for the page tests (DESIGN.md §8 "Pages", issue 16): Debian's `chromium`
# driven by `playwright-core` from npm (pinned, in the cache; its own browser downloads are never
# used: the tests pass `executablePath`). Sourced, never executed.

PLAYWRIGHT_VERSION=1.65.2
PLAYWRIGHT_DIR=$CACHE/playwright-core-$PLAYWRIGHT_VERSION

browser_install() {
  local installed=0
  if ! command -v chromium >/dev/null 2>&1; then
    need_cmd chromium chromium
    installed=1
  fi
  if [[ ! -f $PLAYWRIGHT_DIR/node_modules/playwright-core/package.json ]]; then
    need_cmd npm npm
    mkdir -p "$PLAYWRIGHT_DIR"
    # --ignore-scripts: nothing runs at install, and no browser is downloaded.
    run_logged playwright "$LOGS/playwright.log" npm install --prefix "$PLAYWRIGHT_DIR" --no-audit --no-fund \
      --ignore-scripts --no-save "playwright-core@$PLAYWRIGHT_VERSION"
    installed=1
  fi
  if ((installed)); then STEP_RESULT=installed; else STEP_RESULT=cached; fi
}

# `NAME=value` lines for cmd_env.
browser_env() {
  BROWSER_ENV=(
    "NEXUS_TESTBED_CHROMIUM=$(command -v chromium || echo /usr/bin/chromium)"
    "NEXUS_TESTBED_PLAYWRIGHT=$PLAYWRIGHT_DIR/node_modules/playwright-core"
  )
}
