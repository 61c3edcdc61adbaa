#!/usr/bin/env bash
# Makes a development PKI with the openssl CLI: a CA, a server certificate for
# localhost/127.0.0.1, an operator certificate and one certificate per device.
# Keys are EC P-256. For development and tests only: keys are unencrypted.
#
#   deploy/pki/make-dev-pki.sh OUT_DIR [DEVICE_COUNT=10]
#
# Writes OUT_DIR/{ca,server,operator,device-0,...}.{crt,key}. Existing files
# are kept, so the script is idempotent.
set -euo pipefail

out=${1:?usage: make-dev-pki.sh OUT_DIR [DEVICE_COUNT]}
devices=${2:-10}
days=825
mkdir -p "$out"
cd "$out"

newkey() { [ -f "$1.key" ] || openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null; chmod 600 "$1.key"; }

if [ ! -f ca.crt ]; then
  newkey ca
  openssl req -x509 -new -key ca.key -sha256 -days "$days" -subj "/CN=Cohort Dev CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out ca.crt 2>/dev/null
fi

# sign NAME CN EXTFILE_CONTENT
sign() {
  local name=$1 cn=$2 ext=$3
  [ -f "$name.crt" ] && return 0
  newkey "$name"
  openssl req -new -key "$name.key" -subj "/CN=$cn" -out "$name.csr" 2>/dev/null
  printf '%s\n' "$ext" > "$name.ext"
  openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
    -days "$days" -sha256 -extfile "$name.ext" -out "$name.crt" 2>/dev/null
  rm -f "$name.csr" "$name.ext"
}

sign server localhost "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1"

sign operator operator "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"

for ((i = 0; i < devices; i++)); do
  sign "device-$i" "device-$i" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"
done
echo "dev PKI in $(pwd): ca, server, operator, $devices devices"
