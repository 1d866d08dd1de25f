#!/bin/sh
# The log router's command in this image (Dockerfile: CMD). Around the base
# image's own /entrypoint.sh it does two things:
#
# 1. Before starting: checks that the AOT filter module loads in this
#    image's Fluent Bit and classifies a record. An AOT file only loads in
#    the WAMR version and CPU it was compiled for; a base image with another
#    WAMR would refuse it, and Fluent Bit would not start at all. On a
#    mismatch the includes are switched to the portable .wasm (interpreted:
#    several times the CPU, same results), with a loud warning.
# 2. On SIGTERM: waits FIRELENS_STOP_DELAY_SECS (default 2) before passing
#    it on, so that a line part still waiting for its last part (its
#    container died mid-line) is flushed by the multiline filter (Flush_Ms
#    1000: within 1.5 s) instead of lost: Fluent Bit does not flush those
#    pending parts when it stops. ECS sends the log router SIGTERM only after
#    the app containers have stopped, so nothing new is cut meanwhile. Keep
#    Grace (25 s) plus this delay under the container's stopTimeout (30 s).
#
# Every path is a variable so that tests can run it outside the image.
set -u
FLUENT_BIT_BIN=${FLUENT_BIT_BIN:-/fluent-bit/bin/fluent-bit}
FIRELENS_DIR=${FIRELENS_DIR:-/fluent-bit/firelens}
ROUTER_CMD=${ROUTER_CMD:-/entrypoint.sh}
STOP_DELAY=${FIRELENS_STOP_DELAY_SECS:-2}

say() { echo "[firelens-router] $*" >&2; }

# A one-record pipeline through the module: succeeds when the record comes
# out marked as an error, within 10 s.
module_works() {
  out=$(mktemp)
  "$FLUENT_BIT_BIN" -q -i dummy -p samples=1 -p rate=20 \
    -p 'dummy={"log":"ERROR firelens-router module check"}' -t check-firelens-0 \
    -F wasm -m '*' -p "wasm_path=$1" -p function_name=firelens_classify -p event_format=json \
    -o stdout -m '*' -p format=json_lines -f 0.2 >"$out" 2>&1 &
  pid=$!
  ok=1
  i=0
  while [ $i -lt 100 ]; do
    if grep -q '"log_class":"error"' "$out"; then ok=0; break; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
    i=$((i + 1))
  done
  kill "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  [ $ok -eq 0 ] || say "the module check printed: $(tr '\n' ' ' <"$out" | cut -c1-400)"
  rm -f "$out"
  return $ok
}

aot="$FIRELENS_DIR/firelens_filter.aot"
wasm="$FIRELENS_DIR/firelens_filter.wasm"
if [ "${FIRELENS_SKIP_MODULE_CHECK:-}" = 1 ]; then
  say "module check skipped (FIRELENS_SKIP_MODULE_CHECK=1)"
elif module_works "$aot"; then
  say "AOT filter module loads in $("$FLUENT_BIT_BIN" --version 2>/dev/null | head -n 1)"
else
  say "WARNING: $aot does not load in this Fluent Bit ($("$FLUENT_BIT_BIN" --version 2>/dev/null | head -n 1));"
  say "WARNING: it was compiled for another WAMR version or CPU. Falling back to the portable"
  say "WARNING: $wasm, interpreted: the same results at several times the CPU. Rebuild the"
  say "WARNING: image with the wamrc that matches this Fluent Bit (README: Upgrading the base image)."
  for f in "$FIRELENS_DIR"/*.conf "$FIRELENS_DIR"/*.yaml; do
    [ -f "$f" ] || continue
    sed "s|$aot|$wasm|" "$f" >"$f.tmp" && cat "$f.tmp" >"$f" && rm -f "$f.tmp"
  done
  module_works "$wasm" || say "ERROR: the portable module does not work either; records will pass unfiltered or not at all"
fi

"$ROUTER_CMD" "$@" &
child=$!
stop() {
  say "SIGTERM: passing it on in ${STOP_DELAY} s, once pending line parts are flushed"
  sleep "$STOP_DELAY"
  kill -TERM "$child" 2>/dev/null
}
trap stop TERM INT
# `wait` returns early when a trapped signal arrives: wait until the child
# is gone, then once more for its exit status (the shell keeps it).
while kill -0 "$child" 2>/dev/null; do
  wait "$child"
done
wait "$child"
