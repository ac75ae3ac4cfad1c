#!/usr/bin/env bash
# Run pcscd with vsmartcard's vpcd virtual readers, without systemd (DOMAIN.md §8).
#
#   scripts/virtual-reader.sh start [--readers N]   # N virtual readers (default 2, at most 16)
#   scripts/virtual-reader.sh status                # is it running, which readers, which cards
#   scripts/virtual-reader.sh stop
#
# Virtual reader "slot" S listens on TCP port 35963+S for a card (`cardkit emulator start --slot S`).
# vpcd opens one port per driver slot, DEVICENAME's port + slot, and Debian's build has 2 slots, so
# each reader.conf entry gives two readers. pcscd only numbers readers apart when they share a
# driver path, and the driver keeps a single state per slot, so every extra entry gets its own COPY
# of the driver (a symlink or hard link would be the same file to dlopen, hence the same instance)
# and its own FRIENDLYNAME:
#   slot 0 "Virtual PCD 00 00" :35963   slot 1 "Virtual PCD 00 01" :35964   (vpcd's stock names)
#   slot 2 "Virtual PCD 1 00 00" :35965 slot 3 "Virtual PCD 1 00 01" :35966 ...
# (cardkit.emulator.vpcd.reader_name_for_slot is the same mapping; tests/integration/pcsc.py
# mirrors this script.)
#
# Environment: CARDKIT_RUN_DIR (default /tmp/cardkit-pcsc: reader.conf.d, driver copies, pid, log),
# VPCD_DRIVER (default: found under /usr/lib*/pcsc/drivers/serial), PCSCD (default: pcscd).
# pcscd's socket and pid file live in /run/pcscd (compiled in), so one pcscd runs per mount
# namespace (DOMAIN.md §13: containers or `unshare -m -n` each have their own /run/pcscd and
# loopback). This script knows a pcscd by that namespace's /run/pcscd: its pid file and whether
# its socket answers, never by a machine-wide process search (`pgrep pcscd` also sees the pcscd
# of every other container). Its own pcscd is the one whose pid is both in $CARDKIT_RUN_DIR and in
# /run/pcscd/pcscd.pid. `start` stops a systemd-managed pcscd (socket activation would restart
# it) and refuses to touch any other pcscd that owns /run/pcscd, saying how to stop it.
set -euo pipefail

RUN_DIR="${CARDKIT_RUN_DIR:-/tmp/cardkit-pcsc}"
PCSCD="${PCSCD:-pcscd}"
IPC_DIR=/run/pcscd
BASE_PORT=35963
SLOTS_PER_DRIVER=2
PID_FILE="$RUN_DIR/pcscd.pid"
LOG_FILE="$RUN_DIR/pcscd.log"
CONF_DIR="$RUN_DIR/reader.conf.d"
DRIVER_DIR="$RUN_DIR/drivers"
COUNT_FILE="$RUN_DIR/readers"
APT_PACKAGES="pcscd vsmartcard-vpcd pcsc-tools"

say() { echo "virtual-reader: $*"; }
die() { echo "virtual-reader: $*" >&2; exit "${2:-1}"; }

usage() {
    sed -n '3,5p' "$0" | sed 's/^# *//'
    exit 2
}

find_driver() {
    if [ -n "${VPCD_DRIVER:-}" ]; then
        [ -f "$VPCD_DRIVER" ] || die "VPCD_DRIVER=$VPCD_DRIVER does not exist" 2
        echo "$VPCD_DRIVER"
        return
    fi
    local candidate
    for candidate in /usr/lib/pcsc/drivers/serial/libifdvpcd.so \
        /usr/lib/*/pcsc/drivers/serial/libifdvpcd.so \
        /usr/local/lib/pcsc/drivers/serial/libifdvpcd.so; do
        if [ -f "$candidate" ]; then
            echo "$candidate"
            return
        fi
    done
    die "the vpcd driver libifdvpcd.so is not installed (apt install vsmartcard-vpcd)" 2
}

friendly_name() { # entry number -> FRIENDLYNAME
    if [ "$1" -eq 0 ]; then echo "Virtual PCD"; else echo "Virtual PCD $1"; fi
}

reader_name() { # slot -> PC/SC reader name
    local entry=$(($1 / SLOTS_PER_DRIVER)) sub=$(($1 % SLOTS_PER_DRIVER))
    printf '%s 00 %02X\n' "$(friendly_name "$entry")" "$sub"
}

alive() { # a running process: not a zombie (an exited pcscd whose parent, e.g. a container's
    # PID 1 that never reaps, has not collected it still answers kill -0)
    [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null || return 1
    local state
    state="$(sed -n 's/^.*) \(.\).*$/\1/p' "/proc/$1/stat" 2>/dev/null || true)"
    [ "$state" != Z ] && [ "$state" != X ]
}

is_pcscd() { alive "${1:-}" && grep -qx pcscd "/proc/$1/comm" 2>/dev/null; }

file_pid() { [ -f "$1" ] && tr -dc '0-9' <"$1"; }

# The pid in this namespace's /run/pcscd/pcscd.pid (pcscd writes it, also with --foreground).
ipc_pid() { file_pid "$IPC_DIR/pcscd.pid"; }

socket_answers() { # does a pcscd accept connections on this namespace's /run/pcscd/pcscd.comm?
    [ -S "$IPC_DIR/pcscd.comm" ] || return 1
    local python
    python="$(command -v python3 || command -v python || true)"
    if [ -z "$python" ]; then
        is_pcscd "$(ipc_pid)" # no Python to try the socket: trust the pid file
        return
    fi
    "$python" - "$IPC_DIR/pcscd.comm" 2>/dev/null <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(2)
s.connect(sys.argv[1])  # refused (the stale socket of a killed pcscd): exit 1
s.close()
PY
}

our_pid() { # the pcscd this script started (with this CARDKIT_RUN_DIR), in this namespace
    local pid
    [ -f "$PID_FILE" ] || return 1
    pid="$(file_pid "$PID_FILE")"
    # A pcscd of another mount namespace (another container sharing /tmp) is alive too, but
    # this namespace's /run/pcscd does not name it.
    if is_pcscd "$pid" && [ "$(ipc_pid)" = "$pid" ]; then
        echo "$pid"
        return 0
    fi
    return 1
}

list_readers() {
    if command -v pcsc_scan >/dev/null 2>&1; then
        # pcsc_scan -r prints "N: <name>" per reader and exits.
        timeout 5 pcsc_scan -r 2>/dev/null | sed -n 's/^[0-9][0-9]*: //p'
    else
        say "pcsc_scan not found (apt install pcsc-tools); cannot list readers" >&2
    fi
}

stop_systemd_pcscd() {
    # Socket activation would start a system pcscd (with /etc/reader.conf.d) on the first client.
    [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1 || return 0
    local unit
    for unit in pcscd.socket pcscd.service; do
        if systemctl is-active --quiet "$unit" 2>/dev/null; then
            say "stopping $unit (systemd) so that it does not own $IPC_DIR/pcscd.comm"
            systemctl stop "$unit" || die "cannot stop $unit: run as root, or: sudo systemctl stop pcscd.socket pcscd.service"
        fi
    done
}

check_foreign_pcscd() {
    # Only this namespace's /run/pcscd counts: pcscd processes elsewhere (other containers,
    # other mount namespaces) have their own socket and do not stop ours from starting.
    local pid
    pid="$(ipc_pid || true)"
    if is_pcscd "$pid"; then
        die "another pcscd (pid $pid) is running, not started by this script; it owns $IPC_DIR/pcscd.comm. Stop it first (kill $pid) and run start again."
    fi
    if socket_answers; then
        die "a pcscd not started by this script answers on $IPC_DIR/pcscd.comm${pid:+ (pid file: $pid)}. Stop it first and run start again."
    fi
    local other
    other="$(file_pid "$PID_FILE" || true)"
    if is_pcscd "$other"; then
        die "$RUN_DIR belongs to a pcscd (pid $other) that does not own this $IPC_DIR (another mount namespace or container): set CARDKIT_RUN_DIR to another folder."
    fi
}

clean_stale() {
    # A killed pcscd leaves pcscd.comm / pcscd.pid behind, and they block the next start.
    if [ -e "$IPC_DIR/pcscd.comm" ] || [ -e "$IPC_DIR/pcscd.pid" ]; then
        say "removing stale $IPC_DIR/pcscd.comm and pcscd.pid"
        rm -f "$IPC_DIR/pcscd.comm" "$IPC_DIR/pcscd.pid"
    fi
    mkdir -p "$IPC_DIR" || die "cannot create $IPC_DIR: pcscd needs it writable (run as root)"
}

write_config() { # readers driver
    local readers="$1" driver="$2" entries entry lib port
    entries=$(((readers + SLOTS_PER_DRIVER - 1) / SLOTS_PER_DRIVER))
    rm -rf "$CONF_DIR" "$DRIVER_DIR"
    mkdir -p "$CONF_DIR" "$DRIVER_DIR"
    for ((entry = 0; entry < entries; entry++)); do
        lib="$driver"
        if [ "$entry" -gt 0 ]; then
            lib="$DRIVER_DIR/libifdvpcd-$entry.so"
            cp "$driver" "$lib"
        fi
        port=$((BASE_PORT + entry * SLOTS_PER_DRIVER))
        cat >"$CONF_DIR/vpcd-$(printf '%02d' "$entry")" <<EOF
# written by cardkit scripts/virtual-reader.sh: slots $((entry * SLOTS_PER_DRIVER))-$((entry * SLOTS_PER_DRIVER + SLOTS_PER_DRIVER - 1)) on ports $port-$((port + SLOTS_PER_DRIVER - 1))
FRIENDLYNAME "$(friendly_name "$entry")"
DEVICENAME   /dev/null:$port
LIBPATH      $lib
CHANNELID    $port
EOF
    done
}

wait_for_readers() { # readers pid
    local readers="$1" pid="$2" deadline listed slot missing
    deadline=$((SECONDS + 15))
    while :; do
        alive "$pid" || { tail -n 20 "$LOG_FILE" >&2 || true; die "pcscd exited at start (log: $LOG_FILE)"; }
        listed="$(list_readers || true)"
        missing=""
        for ((slot = 0; slot < readers; slot++)); do
            grep -qxF "$(reader_name "$slot")" <<<"$listed" || missing="$(reader_name "$slot")"
        done
        [ -z "$missing" ] && return 0
        if [ "$SECONDS" -ge "$deadline" ]; then
            tail -n 20 "$LOG_FILE" >&2 || true
            die "pcscd runs but reader '$missing' is not listed after 15 s (log: $LOG_FILE)"
        fi
        sleep 0.2
    done
}

cmd_start() {
    local readers=2
    while [ $# -gt 0 ]; do
        case "$1" in
            --readers) readers="${2:-}"; shift 2 || usage ;;
            --readers=*) readers="${1#*=}"; shift ;;
            *) usage ;;
        esac
    done
    [[ "$readers" =~ ^[0-9]+$ ]] && [ "$readers" -ge 1 ] && [ "$readers" -le 16 ] \
        || die "--readers must be 1..16" 2

    local pid
    if pid="$(our_pid)"; then
        if [ "$(cat "$COUNT_FILE" 2>/dev/null)" = "$readers" ]; then
            say "already running (pid $pid, $readers readers): nothing to do"
            return 0
        fi
        die "already running (pid $pid) with $(cat "$COUNT_FILE" 2>/dev/null || echo '?') readers; stop it first to change to $readers"
    fi
    command -v "$PCSCD" >/dev/null 2>&1 || die "pcscd not found (apt install $APT_PACKAGES)" 2
    local driver
    driver="$(find_driver)"

    stop_systemd_pcscd
    check_foreign_pcscd
    clean_stale
    mkdir -p "$RUN_DIR"
    write_config "$readers" "$driver"
    echo "$readers" >"$COUNT_FILE"

    # --foreground keeps pcscd a child we can track (its logs go to the log file instead of
    # syslog); setsid detaches it from this shell's terminal and signals. No --auto-exit.
    setsid "$PCSCD" --foreground --info --config "$CONF_DIR" >"$LOG_FILE" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$PID_FILE"
    wait_for_readers "$readers" "$pid"
    say "pcscd running (pid $pid), config $CONF_DIR, log $LOG_FILE"
    local slot
    for ((slot = 0; slot < readers; slot++)); do
        say "  slot $slot: '$(reader_name "$slot")' on port $((BASE_PORT + slot))"
    done
}

cmd_status() {
    local pid
    if pid="$(our_pid)"; then
        say "pcscd running (pid $pid), config $CONF_DIR"
    elif is_pcscd "$(ipc_pid || true)" || socket_answers; then
        say "a pcscd not started by this script is running (pid $(ipc_pid || echo '?'))"
    else
        say "not running"
        return 3
    fi
    local listed
    listed="$(list_readers || true)"
    if [ -z "$listed" ]; then
        say "no readers listed"
    else
        echo "$listed"
    fi
}

cmd_stop() {
    local pid
    if ! pid="$(our_pid)"; then
        say "not running"
        # Keep the pid file of a pcscd that runs in another namespace with this run directory.
        is_pcscd "$(file_pid "$PID_FILE" || true)" || rm -f "$PID_FILE"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    local i
    for ((i = 0; i < 50; i++)); do
        alive "$pid" || break
        sleep 0.1
    done
    if alive "$pid"; then
        say "pcscd (pid $pid) ignored SIGTERM; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.2
    fi
    # pcscd removes its files on a clean exit; after SIGKILL they would block the next start.
    if [ -f "$IPC_DIR/pcscd.pid" ] && ! is_pcscd "$(ipc_pid)"; then
        rm -f "$IPC_DIR/pcscd.comm" "$IPC_DIR/pcscd.pid"
    fi
    rm -rf "$PID_FILE" "$COUNT_FILE" "$CONF_DIR" "$DRIVER_DIR"
    say "stopped pcscd (pid $pid)"
}

case "${1:-}" in
    start) shift; cmd_start "$@" ;;
    stop) shift; cmd_stop ;;
    status) shift; cmd_status ;;
    *) usage ;;
esac
