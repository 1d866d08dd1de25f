#!/usr/bin/env bash
# The whole pipeline's CPU (Fluent Bit + sink-proxy) against the classic
# setup it replaces (grep + rewrite_tag + record_modifier, then Fluent Bit's
# own cloudwatch_logs and kinesis_firehose), side by side in one run, on the
# same corpus, against one strict AWS stand-in over TLS. Prints a table of
# medians; see tests/src/bin/pipeline-bench.rs for the method and the rows.
#
#   FLUENT_BIT=/path/to/fluent-bit bench/fluent-bit-pipeline.sh [RECORDS] [ROUNDS] [ROWS]
#
# Needs a release build of Fluent Bit 4.2.2, 5.0.x or 5.1.x (-DFLB_RELEASE=On,
# as the images are) with its default FLB_WASM=On, and the module's AOT file, which
# scripts/build-wasm.sh writes when WAMRC points at wamrc 2.4.1.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${FLUENT_BIT:?set FLUENT_BIT to a fluent-bit binary}"
N=${1:-100000}
ROUNDS=${2:-5}
ROWS=${3:-none-null,classic-null,include-null,lean-null,classic,shipped,lean,include[Format=json_lines;Json_Date_Key=date;Json_Date_Format=double],include[Format=json_lines;Json_Date_Key=date;Json_Date_Format=double;Compress=gzip]}
# The sink-proxy the image ships (scripts/image_check.py builds it as the
# Dockerfile does), unless SINK_PROXY_BIN names another.
if [ -z "${SINK_PROXY_BIN:-}" ]; then
  [ -x target/image/sink-proxy ] || python3 scripts/image_check.py >&2
  export SINK_PROXY_BIN=$PWD/target/image/sink-proxy
fi
echo "sink-proxy: $SINK_PROXY_BIN"
cargo build -q --release -p firelens-e2e --bin pipeline-bench
exec target/release/pipeline-bench --records "$N" --rounds "$ROUNDS" --rows "$ROWS"
