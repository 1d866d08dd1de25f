#!/usr/bin/env bash
# The filter module in a real Fluent Bit: correctness against the corpus
# labels, then CPU cost side by side with the classic native filter chain.
#
#   FLUENT_BIT=/path/to/fluent-bit bench/fluent-bit-cpu.sh [RECORDS] [ROUNDS]
#
# Needs a Fluent Bit 4.1+ binary built with its default FLB_WASM=On (the one
# in aws-for-fluent-bit 3.x) and, for the AOT rows, the .aot files that
# scripts/build-wasm.sh writes when WAMRC points at wamrc 2.4.1 (keep WAMRC
# set here too, for the floor module's AOT row).
# Method: tail + json parser over
# RECORDS FireLens records, null output, user+sys CPU seconds of the process.
set -euo pipefail
cd "$(dirname "$0")/.."
FB=${FLUENT_BIT:?set FLUENT_BIT to a fluent-bit 4.x binary}
N=${1:-200000}
ROUNDS=${2:-3}
OUT=$(cd "${CARGO_TARGET_DIR:-target}" && pwd)/wasm32-wasip1/wasm
WASM=$OUT/firelens_filter.wasm
ARCH=$(uname -m | sed 's/arm64/aarch64/')
AOT=$OUT/firelens_filter.$ARCH.aot
[ -f "$WASM" ] || { echo "build the module first: scripts/build-wasm.sh" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo run -q --release -p wasm-host --bin firelens-corpus -- "$N" "$work/corpus" 2>/dev/null
mkdir -p "$work/rules"   # empty Accessible_Paths dir: built-in rules
# Floor modules: `copy` returns every record, `drop` returns "" (the cost of
# Fluent Bit's own JSON round trip, with no classification at all), `scan`
# reads the record once, 8 bytes per step, then copies it (a lower bound for
# any classifier).
cargo run -q --release -p wasm-host --bin filter-bench -- --write-floor "$work/floor.wasm"
FLOOR_AOT=""
if [ -n "${WAMRC:-}" ]; then
  "$WAMRC" --target="$ARCH" -o "$work/floor.aot" "$work/floor.wasm" >/dev/null
  FLOOR_AOT="$work/floor.aot"
fi

# The shipped includes' multiline filters, as they stand in the files: the
# partial join (firelens.conf) and the partial join plus stack-trace joining
# (firelens-stacktraces.conf), put ahead of the module in the rows below.
multiline_filters() {
  python3 - "$1" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
parts = re.split(r"(?m)^(?=\[)", text)
print("".join(p for p in parts if p.startswith("[FILTER]") and re.search(r"(?m)^\s*Name\s+multiline\s*$", p)).rstrip())
PY
}
PARTIAL=$(multiline_filters fluent-bit/firelens.conf)
STACKTRACES=$(multiline_filters fluent-bit/firelens-stacktraces.conf)

cat > "$work/parsers.conf" <<CONF
[PARSER]
    Name   json
    Format json
CONF

# $1 = name, $2 = filter section(s), $3 = output section
config() {
  cat > "$work/$1.conf" <<CONF
[SERVICE]
    Flush        1
    Grace        1
    Log_Level    warn
    Parsers_File $work/parsers.conf
    Parsers_File $PWD/fluent-bit/firelens-parsers.conf
[INPUT]
    Name         tail
    Path         $work/corpus/records.jsonl
    Parser       json
    Tag          web-firelens-1
    Read_From_Head true
    Exit_On_Eof  ${EXIT_ON_EOF:-true}
    Buffer_Max_Size 2M
$2
$3
CONF
}
NULL_OUT=$'[OUTPUT]\n    Name null\n    Match *'
classic=$'[FILTER]\n    Name grep\n    Match *\n    Exclude log ELB-HealthChecker/2.0\n[FILTER]\n    Name rewrite_tag\n    Match web-*\n    Rule $log (ERROR|\\s4\\d{2}\\s|\\s5\\d{2}\\s) error-$TAG true\n[FILTER]\n    Name record_modifier\n    Match *\n    Remove_key ecs_cluster\n    Remove_key ecs_task_arn\n    Remove_key ecs_task_definition'
# $1 = module file, $2 = function (default firelens_classify); the shipped settings.
wasm() {
  printf '[FILTER]\n    Name wasm\n    Match *\n    Wasm_Path %s\n    Function_Name %s\n    Event_Format json\n    Wasm_Heap_Size 4M\n    Wasm_Stack_Size 64K\n    Accessible_Paths %s\n' "$1" "${2:-firelens_classify}" "$work/rules"
}

declare -A FILTERS=([none]="" [classic]="$classic" [wasm-interpreted]="$(wasm "$WASM")"
  [floor-drop-interpreted]="$(wasm "$work/floor.wasm" drop)" [floor-copy-interpreted]="$(wasm "$work/floor.wasm" copy)"
  [floor-scan-interpreted]="$(wasm "$work/floor.wasm" scan)")
names=(none classic floor-drop-interpreted floor-copy-interpreted floor-scan-interpreted wasm-interpreted)
FILTERS[partial+wasm-interpreted]="$PARTIAL"$'\n'"$(wasm "$WASM")"
FILTERS[stacktraces+wasm-interpreted]="$STACKTRACES"$'\n'"$(wasm "$WASM")"
names+=(partial+wasm-interpreted stacktraces+wasm-interpreted)
if [ -f "$AOT" ]; then
  FILTERS[wasm-aot]="$(wasm "$AOT")"
  FILTERS[partial+wasm-aot]="$PARTIAL"$'\n'"$(wasm "$AOT")"
  FILTERS[stacktraces+wasm-aot]="$STACKTRACES"$'\n'"$(wasm "$AOT")"
  names+=(wasm-aot partial+wasm-aot stacktraces+wasm-aot)
fi
if [ -n "$FLOOR_AOT" ]; then
  FILTERS[floor-drop-aot]="$(wasm "$FLOOR_AOT" drop)"
  FILTERS[floor-copy-aot]="$(wasm "$FLOOR_AOT" copy)"
  names+=(floor-drop-aot floor-copy-aot)
fi

echo "== correctness in $("$FB" --version | head -n1), $N records"
for name in wasm-interpreted partial+wasm-interpreted stacktraces+wasm-interpreted wasm-aot partial+wasm-aot stacktraces+wasm-aot; do
  [ -n "${FILTERS[$name]:-}" ] || continue
  # No Exit_On_Eof here: it stops Fluent Bit at once, before the multiline
  # filters flush the lines they hold (FireLens's forward input never hits
  # EOF). Stop once every kept record is out, as a router is stopped.
  EXIT_ON_EOF=false config "check-$name" "${FILTERS[$name]}" "$(printf '[OUTPUT]\n    Name file\n    Match *\n    Path %s\n    File %s.out\n    Format plain\n' "$work" "$name")"
  "$FB" -c "$work/check-$name.conf" > "$work/$name.log" 2>&1 &
  fb=$!
  python3 - "$work/$name.out" "$work/corpus/expected.txt" <<'PY'
import os, sys, time
# Until the output holds every kept record (health checks are dropped); if
# it stops growing for 10 s short of that, the check below reports the loss.
want = sum(1 for l in open(sys.argv[2]) if l.strip() != "health")
def lines():
    return sum(1 for _ in open(sys.argv[1])) if os.path.exists(sys.argv[1]) else 0
last, since = -1, time.time()
while (n := lines()) < want and time.time() - since < 10:
    if n != last:
        last, since = n, time.time()
    time.sleep(0.2)
PY
  kill -TERM "$fb"; wait "$fb" || true
  python3 - "$work/corpus" "$work/$name.out" "$name" "$work/$name.log" <<'PY'
import json, sys
corpus, out, name, log = sys.argv[1:]
labels = open(corpus + "/expected.txt").read().split()
sent = [json.loads(l) for l in open(corpus + "/records.jsonl")]
got = [json.loads(l) for l in open(out)]
want = [dict(r, log_class="error") if l == "error" else r for r, l in zip(sent, labels) if l != "health"]
ok = got == want
print(f"  {name}: in {len(sent)}, out {len(got)} (expected {len(want)}), "
      f"marked {sum(1 for r in got if r.get('log_class') == 'error')} (expected {labels.count('error')}): "
      + ("OK, record for record" if ok else "MISMATCH"))
if not ok:
    print(open(log).read()[-2000:]); sys.exit(1)
PY
done

# user+sys CPU seconds of a command (no /usr/bin/time needed); fails if it fails.
cpu_seconds() {
  python3 - "$@" <<'PY'
import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"{r.ru_utime + r.ru_stime:.3f}")
PY
}

echo "== CPU seconds (user+sys), median of $ROUNDS, $N records"
declare -A T
for r in $(seq "$ROUNDS"); do
  for name in "${names[@]}"; do
    config "$name" "${FILTERS[$name]}" "$NULL_OUT"
    t=$(cpu_seconds "$FB" -c "$work/$name.conf")
    T[$name]+="$t "
  done
done
med() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
base=$(med "${T[none]}"); chain=$(med "${T[classic]}")
printf '| pipeline | CPU s | overhead over no filter | × classic chain overhead |\n|---|---:|---:|---:|\n'
for name in "${names[@]}"; do
  m=$(med "${T[$name]}")
  awk -v n="$name" -v m="$m" -v b="$base" -v c="$chain" 'BEGIN { o = m - b; printf "| %s | %.2f | %.2f | %s |\n", n, m, o, (n == "none") ? "-" : sprintf("%.2f", o / (c - b)) }'
done
# The floor a classifier competes with: Fluent Bit's own round trip with the
# corpus's health checks dropped and the rest kept, at zero classification cost.
health=$(grep -c '^health$' "$work/corpus/expected.txt")
for exec in interpreted aot; do
  [ -n "${T[floor-copy-$exec]:-}" ] || continue
  awk -v d="$(med "${T[floor-drop-$exec]}")" -v k="$(med "${T[floor-copy-$exec]}")" -v h="$health" -v n="$N" \
    -v b="$base" -v c="$chain" -v e="$exec" \
    'BEGIN { f = h / n; o = f * (d - b) + (1 - f) * (k - b); printf "| same-drops floor, %s (%.0f %% dropped) | - | %.2f | %.2f |\n", e, 100 * f, o, o / (c - b) }'
done
