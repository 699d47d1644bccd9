#!/usr/bin/env bash
# juki's benchmarks, all in one run on this machine, and the measured part of
# docs/performance.md written from them. On a fresh Debian 12 machine with only the Rust
# toolchain it installs what is missing (pcscd vsmartcard-vpcd libpcsclite-dev openssl opensc, with
# scripts/packages.sh), starts pcscd (or reuses a running one), then runs:
#   1. cargo bench -p juki-card --bench card    the card core alone (criterion)
#   2. cargo bench -p juki-card --bench memory  RAM, stack of one command, persistent state
#   3. scripts/chip-size.sh                     code size of the card core for a Cortex-M chip
#   4. cargo bench -p juki-cli --bench e2e     the floors and every operation in-process and
#                                               through pcscd + vpcd (criterion)
#   5. cargo bench -p juki-cli --bench cli     whole `juki` commands as processes
#   6. cargo bench -p juki-pkcs11 --bench c_sign  the PKCS#11 module's C_Sign through PC/SC,
#                                               and `pkcs11-tool --sign` as a process
#   7. cargo bench -p juki-cli --bench disclosure  開示請求 end to end against its floor
#                                               (PostgreSQL, the residents' listener; writes
#                                               docs/network.md)
#   8. the perf_report example                  docs/performance.md (`--check`: exit 1 when an
#                                               operation is over 1.5 × its floor)
# Arguments go to perf_report (e.g. --check). Takes about five minutes; nothing is asserted on
# time by the tests (docs/performance.md, "Method").
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf '\n==> %s\n' "$*" >&2; }
die() { printf 'bench.sh: %s\n' "$*" >&2; exit 1; }

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    SUDO=(sudo)
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/juki-bench.XXXXXX")
PCSCD_PID=""
cleanup() {
    local status=$?
    if [ -n "$PCSCD_PID" ]; then
        "${SUDO[@]}" kill "$PCSCD_PID" 2>/dev/null || true
        wait "$PCSCD_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
    exit "$status"
}
trap cleanup EXIT

# shellcheck source=scripts/packages.sh
. scripts/packages.sh
ensure_packages pcscd vsmartcard-vpcd libpcsclite-dev openssl opensc
# shellcheck source=scripts/pcscd.sh
. scripts/pcscd.sh
start_pcscd "$WORK/pcscd.log" 35963 15
listening 35964 || die "vpcd is not listening on port 35964 (the echo card's reader)"
export JUKI_PCSC=1

say "1. the card core (criterion)"
cargo bench -p juki-card --bench card
say "2. the card's memory"
cargo bench -p juki-card --bench memory
say "3. the card core's code size on a chip"
scripts/chip-size.sh
say "4. end to end: in-process and through pcscd + vpcd, with the floors (criterion)"
cargo bench -p juki-cli --bench e2e
say "5. whole juki commands"
cargo bench -p juki-cli --bench cli
say "6. the PKCS#11 module: C_Sign, and pkcs11-tool --sign as a process"
cargo bench -p juki-pkcs11 --bench c_sign
say "7. 開示請求 end to end against its floor (PostgreSQL, the residents' listener)"
ensure_packages postgresql
cargo bench -p juki-cli --bench disclosure
say "8. docs/performance.md"
cargo run --release -q -p juki-cli --example perf_report -- "$@"
