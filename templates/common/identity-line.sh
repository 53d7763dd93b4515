# --- common/identity-line.sh: the node's public identity on the console (src/bootstrap/node-identity.ts) ---
print_identity() {
  identity_cert=$(openssl x509 -in "$TLS_DIR/cert.pem" -outform DER | base64 | tr -d '\n') ||
    fail "cannot read the node certificate"
  identity_line="SKYPOOL-IDENTITY v1 name=$NODE_NAME fabric=$FABRIC_IP wg=$WG_PUBLIC_KEY cert=$identity_cert"
  echo "$identity_line"
}
