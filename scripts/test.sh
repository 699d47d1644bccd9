#!/usr/bin/env bash
# juki's test command (README, .ci/run). On a fresh Debian 12 machine with only the Rust
# toolchain it:
#   1. installs what is missing with apt-get (root or sudo): pcscd vsmartcard-vpcd
#      libpcsclite-dev opensc openssl gnutls-bin openssh-client libengine-pkcs11-openssl
#      libnss3-tools poppler-utils curl postgresql
#      (+ pkgconf, and a C toolchain if there is no `cc`); openssl is the independent verifier
#      of the JPKI signatures, curl a client of juki-net's mutual TLS (docs/network.md), the
#      others are the PKCS#11 module's consumers (docs/pkcs11.md); postgresql brings the server
#      binaries with which juki-net's tests make their own throwaway clusters
#      (host/net/src/pg_cluster.rs) — installed without the package's default cluster "15/main"
#      (scripts/packages.sh), so nothing is left running;
#      and an sshd for the OpenSSH test without installing openssh-server (scripts/sshd.sh:
#      the package unpacked under target/sshd, JUKI_SSHD; run as root, sshd's privilege
#      separation user `sshd` is created if missing);
#   2. adds the rustup target thumbv7em-none-eabihf (and rustfmt/clippy) if missing;
#   3. cargo fmt --check, cargo clippy (workspace, all targets, -D warnings: the benchmarks
#      too), cargo doc (-D warnings), the middleware's dependencies (no SQLite, clap or CA), and
#      builds the card core for thumbv7em-none-eabihf with no
#      default features, also linked as a bare-metal image (chip/, docs/performance.md);
#   4. starts its own pcscd (or reuses a running one) and waits until vpcd listens;
#   5. cargo test --workspace with JUKI_PCSC=1 (tests that need PC/SC fail if it is missing);
#   6. bounded fuzzing: scripts/fuzz.sh (each cargo-fuzz target JUKI_FUZZ_SECONDS, default 60 s,
#      on nightly; without nightly a "WARNING: fuzzing SKIPPED" and the stable replay of
#      fuzz/corpus and fuzz/regressions);
#   7. smoke-tests the real binaries: juki-reader-sim in "Virtual PCD 00 00", seen and driven by
#      opensc-tool, image persisted across a restart; pcscd restarted under a card;
# and stops everything it started. Exits non-zero on any failure.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# ---- smoke test expectations (edit here) --------------------------------------------------------
# Status word (regex on 4 uppercase hex digits) of SELECT 住基AP `00 A4 04 0C 0A D392100031000101
# 0401` sent by opensc-tool to a blank card. Tighten to 9000 once the card core's SELECT is in.
SMOKE_SELECT_SW="^9000$"
# Reader the smoke test uses (vpcd port 35963).
SMOKE_READER='Virtual PCD 00 00'
SMOKE_PORT=35963
# -------------------------------------------------------------------------------------------------

APT_PACKAGES=(pcscd vsmartcard-vpcd libpcsclite-dev opensc openssl gnutls-bin openssh-client libengine-pkcs11-openssl libnss3-tools poppler-utils curl postgresql)
CARD_TARGET=thumbv7em-none-eabihf
TIMEOUT_S=15

say() { printf '\n==> %s\n' "$*" >&2; }
die() { printf 'test.sh: %s\n' "$*" >&2; exit 1; }

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    SUDO=(sudo)
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/juki-test.XXXXXX")
PCSCD_PID=""
SIM_PID=""

stop_sim() {
    if [ -n "$SIM_PID" ]; then
        kill "$SIM_PID" 2>/dev/null || true
        wait "$SIM_PID" 2>/dev/null || true
        SIM_PID=""
    fi
}

cleanup() {
    local status=$?
    stop_sim
    if [ -n "$PCSCD_PID" ]; then
        say "stopping the pcscd this script started (pid $PCSCD_PID)"
        "${SUDO[@]}" kill "$PCSCD_PID" 2>/dev/null || true
        wait "$PCSCD_PID" 2>/dev/null || true
    fi
    if [ "$status" -ne 0 ]; then
        for log in "$WORK"/*.log; do
            [ -s "$log" ] || continue
            printf '\n--- last lines of %s ---\n' "$(basename "$log")" >&2
            tail -n 30 "$log" >&2
        done
    fi
    rm -rf "$WORK"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- 1. system packages -------------------------------------------------------------------------
# shellcheck source=scripts/packages.sh
. scripts/packages.sh
ensure_packages "${APT_PACKAGES[@]}"
# shellcheck source=scripts/sshd.sh
. scripts/sshd.sh
ensure_test_sshd "${CARGO_TARGET_DIR:-target}/sshd"

# ---- 2. Rust toolchain pieces -------------------------------------------------------------------
if command -v rustup >/dev/null 2>&1; then
    rustup target list --installed | grep -qx "$CARD_TARGET" || rustup target add "$CARD_TARGET" ||
        say "WARNING: could not add the rustup target $CARD_TARGET (no network to the Rust dist server?)"
    cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
    cargo clippy --version >/dev/null 2>&1 || rustup component add clippy
fi

# ---- 3. static checks and the card build --------------------------------------------------------
say "cargo fmt --check"
cargo fmt --all --check
say "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
say "cargo doc"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet
say "layers: the middleware (juki-host) links no database, argument parser or CA"
forbidden=$(cargo tree -p juki-host -e normal --prefix none --quiet |
    grep -E '^(rusqlite|clap|x509-cert|cms|argon2|juki-jpki|juki-counter|juki-cli) ' || true)
[ -z "$forbidden" ] || die "juki-host depends on: $forbidden"
say "cargo fmt --check and cargo clippy of the fuzz crate (fuzz/, its own workspace)"
cargo fmt --manifest-path fuzz/Cargo.toml --check
CARGO_TARGET_DIR=fuzz/target cargo clippy --manifest-path fuzz/Cargo.toml --no-default-features \
    --features seeds --all-targets -- -D warnings
if ls "$(rustc --print target-libdir --target "$CARD_TARGET" 2>/dev/null)"/libcore-* >/dev/null 2>&1; then
    say "card core for $CARD_TARGET (no_std, no default features), and linked as a chip image (chip/)"
    cargo build -p juki-card --target "$CARD_TARGET" --no-default-features
    cargo fmt --manifest-path chip/Cargo.toml --check
    (cd chip && cargo build --release --target "$CARD_TARGET" --quiet)
else
    say "WARNING: SKIPPED the no_std build of the card for $CARD_TARGET: the target is not installed"
fi

# ---- 4. pcscd -----------------------------------------------------------------------------------
# shellcheck source=scripts/pcscd.sh
. scripts/pcscd.sh
start_pcscd "$WORK/pcscd.log" "$SMOKE_PORT" "$TIMEOUT_S"
export JUKI_PCSC=1

# ---- 5. tests -----------------------------------------------------------------------------------
say "cargo test --workspace (JUKI_PCSC=1)"
cargo test --workspace

# ---- 6. fuzzing (fuzz/README.md) ---------------------------------------------------------------
say "fuzzing: every cargo-fuzz target for ${JUKI_FUZZ_SECONDS:-60} s (scripts/fuzz.sh)"
scripts/fuzz.sh "${JUKI_FUZZ_SECONDS:-60}"

# ---- 7. smoke test of the binaries --------------------------------------------------------------
say "smoke test: juki-reader-sim + opensc-tool"
cargo build --workspace --bins
SIM_BIN="${CARGO_TARGET_DIR:-target}/debug/juki-reader-sim"
IMAGE="$WORK/card.img"
PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); printf '  ok    %s\n' "$1"; }
fail() { FAILED=$((FAILED + 1)); printf '  FAIL  %s\n' "$1"; }
check() { # check NAME COMMAND...
    local name=$1
    shift
    if "$@"; then pass "$name"; else fail "$name"; fi
}

start_sim() {
    "$SIM_BIN" --image "$IMAGE" --port "$SMOKE_PORT" "$@" 2>>"$WORK/sim.log" &
    SIM_PID=$!
}
# Card column of `opensc-tool -l` for the smoke reader: Yes or No.
card_in_reader() {
    timeout 10 opensc-tool -l 2>/dev/null |
        awk -v r="$SMOKE_READER" 'index($0, r) { print $2; exit }'
}
wait_card() { # wait_card Yes|No
    local _
    for _ in $(seq $((TIMEOUT_S * 4))); do
        [ "$(card_in_reader)" = "$1" ] && return 0
        sleep 0.25
    done
    return 1
}
# Sends one APDU with opensc-tool and prints the status word as 4 hex digits.
sw_of() {
    timeout 20 opensc-tool -r "$SMOKE_READER" -s "$1" 2>&1 |
        sed -n 's/.*SW1=0x\([0-9A-Fa-f]*\), SW2=0x\([0-9A-Fa-f]*\).*/\1 \2/p' | tail -n 1 |
        { read -r a b && printf '%02X%02X\n' "0x$a" "0x$b"; }
}
matches() { [[ $1 =~ $2 ]]; }
SELECT_APDU="00 A4 04 0C 0A D3 92 10 00 31 00 01 01 04 01"
VERIFY_APDU="00 20 00 80 04 31 32 33 34" # a PIN that must never show up in a log

image_ok() { [ -f "$IMAGE" ] && [ "$(stat -c %s "$IMAGE")" -eq 32816 ]; }
refuses_overwrite() { ! "$SIM_BIN" --image "$IMAGE" --new 2>>"$WORK/sim.log"; }
no_pin_in_log() { ! grep -qiE '31 ?32 ?33 ?34' "$WORK/sim.log"; }

check "\"$SMOKE_READER\" is empty before the simulator starts" wait_card No
start_sim --new
check "opensc-tool -l shows a card in \"$SMOKE_READER\"" wait_card Yes
check "blank card image created (header + 32 KiB NVM + checksum)" image_ok
SW=$(sw_of "$SELECT_APDU" || true)
check "SELECT 住基AP answers ${SW:-nothing} (expected $SMOKE_SELECT_SW)" matches "${SW:-none}" "$SMOKE_SELECT_SW"
check "--new refuses to overwrite an existing image" refuses_overwrite
stop_sim
check "card removed from \"$SMOKE_READER\" when the simulator stops" wait_card No

start_sim --verbose
check "restarted simulator on the same image: card back in the reader" wait_card Yes
SW2=$(sw_of "$SELECT_APDU" || true)
check "same card after the restart: SELECT answers ${SW2:-nothing} again" matches "${SW2:-none}" "^${SW:-x}$"
SW3=$(sw_of "$VERIFY_APDU" || true)
check "VERIFY answers a status word (${SW3:-nothing})" matches "${SW3:-none}" '^[69][0-9A-F]{3}$'
stop_sim
check "no APDU data (PIN) in the simulator's log, even with --verbose" no_pin_in_log

# pcscd restarted under a card in the reader: juki says what is wrong, the simulator reconnects
# by itself, and the next command works. Only with the pcscd this script started.
JUKI_BIN="${CARGO_TARGET_DIR:-target}/debug/juki"
# Right after a card is inserted pcscd may still reset it once; juki then says so (exit 5, "was
# reset"): the status is tried up to three times.
status_ok() {
    local _
    for _ in 1 2 3; do
        "$JUKI_BIN" --reader "$SMOKE_READER" status >/dev/null 2>>"$WORK/juki.log" && return 0
        sleep 0.5
    done
    return 1
}
status_says_no_pcscd() {
    local code=0
    "$JUKI_BIN" --reader "$SMOKE_READER" status >/dev/null 2>"$WORK/nopcscd.err" || code=$?
    [ "$code" -eq 5 ] && grep -q pcscd "$WORK/nopcscd.err"
}
if [ -n "$PCSCD_PID" ]; then
    start_sim
    check "card in the reader before pcscd is restarted" wait_card Yes
    check "juki status answers" status_ok
    "${SUDO[@]}" kill "$PCSCD_PID" 2>/dev/null || true
    wait "$PCSCD_PID" 2>/dev/null || true
    PCSCD_PID=""
    check "pcscd gone: juki status exits 5 and names pcscd" status_says_no_pcscd
    "${SUDO[@]}" pcscd --foreground >>"$WORK/pcscd.log" 2>&1 &
    PCSCD_PID=$!
    for _ in $(seq $((TIMEOUT_S * 10))); do
        listening "$SMOKE_PORT" && break
        sleep 0.1
    done
    check "pcscd back: the simulator reconnects, the card is in the reader again" wait_card Yes
    check "juki status works again" status_ok
    stop_sim
else
    printf '  skip  pcscd restart (this pcscd is not the script'"'"'s own)\n'
fi

printf '%s passed, %s failed\n' "$PASSED" "$FAILED"
[ "$FAILED" -eq 0 ]
