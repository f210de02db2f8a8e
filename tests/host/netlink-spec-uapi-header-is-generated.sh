#!/bin/sh
# The committed UAPI header is exactly what the kernel's YNL generator
# makes of the spec: nobody edited one without the other.
set -eu
src=${BLKSNAP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$src/netlink-spec/ynl-gen" "$tmp/blksnap.h"
if ! diff -u "$src/kmod/include/uapi/linux/blksnap.h" "$tmp/blksnap.h"; then
	echo "kmod/include/uapi/linux/blksnap.h is stale: run netlink-spec/ynl-gen" >&2
	exit 1
fi
echo "UAPI header matches the spec"
