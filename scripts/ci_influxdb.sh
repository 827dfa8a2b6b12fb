#!/usr/bin/env bash
# A throwaway InfluxDB 1.x (the Debian package's influxd) on loopback, for trying kapfastd by hand
# or for CI jobs outside pytest (pytest starts its own: tests/integration/conftest.py).
#
#   scripts/ci_influxdb.sh start [DIR]    # prints the URL; env INFLUX_HTTP_PORT (18086), INFLUX_RPC_PORT (18088)
#   scripts/ci_influxdb.sh stop  [DIR]
#
# Always passes -config (without it influxd reads /etc/influxdb and listens on :8086 everywhere),
# removes INFLUXDB_* variables (they override the file), and stops by the pid it recorded.
set -euo pipefail
cmd=${1:-start}
dir=${2:-/tmp/kapfast-influxdb}
http_port=${INFLUX_HTTP_PORT:-18086}
rpc_port=${INFLUX_RPC_PORT:-18088}
pidfile="$dir/influxd.pid"

stop() {
  [ -f "$pidfile" ] || return 0
  local pid
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; fi
  fi
  rm -f "$pidfile"
}

case "$cmd" in
  stop) stop; exit 0 ;;
  start) ;;
  *) echo "usage: $0 start|stop [DIR]" >&2; exit 2 ;;
esac

command -v influxd >/dev/null || { echo "influxd not found: run 'make system-deps'" >&2; exit 1; }
stop
rm -rf "$dir" && mkdir -p "$dir"
cat >"$dir/influxdb.conf" <<CONF
reporting-enabled = false
bind-address = "127.0.0.1:${rpc_port}"
[meta]
  dir = "$dir/meta"
[data]
  dir = "$dir/data"
  wal-dir = "$dir/wal"
  wal-fsync-delay = "0s"
  query-log-enabled = false
[monitor]
  store-enabled = false
[subscriber]
  enabled = true
[http]
  bind-address = "127.0.0.1:${http_port}"
  auth-enabled = false
  log-enabled = false
[logging]
  level = "info"
  suppress-logo = true
CONF

unset_env=()
while IFS='=' read -r name _; do
  [[ $name == INFLUXDB_* ]] && unset_env+=(-u "$name")
done < <(env)
env "${unset_env[@]}" influxd run -config "$dir/influxdb.conf" >"$dir/influxd.log" 2>&1 &
echo $! >"$pidfile"

for _ in $(seq 200); do
  if curl -sf -o /dev/null "http://127.0.0.1:${http_port}/ping"; then
    echo "http://127.0.0.1:${http_port}"
    exit 0
  fi
  kill -0 "$(cat "$pidfile")" 2>/dev/null || break
  sleep 0.05
done
echo "influxd did not start; log:" >&2
tail -n 40 "$dir/influxd.log" >&2
stop
exit 1
