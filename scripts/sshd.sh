# Sourced by scripts/test.sh: an sshd for host/pkcs11/tests/openssh.rs without installing
# openssh-server, whose postinst would enable and start an SSH server on this machine. Expects
# `say`, `die`, `installed` (scripts/packages.sh) and the SUDO array of the caller.
#
# ensure_test_sshd DIR: when /usr/sbin/sshd is missing, downloads openssh-server with
# `apt-get download` into DIR/debs (with each library package it depends on that is not
# installed, in Debian 12 libwrap0), unpacks them with `dpkg-deb -x` into DIR/root, and exports
# JUKI_SSHD: the unpacked sshd, or DIR/sshd, a wrapper that gives it LD_LIBRARY_PATH for the
# unpacked libraries. DIR is a cache: a working DIR/sshd from an earlier run is reused. When the
# tests run as root, sshd also needs its privilege separation user; if there is no `sshd` user it
# is created as the package would (system user, home /run/sshd, no login shell).

# sshd_runs SSHD: SSHD starts and prints its version.
sshd_runs() {
    "$1" -V 2>&1 | grep -q '^OpenSSH_'
}

# fetch_debs DIR PKG…: PKG… downloaded into DIR (apt-get update first if apt does not know them).
fetch_debs() {
    local dir=$1
    shift
    (cd "$dir" && apt-get download -q "$@") && return 0
    need_root "apt-get update"
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
    (cd "$dir" && apt-get download -q "$@") || die "apt-get download $* failed"
}

ensure_test_sshd() {
    local dir
    dir=$(realpath -m "$1")
    if [ -x /usr/sbin/sshd ]; then
        say "sshd for the OpenSSH test: /usr/sbin/sshd"
    elif [ -x "$dir/sshd" ] && sshd_runs "$dir/sshd"; then
        say "sshd for the OpenSSH test: $dir/sshd (openssh-server unpacked earlier, not installed)"
        export JUKI_SSHD="$dir/sshd"
    else
        say "sshd for the OpenSSH test: unpacking openssh-server into $dir (not installing it)"
        rm -rf "$dir"
        mkdir -p "$dir/debs" "$dir/root"
        fetch_debs "$dir/debs" openssh-server
        local deps=() dep deb libdirs
        for dep in $(dpkg-deb -f "$dir"/debs/openssh-server_*.deb Depends |
            tr ',' '\n' | sed -E 's/^ *//; s/[ (|].*//' | grep '^lib'); do
            installed "$dep" || deps+=("$dep")
        done
        [ "${#deps[@]}" -eq 0 ] || fetch_debs "$dir/debs" "${deps[@]}"
        for deb in "$dir"/debs/*.deb; do
            dpkg-deb -x "$deb" "$dir/root"
        done
        libdirs=$(find "$dir/root" -name 'lib*.so*' -printf '%h\n' | sort -u | paste -sd:)
        if [ -n "$libdirs" ]; then
            printf '#!/bin/sh\n# openssh-server unpacked by scripts/test.sh, not installed\nLD_LIBRARY_PATH='"'"'%s'"'"'${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} exec '"'"'%s'"'"' "$@"\n' \
                "$libdirs" "$dir/root/usr/sbin/sshd" >"$dir/sshd"
        else
            ln -s root/usr/sbin/sshd "$dir/sshd"
        fi
        chmod +x "$dir/sshd"
        sshd_runs "$dir/sshd" ||
            die "the unpacked sshd does not run: $("$dir/sshd" -V 2>&1 | tail -n 3)"
        export JUKI_SSHD="$dir/sshd"
    fi
    if [ "$(id -u)" -eq 0 ] && ! getent passwd sshd >/dev/null; then
        say "creating sshd's privilege separation user sshd (system user, no login), as openssh-server would"
        useradd --system --no-create-home --home-dir /run/sshd --shell /usr/sbin/nologin \
            --gid nogroup sshd
    fi
}
