#!/usr/bin/env bash
# Proof that the suite depends on neither the hour, the time zone nor the machine's speed:
#   the whole suite three times in a row under UTC+14 (Pacific/Kiritimati), three times under UTC-11
#   (Pacific/Pago_Pago), and once while two busy loops keep both cores of a 2-core machine loaded.
# Usage: tools/stress_suite.sh [ROUNDS]   (ROUNDS per time zone, default 3). Run from the repository root.
# Exit 0 only if every run passed; a summary line per run goes to stdout, full output to $LOGDIR.
set -uo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
LOGDIR=${LOGDIR:-$(mktemp -d -t permitgw-stress.XXXXXX)}
mkdir -p "$LOGDIR"
make install >/dev/null 2>&1 || { echo "stress: make install failed"; exit 1; }
failed=0
burners=()

stop_burners() {
  for pid in "${burners[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
  burners=()
}
trap stop_burners EXIT INT TERM

run() {  # run NAME [ENV=VALUE ...]: the README's test command under the given environment
  local name=$1; shift
  local log="$LOGDIR/$name.log" started=$SECONDS
  if env "$@" make test >"$log" 2>&1; then result=passed; else result=FAILED; failed=1; fi
  local load; load=$(cut -d' ' -f1-3 /proc/loadavg)
  printf '%-22s %-7s %4ss  load %s  %s\n' "$name" "$result" "$((SECONDS - started))" "$load" \
    "$(grep -E '^[0-9]+ (passed|failed)|passed|failed' "$log" | tail -n 1)"
}

for zone in Pacific/Kiritimati Pacific/Pago_Pago; do
  for i in $(seq 1 "$rounds"); do
    run "${zone#Pacific/}-$i" TZ="$zone"
  done
done

for _ in 1 2; do python3 -c "while True: pass" & burners+=($!); done
run "busy-cores" TZ="Pacific/Pago_Pago"
stop_burners

echo "logs: $LOGDIR"
[ "$failed" -eq 0 ] && echo "stress: every run passed" || echo "stress: some runs FAILED"
exit "$failed"
