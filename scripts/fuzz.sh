#!/usr/bin/env bash
# Bounded fuzzing of juki (fuzz/README.md): each cargo-fuzz target for SECONDS_PER_TARGET seconds
# (default 60), one after another:
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]
#
# - needs the nightly toolchain (`cargo +nightly`) and cargo-fuzz (installed with
#   `cargo install cargo-fuzz --locked` when missing);
# - builds every target once (`cargo +nightly fuzz build`), then runs each with
#   `cargo +nightly fuzz run TARGET WORK SEEDS REGRESSIONS -- -max_total_time=S -rss_limit_mb=2048`:
#   new inputs go to the work corpus fuzz/target/corpus/TARGET (not committed; emptied first, so
#   that every run starts from the committed seeds, unless FUZZ_KEEP_CORPUS=1), the committed
#   seeds fuzz/corpus/TARGET and the regressions fuzz/regressions/TARGET are read (and all run
#   first);
# - a crash, hang or out-of-memory is copied to fuzz/regressions/TARGET/ (commit it: it is
#   a regression test from then on) and fails the script, after the other targets ran;
# - prints the executions of each target (libFuzzer's stat::number_of_executed_units) and a
#   summary line;
# - without nightly or cargo-fuzz: prints "WARNING: fuzzing SKIPPED: …" and replays the corpora
#   and regressions through the same target code on stable instead
#   (`cargo test --manifest-path fuzz/Cargo.toml --no-default-features --no-fail-fast`), failing
#   on any failure.
#
# Environment: FUZZ_TARGETS (space-separated subset), FUZZ_SANITIZER (default none; address
# works too, about half the speed), FUZZ_TOOLCHAIN (default nightly, e.g. nightly-2026-05-15),
# FUZZ_REQUIRE_NIGHTLY=1 (fail instead of falling back), FUZZ_KEEP_CORPUS=1 (go on from the
# work corpus of the last run), FUZZ_SKIP_REGRESSIONS=1 (do not start from fuzz/regressions: to
# fuzz past an open finding; never in the test command).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
FUZZ="$ROOT/fuzz"

SECONDS_PER_TARGET=${1:-60}
case "$SECONDS_PER_TARGET" in
'' | *[!0-9]*) printf 'usage: scripts/fuzz.sh [SECONDS_PER_TARGET]\n' >&2; exit 2 ;;
esac
read -r -a TARGETS <<<"${FUZZ_TARGETS:-apdu_parser card_sequence vpcd_frames host_card host_certificates net_requests log_answers}"
SANITIZER=${FUZZ_SANITIZER:-none}
NIGHTLY=${FUZZ_TOOLCHAIN:-nightly}
RSS_LIMIT_MB=2048
UNIT_TIMEOUT_S=30

# The fuzz crate is its own workspace; its target directory is fuzz/target.
export CARGO_TARGET_DIR="$FUZZ/target"

say() { printf '\n==> %s\n' "$*" >&2; }

stable_replay() {
    say "WARNING: fuzzing SKIPPED: $1"
    printf 'WARNING: fuzzing SKIPPED: %s\n' "$1"
    printf 'replaying fuzz/corpus/* and fuzz/regressions/* through the same targets on stable instead\n'
    if [ "${FUZZ_REQUIRE_NIGHTLY:-0}" = 1 ]; then
        printf 'fuzz.sh: FUZZ_REQUIRE_NIGHTLY=1: failing\n' >&2
        exit 1
    fi
    if ! cargo test --manifest-path fuzz/Cargo.toml --no-default-features --no-fail-fast; then
        printf 'fuzz.sh: fuzzing skipped; the stable replay of the corpora and regressions FAILED\n'
        exit 1
    fi
    printf 'fuzz.sh: fuzzing skipped; the stable replay of the corpora and regressions passed\n'
    exit 0
}

# ---- toolchain -----------------------------------------------------------------------------------
# (RUSTUP_AUTO_INSTALL=0: a missing toolchain is reported, not downloaded.)
if ! RUSTUP_AUTO_INSTALL=0 cargo "+$NIGHTLY" --version >/dev/null 2>&1; then
    stable_replay "the $NIGHTLY toolchain is not installed (cargo +$NIGHTLY; install it with \`rustup toolchain install $NIGHTLY\` where the Rust dist server is reachable)"
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    say "installing cargo-fuzz (cargo install cargo-fuzz --locked)"
    if ! cargo install cargo-fuzz --locked; then
        stable_replay "cargo-fuzz is not installed and \`cargo install cargo-fuzz --locked\` failed"
    fi
fi

# ---- build once ----------------------------------------------------------------------------------
say "cargo +$NIGHTLY fuzz build (sanitizer $SANITIZER)"
if ! (cd "$FUZZ" && cargo "+$NIGHTLY" fuzz build --sanitizer "$SANITIZER"); then
    printf 'fuzz.sh: FAILED: the fuzz targets do not build with %s\n' "$NIGHTLY"
    exit 1
fi

dict_of() {
    case "$1" in
    apdu_parser | card_sequence | vpcd_frames) printf '%s' "$FUZZ/dicts/card.dict" ;;
    host_card) printf '%s' "$FUZZ/dicts/host.dict" ;;
    net_requests) printf '%s' "$FUZZ/dicts/net.dict" ;;
    log_answers) printf '%s' "$FUZZ/dicts/log.dict" ;;
    *) printf '' ;;
    esac
}

# ---- run each target -----------------------------------------------------------------------------
TOTAL=0
FAILED=()
RESULTS=()
LOGS=$(mktemp -d "${TMPDIR:-/tmp}/juki-fuzz.XXXXXX")
trap 'rm -rf "$LOGS"' EXIT

for target in "${TARGETS[@]}"; do
    work="$FUZZ/target/corpus/$target"
    seeds="$FUZZ/corpus/$target"
    regressions="$FUZZ/regressions/$target"
    artifacts="$FUZZ/artifacts/$target"
    if [ "${FUZZ_KEEP_CORPUS:-0}" != 1 ]; then
        rm -rf "$work"
    fi
    mkdir -p "$work" "$seeds" "$regressions" "$artifacts"
    args=(-max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb="$RSS_LIMIT_MB"
        -timeout="$UNIT_TIMEOUT_S" -print_final_stats=1)
    dict=$(dict_of "$target")
    [ -n "$dict" ] && [ -f "$dict" ] && args+=(-dict="$dict")
    marker="$LOGS/$target.start"
    touch "$marker"
    say "fuzzing $target for ${SECONDS_PER_TARGET}s"
    log="$LOGS/$target.log"
    status=0
    corpora=("$work" "$seeds" "$regressions")
    if [ "${FUZZ_SKIP_REGRESSIONS:-0}" = 1 ]; then
        corpora=("$work" "$seeds")
    fi
    (cd "$FUZZ" && cargo "+$NIGHTLY" fuzz run --sanitizer "$SANITIZER" "$target" \
        "${corpora[@]}" -- "${args[@]}") >"$log" 2>&1 || status=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
    execs=${execs:-0}
    TOTAL=$((TOTAL + execs))
    # Crashes, hangs and out-of-memory inputs of this run become regressions (unless they are
    # one already: a known regression fails again at start-up).
    new=()
    known=()
    while IFS= read -r -d '' artifact; do
        name=$(basename "$artifact")
        duplicate=""
        for r in "$regressions"/*; do
            if [ -f "$r" ] && cmp -s "$artifact" "$r"; then
                duplicate="$r"
                break
            fi
        done
        if [ -n "$duplicate" ]; then
            known+=("fuzz/regressions/$target/$(basename "$duplicate")")
        else
            cp "$artifact" "$regressions/$name"
            new+=("fuzz/regressions/$target/$name")
        fi
    done < <(find "$artifacts" -maxdepth 1 -type f -newer "$marker" \
        \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' \) -print0)
    if [ "$status" -eq 0 ]; then
        RESULTS+=("$(printf '%-18s %12s executions in %ss: ok' "$target" "$execs" "$SECONDS_PER_TARGET")")
        printf '%s: %s executions in %ss, no failure\n' "$target" "$execs" "$SECONDS_PER_TARGET"
    else
        FAILED+=("$target")
        RESULTS+=("$(printf '%-18s %12s executions: FAILED' "$target" "$execs")")
        printf '%s: FAILED after %s executions (exit status %s):\n' \
            "$target" "$execs" "$status"
        # The target's own report: the panic message, libFuzzer's verdict, the input.
        grep -E -A3 'panicked at' "$log" | grep -v -E '^(stack backtrace|   *[0-9]+: |   *at )' |
            head -n 12 || true
        grep -E 'ERROR: libFuzzer|SUMMARY: libFuzzer|Test unit written|out-of-memory|Slowest unit' \
            "$log" | head -n 6 || true
        for f in "${known[@]}"; do
            printf '  known regression input still failing: %s\n' "$f"
        done
        for f in "${new[@]}"; do
            printf '  new regression input: %s (reproduce: cd fuzz && cargo +%s fuzz run -s %s %s %s)\n' \
                "$f" "$NIGHTLY" "$SANITIZER" "$target" "${f#fuzz/}"
        done
    fi
done

printf '\n'
for line in "${RESULTS[@]}"; do
    printf '  %s\n' "$line"
done
if [ "${#FAILED[@]}" -ne 0 ]; then
    printf 'fuzz.sh: %s of %s targets FAILED (%s), %s executions in all; inputs in fuzz/regressions/\n' \
        "${#FAILED[@]}" "${#TARGETS[@]}" "${FAILED[*]}" "$TOTAL"
    exit 1
fi
printf 'fuzz.sh: %s targets, %ss each, %s executions, no failure\n' \
    "${#TARGETS[@]}" "$SECONDS_PER_TARGET" "$TOTAL"
