#!/bin/sh
# The log router's command in this image (Dockerfile: CMD). Around the base
# image's own /entrypoint.sh it does three things:
#
# 1. Warns loudly when the image's Fluent Bit is not one this project was
#    tested on (README: "Fluent Bit versions").
# 2. Before starting, when the include FireLens loads has a wasm filter:
#    checks that the AOT filter module loads in this Fluent Bit and
#    classifies a record. An AOT file only loads in the WAMR version and
#    CPU it was compiled for; a base image with another WAMR would refuse
#    it, and Fluent Bit would not start at all. On a mismatch it points
#    FIRELENS_MODULE (the includes' Wasm_Path) at the portable .wasm
#    (interpreted: several times the CPU, same results), with a loud
#    warning. Nothing in the image is written (readonlyRootFilesystem): the
#    check's scratch file goes to $TMPDIR (a task volume on /tmp).
#    firelens-lean.conf has no wasm filter: no check.
# 3. On SIGTERM: waits FIRELENS_STOP_DELAY_SECS (default 2) before passing
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
# The config FireLens generates; its @INCLUDE names the include in use.
FIRELENS_CONFIG=${FIRELENS_CONFIG:-/fluent-bit/etc/fluent-bit.conf}
ROUTER_CMD=${ROUTER_CMD:-/entrypoint.sh}
STOP_DELAY=${FIRELENS_STOP_DELAY_SECS:-2}
# The Fluent Bit versions the includes, the module and this script were
# checked on: 4.2.2 up to the 5.1 series.
TESTED="4.2.2, 5.0.9, 5.1.1"

say() { echo "[firelens-router] $*" >&2; }

version=$("$FLUENT_BIT_BIN" --version 2>/dev/null | head -n 1)
# "Fluent Bit v5.0.9" -> "5 0 9"
numbers=$(echo "$version" | sed -n 's/.*v\([0-9][0-9]*\)\.\([0-9][0-9]*\)\.\([0-9][0-9]*\).*/\1 \2 \3/p')
# Whether this Fluent Bit is at least $1.$2.$3 (false when unknown).
at_least() {
  [ -n "$numbers" ] || return 1
  # shellcheck disable=SC2086 # three numbers, split on purpose
  set -- "$@" $numbers
  [ "$4" -gt "$1" ] || { [ "$4" -eq "$1" ] && { [ "$5" -gt "$2" ] || { [ "$5" -eq "$2" ] && [ "$6" -ge "$3" ]; }; }; }
}
if [ -z "$numbers" ]; then
  say "WARNING: cannot read this Fluent Bit's version ('$version'); tested: $TESTED"
elif ! at_least 4 2 2 || at_least 5 2 0; then
  say "WARNING: $version is outside the versions this image was tested on ($TESTED)."
  say "WARNING: the includes and the module may behave differently (README: Fluent Bit versions)."
fi

# A one-record pipeline through the module: succeeds when the record comes
# out marked as an error, within 10 s.
module_works() {
  if ! out=$(mktemp 2>/dev/null); then
    say "WARNING: no writable \$TMPDIR (${TMPDIR:-/tmp}) for the module check; mount a volume there"
    return 2
  fi
  # Not -q: when the module does not load, Fluent Bit's reason is printed.
  "$FLUENT_BIT_BIN" -i dummy -p samples=1 -p rate=20 \
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

# What the include(s) FireLens loads do: wasm=1 when one has a wasm filter,
# inline=1 when one runs it on records straight from the input (no
# parser-mode multiline filter, whose emitter re-emits every record, ahead).
# Without the generated config (not under FireLens), assume both.
wasm=0
inline=0
if [ ! -f "$FIRELENS_CONFIG" ]; then
  wasm=1
  inline=1
else
  for inc in $(sed -n 's/^[[:space:]]*@INCLUDE[[:space:]]\{1,\}//p' "$FIRELENS_CONFIG"); do
    if [ -f "$inc" ] && grep -Eiq '^[[:space:]]*(Name[[:space:]]+wasm|- name:[[:space:]]*wasm)[[:space:]]*$' "$inc"; then
      wasm=1
      grep -Eiq '^[[:space:]]*(-[[:space:]]*)?multiline[._]parser[[:space:]:]' "$inc" || inline=1
    fi
  done
fi

# From Fluent Bit 5.1 the forward input (FireLens's) handles connections in
# coroutines (plugins/in_forward/fw_conn.c), so filters run on a coroutine's
# stack, outside the thread stack WAMR bounds its native stack check by:
# every call traps and the wasm filter drops every record it gets inline
# (measured on 5.1.1, AOT and interpreted alike; 4.2.2 and 5.0.9 are fine).
# Records re-emitted by a multiline emitter are unaffected. Refusing to start
# beats dropping every line: the task fails and a deployment rolls back.
# FIRELENS_ALLOW_WASM_ON_COROUTINES=1 starts anyway (a Fluent Bit that fixed it).
aot="$FIRELENS_DIR/firelens_filter.aot"
portable="$FIRELENS_DIR/firelens_filter.wasm"
export FIRELENS_MODULE="${FIRELENS_MODULE:-$aot}"
if [ $inline -eq 1 ] && at_least 5 1 0 && [ "${FIRELENS_ALLOW_WASM_ON_COROUTINES:-}" != 1 ]; then
  say "ERROR: $version runs FireLens's forward input in coroutines, where the wasm filter"
  say "ERROR: drops every record (WAMR's native stack check traps). Load firelens-lean.conf"
  say "ERROR: (sink-proxy classifies) or firelens-stacktraces.conf, or use a base image with"
  say "ERROR: Fluent Bit 5.0 (aws-for-fluent-bit 3.4.x). README: Fluent Bit versions."
  exit 78
fi
if [ "${FIRELENS_SKIP_MODULE_CHECK:-}" = 1 ]; then
  say "module check skipped (FIRELENS_SKIP_MODULE_CHECK=1)"
elif [ $wasm -eq 0 ]; then
  say "module check skipped: the include in $FIRELENS_CONFIG has no wasm filter (sink-proxy classifies)"
else
  module_works "$FIRELENS_MODULE"
  case $? in
    0) say "filter module $FIRELENS_MODULE loads in $version" ;;
    2) say "WARNING: module not checked; Fluent Bit will load $FIRELENS_MODULE" ;;
    *)
      say "WARNING: $FIRELENS_MODULE does not load in this Fluent Bit ($version);"
      say "WARNING: it was compiled for another WAMR version or CPU. Falling back to the portable"
      say "WARNING: $portable, interpreted: the same results at several times the CPU. Rebuild the"
      say "WARNING: image with the wamrc that matches this Fluent Bit (README: Upgrading the base image)."
      FIRELENS_MODULE="$portable"
      module_works "$portable" || say "ERROR: the portable module does not work either; records will pass unfiltered or not at all"
      ;;
  esac
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
