# Sourced by scripts/test.sh and scripts/demo.sh: installs the Debian packages the build needs
# when they are missing (apt-get, as root or with sudo), and nothing when all are there.
# Expects `say`, `die` and the SUDO array of the caller.

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

need_root() {
    if [ "${#SUDO[@]}" -gt 0 ] && ! command -v sudo >/dev/null 2>&1; then
        die "$1 needs root: run as root or install sudo"
    fi
}

# Debian's postgresql package creates and starts a cluster "15/main" when it is installed; juki
# only uses the server binaries (each test, the demo and the benchmark make a throwaway cluster:
# host/net/src/pg_cluster.rs). Called only when postgresql is about to be installed: a drop-in of
# createcluster.conf (which includes createcluster.d/) turns the default cluster off, so the
# install leaves nothing running. A machine that already has the package is left as it is.
no_main_cluster() {
    say "installing postgresql without its default cluster (create_main_cluster = false)"
    "${SUDO[@]}" mkdir -p /etc/postgresql-common/createcluster.d
    printf '%s\n' "# juki (scripts/packages.sh): no default cluster; juki's tests make their own" \
        "create_main_cluster = false" |
        "${SUDO[@]}" tee /etc/postgresql-common/createcluster.d/juki-no-main-cluster.conf >/dev/null
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
        case " ${missing[*]} " in
        *" postgresql "*) no_main_cluster ;;
        esac
        say "installing ${missing[*]}"
        "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
        "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -q --no-install-recommends "${missing[@]}"
    else
        say "system packages present: $*"
    fi
}
