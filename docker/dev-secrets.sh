#!/usr/bin/env bash
# Makes docker/secrets/ for docker/compose.yaml, for development only:
#   - the dev PKI (deploy/pki/make-dev-pki.sh): ca, server (localhost),
#     operator (for cohortctl), device-0..2 for the three agents, and
#     device-3, copied to probe.{crt,key}: the health check's own client
#     certificate;
#   - pg_password, a random PostgreSQL password.
# Compose mounts secrets with their host owner and mode, and the containers
# run as uid 10001 (postgres as 999), so the files are made world-readable.
# Never do that with real keys: in production use Kubernetes Secrets
# (deploy/k8s) or files owned by the container's user.
set -euo pipefail
cd "$(dirname "$0")/.."
out=docker/secrets
deploy/pki/make-dev-pki.sh "$out" 4 >/dev/null
[ -f "$out/probe.crt" ] || cp "$out/device-3.crt" "$out/probe.crt"
[ -f "$out/probe.key" ] || cp "$out/device-3.key" "$out/probe.key"
[ -s "$out/pg_password" ] || openssl rand -hex 16 >"$out/pg_password"
chmod 0644 "$out"/*.crt "$out"/*.key "$out/pg_password"
echo "dev secrets in $out"
