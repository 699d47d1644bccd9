#!/usr/bin/env bash
# juki's main job (README): the whole life of a resident registry card on the embedded
# simulator — initialise, issue, JPKI certificates, read with the PIN, sign an e-application
# that the agency verifies, log in, lock the PIN with three wrong tries, reset it at the
# counter, suspend and resume, move to another municipality (certificate revoked) through 住基ネット
# (a throwaway PostgreSQL and the national server over mutual TLS on loopback: the 転出 and
# 転入 delivered, an agency's confirmation, a 広域交付, the registers compared), return. No
# reader or pcscd is needed; the build needs libpcsclite-dev (the PC/SC library the `juki` CLI
# links) and the network needs PostgreSQL's server programs (postgresql, installed without its
# default cluster: nothing is left running), installed if missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'demo.sh: %s\n' "$*" >&2; exit 1; }
SUDO=()
[ "$(id -u)" -eq 0 ] || SUDO=(sudo)

# shellcheck source=scripts/packages.sh
. scripts/packages.sh
ensure_packages libpcsclite-dev postgresql

cargo build --release --quiet --bin juki
exec target/release/juki demo "$@"
