#!/bin/sh
# Builds the tracker: minifies each tracker/src/*.js with uglifyjs (Debian package `uglifyjs`)
# into tracker/, and prints each file's size, raw and gzip -9, against its budget
# (targets.md: core t.js <= 700 bytes gzip -9, each extension <= 300).
#
# usage: tracker/build.sh           write tracker/*.js
#        tracker/build.sh --check   write nothing; fail if a committed tracker/*.js differs from
#                                   what its source builds to, or if a file is over budget
# Exit status: 0 ok, 1 over budget or out of date, 2 cannot build.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
check=no
[ "${1:-}" = --check ] && check=yes
command -v uglifyjs >/dev/null 2>&1 || { echo "tracker/build.sh: uglifyjs not found (Debian package uglifyjs; scripts/install-deps installs it)" >&2; exit 2; }
command -v gzip >/dev/null 2>&1 || { echo "tracker/build.sh: gzip not found" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
for src in "$here"/src/*.js; do
    name=$(basename "$src")
    # --compress and --mangle; the output is one line, without comments.
    uglifyjs "$src" --compress --mangle --output "$tmp/$name" || { echo "tracker/build.sh: uglifyjs failed on src/$name" >&2; exit 2; }
    raw=$(wc -c <"$tmp/$name")
    gz=$(gzip -9 -n -c "$tmp/$name" | wc -c)
    budget=300
    [ "$name" = t.js ] && budget=700
    verdict=ok
    [ "$gz" -le "$budget" ] || { verdict="OVER BUDGET"; status=1; }
    if [ $check = yes ]; then
        if ! cmp -s "$tmp/$name" "$here/$name"; then
            verdict="$verdict, OUT OF DATE (run tracker/build.sh and commit tracker/$name)"
            status=1
        fi
    else
        cp "$tmp/$name" "$here/$name"
    fi
    printf 'tracker/%-16s %5d bytes, %4d gzip -9 (budget %d): %s\n' "$name" "$raw" "$gz" "$budget" "$verdict"
done
exit $status
