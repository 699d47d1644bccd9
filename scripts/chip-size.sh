#!/usr/bin/env bash
# Code size of the card core on a chip: builds chip/ (the card core linked as a bare-metal
# Cortex-M4F image, thumbv7em-none-eabihf, opt-level "z", LTO, one codegen unit, panic =
# abort), and the same with opt-level 3 for comparison, then prints .text/.rodata/.data/.bss
# of both ELFs and the size_of of the card's RAM structures on the target, and writes them to
# target/juki-perf/code-size.json.
#
# Needs only the Rust toolchain: the target is added with rustup if missing, and the ELF
# section headers are read by chip/elf-size.rs (plain rustc, no llvm-size or binutils).
# The RAM side (size_of on the host, worst-case stack by stack painting) is
# `cargo bench -p juki-card --bench memory` (target/juki-perf/memory.json).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

TARGET=thumbv7em-none-eabihf
OUT=target/juki-perf

if ! rustup target list --installed | grep -qx "$TARGET"; then
    rustup target add "$TARGET"
fi

# chip/ is its own workspace with its own target directory (chip/target).
(cd chip && cargo build --release --target "$TARGET" --quiet)
(cd chip && CARGO_PROFILE_RELEASE_OPT_LEVEL=3 cargo build --release --target "$TARGET" \
    --target-dir target/opt-level-3 --quiet)

rustc --edition 2021 -O chip/elf-size.rs -o chip/target/elf-size
mkdir -p "$OUT"
chip/target/elf-size --json "$OUT/code-size.json" \
    "opt-level-z=chip/target/$TARGET/release/juki-chip" \
    "opt-level-3=chip/target/opt-level-3/$TARGET/release/juki-chip"
