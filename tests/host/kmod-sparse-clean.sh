#!/bin/sh
# The module builds with sparse (make C=2: every file checked) and sparse
# says nothing; the compiler warns about nothing either (-Werror anyway).
set -eu
src=${BLKSNAP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
kver=$("$src/tests/vm/kernel-version")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$src/kmod/build" "$src/kmod" "$tmp/build" "/lib/modules/$kver/build" \
	"$tmp/blksnap.ko" C=2 CHECK="sparse -Wbitwise -Wcast-to-as" > "$tmp/log" 2>&1 || {
	cat "$tmp/log"
	exit 1
}
bad=$(grep -v -e '^Skipping BTF generation' "$tmp/log" || true)
if [ -n "$bad" ]; then
	printf '%s\n' "$bad"
	exit 1
fi
echo "sparse: clean"
