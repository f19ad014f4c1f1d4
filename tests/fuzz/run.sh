#!/bin/bash
# usage: tests/fuzz/run.sh TARGET [RUNS] [libFuzzer options...]
# Runs one libFuzzer target (envelope, plausible, url, ua, report_query) for RUNS executions
# (default 1,000,000), building it first. The seeds of tests/fuzz/corpus/TARGET are read; what
# the run discovers goes to build-fuzz/corpus/TARGET (kept between runs), crash inputs to
# build-fuzz/artifacts/TARGET/, libFuzzer's output to build-fuzz/TARGET.log (FUZZ_OUT=DIR puts
# these three under DIR instead, e.g. for a run that starts from the seeds alone).
# Prints one summary line:
#   fuzz TARGET: N executions in S s (X exec/s), result ok|CRASH (...)
# Exits 0 when the run ended clean, 1 on a crash, sanitizer report or time-out, 2 when clang's
# libFuzzer runtime is missing (nothing was run).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
target=${1:?usage: run.sh TARGET [RUNS] [libFuzzer options...]}
runs=${2:-1000000}
shift $(( $# >= 2 ? 2 : 1 ))

bash "$here/build.sh" "$target" >&2
rc=$?
[ $rc -eq 0 ] || exit $rc

case $target in
    envelope|plausible) max_len=8192 ;;
    ua) max_len=1100 ;;          # a little past TLY_MAX_UA_LEN (1024), where the cut happens
    *) max_len=4096 ;;
esac
out=${FUZZ_OUT:-$src/build-fuzz}
work=$out/corpus/$target
artifacts=$out/artifacts/$target
log=$out/$target.log
mkdir -p "$work" "$artifacts"
dict=()
[ -f "$here/dict/$target.dict" ] && dict=(-dict="$here/dict/$target.dict")

start=$(date +%s.%N)
"$src/build-fuzz/fuzz_$target" -runs="$runs" -max_len=$max_len -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "${dict[@]}" "$@" "$work" "$here/corpus/$target" >"$log" 2>&1
status=$?
end=$(date +%s.%N)

execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n1)
secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
# libFuzzer's own average rounds down to whole seconds; short runs get it from the wall clock.
if [ "${rate:-0}" = 0 ] && [ -n "$execs" ]; then
    rate=$(awk -v n="$execs" -v s="$secs" 'BEGIN { printf "%.0f", (s > 0) ? n / s : n }')
fi
if [ $status -eq 0 ] && ! grep -qE 'ERROR: (AddressSanitizer|UndefinedBehaviorSanitizer|libFuzzer)|runtime error:' "$log"; then
    result=ok
else
    crash=$(sed -n 's/.*Test unit written to //p' "$log" | tail -n1)
    why=$(grep -m1 -E 'ERROR: |runtime error:|invariant violated' "$log" | cut -c1-160)
    result="CRASH (${why:-exit $status}; input: ${crash:-none}; log: $log)"
fi
echo "fuzz $target: ${execs:-0} executions in ${secs} s (${rate:-0} exec/s), result $result"
[ "$result" = ok ]
