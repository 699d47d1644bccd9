#!/usr/bin/env bash
# juki's main job (README): the whole life of a resident registry card on the embedded
# simulator — initialise, issue, JPKI certificates, read with the PIN, sign an e-application
# that the agency verifies, log in, lock the PIN with three wrong tries, reset it at the
# counter, suspend and resume, move to another municipality (certificate revoked), return. No reader or pcscd is needed; the
# build needs libpcsclite-dev (the PC/SC library the `juki` CLI links), installed if missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'demo.sh: %s\n' "$*" >&2; exit 1; }
SUDO=()
[ "$(id -u)" -eq 0 ] || SUDO=(sudo)

# shellcheck source=scripts/packages.sh
. scripts/packages.sh
ensure_packages libpcsclite-dev

cargo build --release --quiet --bin juki
exec target/release/juki demo "$@"
