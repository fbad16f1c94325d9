#!/usr/bin/env bash
# Generates the TLS material of one Shoal cluster: a private CA, one certificate per node (Artery
# mutual TLS between nodes, and the gRPC server's certificate) and one per client (`shoal submit` and
# friends when the gRPC API asks for client certificates).
#
# Guarantees:
# - Every certificate is signed by the cluster's own CA and by nothing else; a node that trusts only
#   this CA refuses peers whose certificate comes from anywhere else.
# - Private keys and keystores are written 0600; passwords never appear on a command line (openssl
#   and keytool read them from files or the environment), and the script never prints them.
# - Re-running with an existing CA keeps it and only adds the missing node/client certificates.
#
# Output (in OUT_DIR):
#   ca.crt, ca.key                      the CA (keep ca.key offline once nodes are issued)
#   truststore.p12                      PKCS#12 trust store holding ca.crt (shoal.tls.trust-store)
#   nodes/HOST.p12                      node key store (shoal.tls.key-store) for HOST
#   nodes/HOST.crt, nodes/HOST.key      the same in PEM (for the gRPC server)
#   clients/NAME.p12, .crt, .key        client certificates
#   store-password                      the password of every .p12 here (0600)
set -euo pipefail

usage() {
  cat <<'EOF'
usage: gen-certs.sh OUT_DIR --node HOST [--node HOST ...] [--client NAME ...] [--days N]

  OUT_DIR     directory for the CA, the stores and the PEM files (created if missing)
  --node H    issue a node certificate for host H (DNS name or IP address; repeatable)
  --client N  issue a client certificate with common name N (repeatable)
  --days N    validity of new certificates in days (default 825)

The store password comes from SHOAL_TLS_STORE_PASSWORD, else from OUT_DIR/store-password, else a
random one is generated into OUT_DIR/store-password (mode 0600).
EOF
}

die() {
  echo "gen-certs.sh: $*" >&2
  exit 2
}

[[ $# -ge 1 ]] || { usage >&2; exit 2; }
case $1 in -h | --help) usage; exit 0 ;; esac
OUT=$1
shift
nodes=()
clients=()
days=825
while [[ $# -gt 0 ]]; do
  case $1 in
    --node) [[ $# -ge 2 && -n $2 ]] || die "--node needs a host name"; nodes+=("$2"); shift 2 ;;
    --client) [[ $# -ge 2 && -n $2 ]] || die "--client needs a name"; clients+=("$2"); shift 2 ;;
    --days) [[ $# -ge 2 && $2 =~ ^[1-9][0-9]*$ ]] || die "--days needs a positive number, got '${2:-}'"; days=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
[[ ${#nodes[@]} -gt 0 || ${#clients[@]} -gt 0 || ! -f $OUT/ca.crt ]] || die "nothing to do: give --node or --client"
command -v openssl >/dev/null || die "openssl is not installed (apt-get install openssl)"
command -v keytool >/dev/null || die "keytool is not on PATH (it comes with the JDK)"

umask 077
mkdir -p "$OUT/nodes" "$OUT/clients"
PW_FILE="$OUT/store-password"
if [[ -n ${SHOAL_TLS_STORE_PASSWORD:-} ]]; then
  printf '%s' "$SHOAL_TLS_STORE_PASSWORD" >"$PW_FILE"
elif [[ ! -s $PW_FILE ]]; then
  openssl rand -hex 24 | tr -d '\n' >"$PW_FILE"
fi
chmod 600 "$PW_FILE"
export SHOAL_STORE_PW
SHOAL_STORE_PW=$(cat "$PW_FILE")

# The CA: made once, reused afterwards.
if [[ ! -f $OUT/ca.crt ]]; then
  openssl req -x509 -newkey rsa:3072 -nodes -sha256 -days 3650 \
    -subj "/O=Shoal/CN=Shoal cluster CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$OUT/ca.key" -out "$OUT/ca.crt" 2>/dev/null
  echo "created CA $OUT/ca.crt"
fi
rm -f "$OUT/truststore.p12"
if ! msg=$(keytool -importcert -noprompt -alias shoal-ca -file "$OUT/ca.crt" \
  -keystore "$OUT/truststore.p12" -storetype PKCS12 -storepass:env SHOAL_STORE_PW 2>&1); then
  die "keytool could not write $OUT/truststore.p12: $msg"
fi

# issue KIND NAME EXTENSIONS: key, CSR, CA signature, then a PKCS#12 key store with the chain.
issue() {
  local kind=$1 name=$2 ext=$3
  local base="$OUT/$kind/$name"
  if [[ -f $base.p12 ]]; then
    echo "kept $base.p12 (exists)"
    return
  fi
  local extfile
  extfile=$(mktemp)
  printf '%s\n' "$ext" >"$extfile"
  openssl req -newkey rsa:2048 -nodes -sha256 -subj "/O=Shoal/CN=$name" \
    -keyout "$base.key" -out "$base.csr" 2>/dev/null
  openssl x509 -req -in "$base.csr" -CA "$OUT/ca.crt" -CAkey "$OUT/ca.key" -CAcreateserial \
    -days "$days" -sha256 -extfile "$extfile" -out "$base.crt" 2>/dev/null
  rm -f "$base.csr" "$extfile"
  openssl pkcs12 -export -name "$name" -inkey "$base.key" -in "$base.crt" -certfile "$OUT/ca.crt" \
    -passout env:SHOAL_STORE_PW -out "$base.p12"
  chmod 600 "$base.key" "$base.p12"
  echo "issued $kind certificate $base.p12"
}

for host in "${nodes[@]}"; do
  [[ $host =~ ^[A-Za-z0-9.:-]+$ ]] || die "node name '$host' is not a host name or IP address"
  if [[ $host =~ ^[0-9.]+$ || $host == *:* ]]; then san="IP:$host"; else san="DNS:$host"; fi
  issue nodes "$host" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=$san"
done
for name in "${clients[@]}"; do
  [[ $name =~ ^[A-Za-z0-9._@-]+$ ]] || die "client name '$name' may only hold letters, digits and . _ @ -"
  issue clients "$name" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
done
