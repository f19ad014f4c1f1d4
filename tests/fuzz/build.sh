#!/bin/bash
# usage: tests/fuzz/build.sh [TARGET...]
# Builds the libFuzzer targets with clang into build-fuzz/ (beside build/ and build-asan/), each
# linked with just the lib/ sources it exercises, all instrumented with
# -fsanitize=fuzzer,address,undefined. The autotools build (gcc) is not involved. Without
# arguments every target is built. Exits 2 when clang or its libFuzzer runtime is missing
# (Debian: clang-14 libclang-rt-14-dev, see scripts/install-deps).
set -euo pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
out=$src/build-fuzz
CC=${FUZZ_CC:-}
if [ -z "$CC" ]; then
    for c in clang-14 clang; do command -v "$c" >/dev/null 2>&1 && { CC=$c; break; }; done
fi
[ -n "$CC" ] || { echo "fuzz build: clang not found (Debian: apt-get install clang-14 libclang-rt-14-dev)" >&2; exit 2; }

SAN="-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n);\nint LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' > "$probe/p.c"
# shellcheck disable=SC2086
if ! "$CC" $SAN "$probe/p.c" -o "$probe/p" >/dev/null 2>&1; then
    echo "fuzz build: $CC cannot link -fsanitize=fuzzer (Debian: apt-get install libclang-rt-14-dev)" >&2
    exit 2
fi

CFLAGS="-g -O1 $SAN -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla
        -I$src/lib -I$src/tests/fuzz $(pkg-config --cflags jansson libpcre2-8)"
LIBS="$(pkg-config --libs jansson libpcre2-8) -lm"

# The lib/ sources each target needs, beyond the always-needed mem.c and buf.c.
sources() {
    case $1 in
        envelope)     echo envelope.c json_arena.c timeparse.c url.c utf8.c ;;
        plausible)    echo plausible.c envelope.c json_arena.c timeparse.c url.c utf8.c ;;
        url)          echo url.c referrer.c ;;
        ua)           echo ua.c bot.c memo.c utf8.c log.c json_arena.c timeparse.c ;;
        report_query) echo report_query.c strict.c timeparse.c utf8.c ;;
        *) return 1 ;;
    esac
}

# True (0) when a file named in BIN.d is newer than BIN: the target needs a rebuild.
stale() {
    local bin=$1 f
    # shellcheck disable=SC2013  # the words are the file names of a dependency list
    for f in $(sed -e 's/^[^:]*://' -e 's/\\$//' "$bin.d"); do
        [ "$f" -nt "$bin" ] && return 0
    done
    return 1
}

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(envelope plausible url ua report_query)
mkdir -p "$out"
for t in "${targets[@]}"; do
    libs=$(sources "$t") || { echo "fuzz build: unknown target '$t'" >&2; exit 1; }
    files=("$src/tests/fuzz/fuzz_$t.c" "$src/lib/mem.c" "$src/lib/buf.c")
    for f in $libs; do files+=("$src/lib/$f"); done
    bin=$out/fuzz_$t
    # Rebuild only when one of the files it was built from (the compiler's dependency list)
    # changed since.
    if [ -x "$bin" ] && [ -f "$bin.d" ] && ! stale "$bin"; then
        continue
    fi
    echo "fuzz build: $bin"
    # shellcheck disable=SC2086
    "$CC" $CFLAGS "${files[@]}" $LIBS -o "$bin"
    # One dependency list for the whole target: the headers and sources of every unit.
    rm -f "$bin.d"
    for f in "${files[@]}"; do
        # shellcheck disable=SC2086
        "$CC" $CFLAGS -MM "$f" >>"$bin.d"
    done
done
