# --- common/tls.sh: the engine's mTLS identity (server cert with the node IP in its SAN) ---
TLS_DIR=/etc/skypool/tls
mkdir -p "$TLS_DIR"
chmod 0700 "$TLS_DIR"
(
  umask 077
  printf '%s\n' "$TLS_CA" >"$TLS_DIR/ca.pem"
  printf '%s\n' "$TLS_CERT" >"$TLS_DIR/cert.pem"
  printf '%s\n' "$TLS_KEY" >"$TLS_DIR/key.pem"
) || fail "cannot write TLS files to $TLS_DIR"
chmod 0644 "$TLS_DIR/ca.pem" "$TLS_DIR/cert.pem"
chmod 0600 "$TLS_DIR/key.pem"
unset TLS_KEY
