# --- swarm/join-vars.sh: how to join (the SDK rotates the token once the joins settle) ---
JOIN_TOKEN={{join_token}}
# Alternative to JOIN_TOKEN: a command printing the token at boot (e.g. from a secrets manager).
JOIN_TOKEN_COMMAND={{join_token_command}}
JOIN_ADDRS={{join_addrs}}
