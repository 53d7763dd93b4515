# --- aws/tls.sh: the engine's mTLS identity, made at boot. The key never leaves the node. ---
# The TLS secret holds the cluster CA certificate (it verifies the SDK's client certificate) and an issuer CA that
# may only sign server certificates (EKU serverAuth, pathlen 0): a node can prove who it is, not mint clients.
TLS_DIR=/etc/skypool/tls
mkdir -p "$TLS_DIR"
chmod 0700 "$TLS_DIR"
until $AWS files "$TLS_SECRET_ID" "$TLS_DIR" caPem:ca.pem issuerCertPem:issuer.pem issuerKeyPem:issuer-key.pem 2>>"$LOG_DIR/aws.err"; do
  [ "$(remaining)" -gt 0 ] || fail "no TLS material in secret $TLS_SECRET_ID: store the output of skypool's CDK TLS helper there (see $LOG_DIR/aws.err)"
  sleep 5
done
# Every address skypool may dial: private, public, and for managers the cluster's Elastic IP (whoever takes it).
SAN="DNS:$NODE_NAME,IP:$NODE_IP,IP:127.0.0.1"
[ -z "$PUBLIC_IP" ] || SAN="$SAN,IP:$PUBLIC_IP"
if [ "$SKYPOOL_ROLE" = manager ] && EIP=$($AWS field "$JOIN_SECRET_ID" eipAddress 2>>"$LOG_DIR/aws.err"); then
  SAN="$SAN,IP:$EIP"
fi
(
  umask 077
  cd "$TLS_DIR" &&
    printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyAgreement\nextendedKeyUsage=serverAuth\nsubjectAltName=%s\n' "$SAN" >ext.cnf &&
    openssl ecparam -name prime256v1 -genkey -noout -out key.pem &&
    openssl req -new -key key.pem -subj "/CN=$NODE_NAME" -out node.csr &&
    openssl x509 -req -in node.csr -CA issuer.pem -CAkey issuer-key.pem -set_serial "0x$(openssl rand -hex 16)" \
      -days 825 -sha256 -extfile ext.cnf -out cert.pem &&
    cat issuer.pem >>cert.pem
) >>"$LOG_DIR/tls.log" 2>&1
rc=$?
rm -f "$TLS_DIR/issuer-key.pem" "$TLS_DIR/node.csr" "$TLS_DIR/ext.cnf"
[ "$rc" = 0 ] || fail "cannot make the node certificate with openssl (see $LOG_DIR/tls.log)"
chmod 0644 "$TLS_DIR/ca.pem" "$TLS_DIR/cert.pem" "$TLS_DIR/issuer.pem"
chmod 0600 "$TLS_DIR/key.pem"
