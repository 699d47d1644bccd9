# Sourced by scripts/test.sh and scripts/demo.sh: installs the Debian packages the build needs
# when they are missing (apt-get, as root or with sudo), and nothing when all are there.
# Expects `say`, `die` and the SUDO array of the caller.

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

need_root() {
    if [ "${#SUDO[@]}" -gt 0 ] && ! command -v sudo >/dev/null 2>&1; then
        die "$1 needs root: run as root or install sudo"
    fi
}

# ensure_packages PKG…: the packages named, plus pkg-config and a C toolchain (the pcsc crate
# links libpcsclite through pkg-config).
ensure_packages() {
    local missing=() pkg
    for pkg in "$@"; do
        installed "$pkg" || missing+=("$pkg")
    done
    command -v pkg-config >/dev/null 2>&1 || missing+=(pkgconf)
    command -v cc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
    # libFuzzer (the fuzz crate's libfuzzer-sys) is C++.
    command -v c++ >/dev/null 2>&1 || missing+=(g++)
    if [ "${#missing[@]}" -gt 0 ]; then
        need_root "installing ${missing[*]}"
        say "installing ${missing[*]}"
        "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
        "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -q --no-install-recommends "${missing[@]}"
    else
        say "system packages present: $*"
    fi
}
