# --- common/done.sh ---
echo "ok $(($(date +%s) - START))s" >"$STATUS_DIR/bootstrap.done"
log "bootstrap done in $(($(date +%s) - START))s"
