#!/bin/sh
# Every source file of the module passes the kernel's checkpatch.pl (from
# Debian's linux-source-6.1) with no error, warning or check.
set -eu
src=${BLKSNAP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
ksrc=$("$src/scripts/kernel-source-tree" 6.1 scripts)

cd "$src/kmod"
out=$(perl "$ksrc/scripts/checkpatch.pl" --no-tree --strict --terse -f \
	*.c *.h include/uapi/linux/*.h 2>&1) || true
bad=$(printf '%s\n' "$out" | grep -E ': (ERROR|WARNING|CHECK):' || true)
if [ -n "$bad" ]; then
	printf '%s\n' "$bad"
	exit 1
fi
echo "checkpatch: $(ls *.c *.h | wc -l) files clean"
