#!/bin/bash
# disks: 64M 64M
# timeout: 900
#
# The kernel's generic YNL client, given only netlink-spec/blksnap.yaml,
# drives every op of the live family: cli.py answers version and dumps
# the trackers; one YnlFamily process then runs every op and mode (attach,
# get, map reads whole and sliced after a direct write, mark-dirty with
# two ranges, reset; a snapshot created, given storage on the second disk,
# got, taken, its image read and its frozen map read, destroyed; a second
# one with too little storage asking for more, then corrupted by an
# overflow, destroyed; detach; and the untracked-device, unknown-snapshot
# and wrong-state errors with their extack) while a second YnlFamily
# receives every tracker and snapshot notification on the events group.
. "$BLKSNAP_SRC/tests/lib/common.sh"

export XDG_CACHE_HOME=$BLKSNAP_BUILD/cache
ynl=$("$BLKSNAP_SRC/netlink-spec/ynl-tree")/tools/net/ynl
spec=$BLKSNAP_SRC/netlink-spec/blksnap.yaml
python=/usr/bin/python3
version=$(sed -n 's/^#define BLKSNAP_VERSION_STR[[:space:]]*"\(.*\)"$/\1/p' \
	"$BLKSNAP_SRC/kmod/version.h")
[ -n "$version" ] || fail "no BLKSNAP_VERSION_STR in kmod/version.h"

cli() {
	"$python" "$ynl/cli.py" --spec "$spec" --no-schema --output-json "$@"
}

load_module

step "cli.py --do version"
reply=$(cli --do version)
echo "$reply"
assert_eq "version from cli.py" "$version" \
	"$(jq -r '"\(.["version-major"]).\(.["version-minor"]).\(.["version-patch"])"' <<<"$reply")"

step "cli.py --dump tracker-get, nothing tracked"
reply=$(cli --dump tracker-get)
echo "$reply"
assert_eq "trackers from cli.py" 0 "$(jq length <<<"$reply")"

step "one YnlFamily process drives every op; a second one listens"
"$python" "$BLKSNAP_SRC/tests/lib/ynl_every_op.py" --ynl "$ynl" --spec "$spec" \
	--disk "$DISK1" --storage "$DISK2" --version "$version" || fail "ynl_every_op.py failed"

unload_module
