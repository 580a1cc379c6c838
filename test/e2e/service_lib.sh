# Shared setup for the tests that run `inkan serve`: an instance with a
# 2-of-2 CA (custodians alice and bob, their shares opened), TOTP helpers,
# and starting the service. Source after lib.sh.
D=$WORK/data
export INKAN_DATA=$D
K=$WORK/keys
mkdir -p "$K"
req() { sed -n 's/^request //p'; }

# setup_ca SUBJECT: init, two operators, the CA, shares in $WORK/*.share,
# the root in $WORK/root.pem; SHARES holds the --share arguments.
setup_ca() {
  local who id
  for who in alice bob; do
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$K/$who.key" 2>/dev/null
    openssl pkey -in "$K/$who.key" -pubout -out "$K/$who.pub"
  done
  "$INKAN" init --quorum 2 --policy argon2.m_cost_kib=1024 --policy argon2.t_cost=1 >/dev/null
  "$INKAN" operator add alice --public-key "$K/alice.pub" >/dev/null
  "$INKAN" operator add bob --public-key "$K/bob.pub" >/dev/null
  id=$("$INKAN" ca init --subject "$1" --crl-url http://127.0.0.1/ca.crl \
         --ocsp-url http://127.0.0.1/ocsp --operator alice --key "$K/alice.key" | req)
  "$INKAN" ceremony approve --id "$id" --operator bob --key "$K/bob.key" >/dev/null
  "$INKAN" ceremony execute --id "$id" >/dev/null
  "$INKAN" ca certificate > "$WORK/root.pem"
  for who in alice bob; do
    "$INKAN" ca share --custodian "$who" > "$WORK/$who.sealed"
    "$INKAN" ca open-share --in "$WORK/$who.sealed" --key "$K/$who.key" > "$WORK/$who.share"
  done
  SHARES=(--share "$WORK/alice.share" --share "$WORK/bob.share")
}

# secret_hex URI: the TOTP secret of an otpauth:// URI, in hex.
secret_hex() {
  local b32
  b32=$(echo "$1" | sed -n 's/.*[?&]secret=\([A-Z2-7]*\).*/\1/p')
  while [ $(( ${#b32} % 8 )) -ne 0 ]; do b32="$b32="; done
  echo "$b32" | base32 -d | xxd -p | tr -d '\n'
}
# totp HEX OFFSET: the RFC 6238 code (SHA-1, 6 digits, 30 s) for now+OFFSET
# steps (a code is accepted once, and only for the current step ±1).
totp() {
  local step mac off code
  step=$(( $(date +%s) / 30 + $2 ))
  mac=$(printf '%016x' "$step" | xxd -r -p | openssl dgst -sha1 -mac HMAC -macopt "hexkey:$1" -binary | xxd -p | tr -d '\n')
  off=$(( 16#${mac:39:1} * 2 ))
  code=$(( (16#${mac:$off:8} & 0x7fffffff) % 1000000 ))
  printf '%06d' "$code"
}

# start_serve: TLS certificate from the CA, then `inkan serve` on a free
# loopback port; BASE is its /csc/v2/ URL, PID its process, fd 3 its output.
start_serve() {
  [ -f "$D/tls/cert.pem" ] || "$INKAN" tls issue --name 127.0.0.1 --name localhost "${SHARES[@]}" >/dev/null
  mkfifo "$WORK/ready"
  "$INKAN" serve --listen 127.0.0.1:0 > "$WORK/ready" 2>"$WORK/serve.err" &
  PID=$!
  exec 3< "$WORK/ready"
  local line
  read -r -u 3 line
  BASE=${line#listening on }
}

# stop_serve: SIGTERM, and the exit code in RC.
stop_serve() {
  kill -TERM "$PID"
  wait "$PID"
  RC=$?
  exec 3<&-
}
