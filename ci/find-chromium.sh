# Sourced by the browser tests: sets CHROMIUM to a headless-capable browser,
# or, when none is on PATH, skips the calling script (exit 0) where
# RANKFLOW_BROWSER_TESTS_OPTIONAL=1 and fails it otherwise. $1: the caller's
# name for its messages.
CHROMIUM="${CHROMIUM:-$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)}"
if [ -z "$CHROMIUM" ]; then
    if [ "${RANKFLOW_BROWSER_TESTS_OPTIONAL:-0}" = "1" ]; then
        echo "$1: SKIPPED: no chromium on PATH (RANKFLOW_BROWSER_TESTS_OPTIONAL=1)"
        exit 0
    fi
    echo "$1: no chromium on PATH; run ci/install-deps.sh, or set RANKFLOW_BROWSER_TESTS_OPTIONAL=1 to skip" >&2
    exit 1
fi
