# --- common/node-keys.sh: the engine API's TLS identity, made on the node (the key never leaves it) ---
# An EC P-256 key and a self-signed certificate naming the node (CN and SAN): the SDK pins it from the console.
TLS_DIR=/etc/skypool/tls
mkdir -p "$TLS_DIR" && chmod 0700 "$TLS_DIR" || fail "cannot create $TLS_DIR"
printf '%s\n' "$TLS_CA" >"$TLS_DIR/ca.pem" && chmod 0644 "$TLS_DIR/ca.pem" || fail "cannot write $TLS_DIR/ca.pem"
if [ ! -s "$TLS_DIR/key.pem" ] || [ ! -s "$TLS_DIR/cert.pem" ] ||
  ! openssl x509 -in "$TLS_DIR/cert.pem" -noout -subject 2>/dev/null | grep -Eq "CN ?= ?$NODE_NAME\$"; then
  (
    umask 077
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
      -keyout "$TLS_DIR/key.new" -out "$TLS_DIR/cert.new" -subj "/CN=$NODE_NAME" \
      -addext "subjectAltName=DNS:$NODE_NAME" -addext "extendedKeyUsage=serverAuth" 2>"$LOG_DIR/openssl.err" &&
      mv -f "$TLS_DIR/key.new" "$TLS_DIR/key.pem" && mv -f "$TLS_DIR/cert.new" "$TLS_DIR/cert.pem"
  ) || fail "cannot make the node's TLS key and certificate: $(tail -n 1 "$LOG_DIR/openssl.err")"
fi
chmod 0600 "$TLS_DIR/key.pem"
chmod 0644 "$TLS_DIR/cert.pem"
