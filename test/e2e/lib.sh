# Helpers for inkan's end-to-end tests: they drive the built `inkan` binary
# and real third-party tools (SoftHSMv2, pkcs11-tool, openssl, sqlite3).
set -u
: "${INKAN:?set INKAN to the inkan binary}"
PASS=0
FAIL=0
WORK=$(mktemp -d /tmp/inkan-e2e-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
SOFTHSM_LIB=${INKAN_SOFTHSM_LIB:-/usr/lib/softhsm/libsofthsm2.so}

ok() { PASS=$((PASS + 1)); echo "ok   - $1"; }
not_ok() { FAIL=$((FAIL + 1)); echo "FAIL - $1"; }

# expect_rc WANT DESCRIPTION -- command...   (stdout+stderr kept in $OUT)
expect_rc() {
  local want=$1 what=$2
  shift 3
  OUT=$("$@" 2>&1)
  local rc=$?
  if [ "$rc" -eq "$want" ]; then ok "$what"; else not_ok "$what (exit $rc, wanted $want): $OUT"; fi
}

# expect_out PATTERN DESCRIPTION: the last command's output matches PATTERN
expect_out() {
  if echo "$OUT" | grep -qE -- "$1"; then ok "$2"; else not_ok "$2 (output: $OUT)"; fi
}

finish() {
  echo "$PASS passed, $FAIL failed"
  [ "$FAIL" -eq 0 ]
}
