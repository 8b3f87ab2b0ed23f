#!/usr/bin/env bash
# Fuzzes every decoder that reads outside input (issue "Hardening": fuzzing), one Jazzer target
# after another, each for SECONDS (default 60), and prints per target the executions per second
# and the distinct crashes found (a crash: an exception the decoder does not declare, an
# allocation sized by a length field, or an input taking over 10 s). The targets with the most
# state to explore, the WAL stream decoder and the pgwire frames of both sides, get 3 x SECONDS.
#
#   bash bench/fuzz.sh [SECONDS] [FILTER]     FILTER: a substring of "Class#method"
#   bash bench/fuzz.sh --seeds                rewrites the seed corpus from the fixtures
#
# The targets are the @FuzzTest methods of src/test/java/**/*FuzzTest.java; in the ordinary
# `mvn verify` they only replay their committed corpus
# (src/test/resources/<package>/<Class>Inputs/<method>/). Here each runs under Jazzer's own
# driver with JAZZER_FUZZ=1, its corpus grown in target/fuzz/corpus/<target>/ (kept between
# runs) and its crashing inputs written to target/fuzz/findings/<target>/: copy one into the
# target's Inputs directory, named after the bug, when you fix it.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGETS=(
  org.pageserver.protocol.pgwire.PgWireFuzzTest#serverFrames
  org.pageserver.protocol.pgwire.PgWireFuzzTest#clientFrames
  org.pageserver.protocol.pgwire.PgWireFuzzTest#scramServerExchange
  org.pageserver.protocol.pgwire.PgWireFuzzTest#scramClientExchange
  org.pageserver.protocol.pgwire.PgWireFuzzTest#saslPrep
  org.pageserver.protocol.pgwire.PgWireFuzzTest#scramSecret
  org.pageserver.protocol.pgwire.PgWireFuzzTest#startupOptions
  org.pageserver.protocol.pgwire.PgWireFuzzTest#connInfo
  org.pageserver.protocol.pagestream.PageStreamFuzzTest#request
  org.pageserver.protocol.pagestream.PageStreamFuzzTest#response
  org.pageserver.protocol.replication.ReplicationFuzzTest#streamingMessage
  org.pageserver.protocol.replication.ReplicationFuzzTest#baseBackupMessage
  org.pageserver.protocol.replication.ReplicationFuzzTest#command
  org.pageserver.protocol.wal.WalFuzzTest#decoderChunks
  org.pageserver.protocol.wal.WalFuzzTest#record
  org.pageserver.protocol.wal.WalFuzzTest#pageHeader
  org.pageserver.protocol.wal.WalFuzzTest#pglz
  org.pageserver.protocol.control.ControlFileFuzzTest#parse
  org.pageserver.redo.RecordFuzzTest#check
  org.pageserver.redo.RecordFuzzTest#redo
  org.pageserver.tenant.TarFuzzTest#readArchive
)

mvn -q -B -o -DskipTests test-compile dependency:build-classpath -Dmdep.outputFile=target/fuzz.cp \
  -Dmdep.includeScope=test >/dev/null
ROOT=$(pwd)
CP="$ROOT/target/test-classes:$ROOT/target/classes:$(cat target/fuzz.cp)"

if [ "${1:-}" = "--seeds" ]; then
  java -cp "$CP" org.pageserver.fuzz.FuzzSeeds src/test/resources
  exit 0
fi
SECONDS_PER_TARGET=${1:-60}
FILTER=${2:-}
export JAZZER_FUZZ=1

printf '%-58s %6s %10s %9s %8s\n' target secs execs execs/s crashes > target/fuzz-summary.txt
for t in "${TARGETS[@]}"; do
  case "$t" in *"$FILTER"*) ;; *) continue ;; esac
  cls=${t%#*}
  method=${t#*#}
  name="${cls##*.}-$method"
  seeds="src/test/resources/${cls%.*}"
  seeds="${seeds//.//}/${cls##*.}Inputs/$method"
  corpus="target/fuzz/corpus/$name"
  findings="target/fuzz/findings/$name"
  rm -rf "$findings"
  mkdir -p "$corpus" "$findings"
  log="target/fuzz/$name.log"
  budget=$SECONDS_PER_TARGET
  case "$t" in *#decoderChunks|*#serverFrames|*#clientFrames) budget=$(( 3 * SECONDS_PER_TARGET )) ;; esac
  echo "== $t: ${budget} s" >&2
  # Jazzer's driver rather than JUnit's: its time budget is this script's, not the annotation's
  (cd "$findings" && java -Xmx1g -cp "$CP" com.code_intelligence.jazzer.Jazzer --target_class="$cls" \
    --target_method="$method" --instrumentation_includes='org.pageserver.**' --keep_going=100 \
    -max_total_time="$budget" -timeout=10 -rss_limit_mb=0 \
    "$ROOT/$corpus" "$ROOT/$seeds") > "$log" 2>&1 || true
  runs=$(grep -oE 'Done [0-9]+ runs in [0-9]+ second' "$log" | tail -1 | awk '{print $2, $5}')
  execs=${runs% *}
  secs=${runs#* }
  if [ -z "$runs" ]; then
    execs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
    execs=${execs:-0}
    secs=$budget
  fi
  crashes=$(find "$findings" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
  printf '%-58s %6s %10s %9s %8s\n' "$t" "$secs" "$execs" "$(( execs / (secs > 0 ? secs : 1) ))" "$crashes" \
    | tee -a target/fuzz-summary.txt
done
echo
cat target/fuzz-summary.txt
