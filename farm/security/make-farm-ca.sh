#!/usr/bin/env bash
# Makes a farm CA, the coordinator's TLS certificate signed by it, and a farm token, under DIR (default ./rmtc-secrets).
# Usage: make-farm-ca.sh COORDINATOR_HOST [COORDINATOR_IP] [DIR]
#        make-farm-ca.sh agent NODE [DIR]     (an agent's client certificate, for mutual TLS instead of the farm token)
# Then: coordinator.pem/.key -> /etc/rmtc/tls/ on the coordinator; farm-ca.pem -> every agent and wrangler host;
# farm-token -> /etc/rmtc/farm-token on the coordinator and every agent (mode 0600, owned by rmtc).
set -euo pipefail
if [ "${1:-}" = agent ]; then
  # make-farm-ca.sh agent NODE [DIR]: a client certificate for mutual TLS (Coordinator:Tls:AgentCaPath = farm-ca.pem),
  # signed by the farm CA made earlier in DIR: NODE.pem + NODE.key -> Agent:ClientCertificatePath / ClientKeyPath.
  node=${2:?usage: make-farm-ca.sh agent NODE [DIR]}
  cd "${3:-rmtc-secrets}"
  umask 077
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$node" -keyout "$node.key" -out "$node.csr"
  openssl x509 -req -in "$node.csr" -CA farm-ca.pem -CAkey farm-ca.key -CAcreateserial -days 825 -out "$node.pem" \
    -extfile <(printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n')
  rm "$node.csr"
  chmod 644 "$node.pem"
  echo "made $node.pem + $node.key (copy to the node; Agent:ClientCertificatePath / Agent:ClientKeyPath)"
  exit 0
fi
host=${1:?usage: make-farm-ca.sh COORDINATOR_HOST [COORDINATOR_IP] [DIR]  |  make-farm-ca.sh agent NODE [DIR]}
ip=${2:-}
dir=${3:-rmtc-secrets}
mkdir -p "$dir" && cd "$dir"
umask 077
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
  -subj "/CN=RMTC farm CA" -keyout farm-ca.key -out farm-ca.pem \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
san="DNS:$host"
[ -n "$ip" ] && san="$san,IP:$ip"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$host" \
  -keyout coordinator.key -out coordinator.csr
openssl x509 -req -in coordinator.csr -CA farm-ca.pem -CAkey farm-ca.key -CAcreateserial -days 825 -out coordinator.pem \
  -extfile <(printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=%s\n' "$san")
rm coordinator.csr
openssl rand -hex 32 > farm-token
chmod 644 farm-ca.pem coordinator.pem
echo "made in $dir: farm-ca.pem (trust it: --ca / RMTC_CA_FILE), coordinator.pem + coordinator.key, farm-token; keep farm-ca.key offline"
