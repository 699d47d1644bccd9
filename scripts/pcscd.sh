# Sourced by scripts/test.sh and scripts/bench.sh: pcscd with vsmartcard's vpcd, started unless
# one already runs. Expects `say`, `die`, `need_root` (scripts/packages.sh) and the SUDO array of
# the caller; sets PCSCD_PID when it started pcscd itself (the caller stops it).

pcscd_running() {
    local comm
    for comm in /proc/[0-9]*/comm; do
        [ "$(cat "$comm" 2>/dev/null)" = pcscd ] && return 0
    done
    return 1
}
# vpcd listening on a port (from /proc, so no iproute2/netcat needed and no connection to vpcd,
# which would take it for a card).
listening() {
    local hex
    hex=$(printf '%04X' "$1")
    grep -qE "^ *[0-9]+: [0-9A-F]+:$hex [0-9A-F]+:0000 0A " /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# start_pcscd LOG PORT TIMEOUT_S: pcscd running and vpcd listening on PORT.
start_pcscd() {
    local log=$1 port=$2 timeout_s=$3
    PCSCD_PID=""
    if pcscd_running; then
        say "reusing the running pcscd"
    elif command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet pcscd.socket 2>/dev/null; then
        say "pcscd is socket-activated by systemd: starting it with a client"
        timeout 10 opensc-tool -l >/dev/null 2>&1 || true
    else
        need_root "starting pcscd"
        say "starting pcscd"
        "${SUDO[@]}" pcscd --foreground >"$log" 2>&1 &
        PCSCD_PID=$!
    fi
    for _ in $(seq $((timeout_s * 10))); do
        listening "$port" && break
        if [ -n "$PCSCD_PID" ] && ! kill -0 "$PCSCD_PID" 2>/dev/null; then
            die "pcscd exited at start (see pcscd.log above)"
        fi
        sleep 0.1
    done
    listening "$port" || die "vpcd is not listening on port $port (is vsmartcard-vpcd installed?)"
}
