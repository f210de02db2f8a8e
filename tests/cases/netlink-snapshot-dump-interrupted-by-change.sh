#!/bin/bash
# timeout: 900
#
# A snapshot-get dump that spans a change of the list of snapshots (one
# destroyed between two parts of the dump) is flagged NLM_F_DUMP_INTR
# (blksnap-nl then fails with EINTR) instead of silently skipping a
# snapshot; the same dump without a change lists every snapshot.
. "$BLKSNAP_SRC/tests/lib/common.sh"

n=40
load_module
modprobe loop

step "arrange: $n snapshots, each of a tracked loop device"
ids=()
# One backing file for all: nothing is written to the loop devices.
truncate -s 8M /tmp/dev.img
for _ in $(seq "$n"); do
	dev=$(losetup -f --show /tmp/dev.img)
	nl attach "$dev" >/dev/null
	ids+=("$(snap_field snapshot "$(nl snapshot-create "$dev")")")
done
assert_eq "snapshots listed" "$n" "$(nl snapshot-list | grep -c '^snapshot=')"

step "a dump in several parts, no change: every snapshot"
out=$(nl snapshot-list --fresh-socket --pause-before-receive 2 2>/tmp/err) ||
	fail "the dump failed: $(cat /tmp/err)"
grep -q '^paused$' /tmp/err || fail "the dump did not pause"
assert_eq "snapshots in the paused dump" "$n" "$(grep -c '^snapshot=' <<<"$out")"

step "act: destroy the first snapshot after the first part (filled at the request)"
rc=0
nl snapshot-list --fresh-socket --pause-before-receive 10 >/tmp/out 2>/tmp/err &
lister=$!
sleep 2
grep -q '^paused$' /tmp/err || fail "the dump did not pause"
nl snapshot-destroy "${ids[0]}"
wait "$lister" || rc=$?
cat /tmp/err
echo "the interrupted dump listed $(grep -c '^snapshot=' /tmp/out || :) of $n snapshots"

step "assert: the dump is flagged interrupted"
assert_eq "exit status of the interrupted dump (EINTR)" 4 "$rc"
assert_match "message" "interrupted by a concurrent change" "$(cat /tmp/err)"
assert_eq "snapshots after" $((n - 1)) "$(nl snapshot-list | grep -c '^snapshot=')"

for id in "${ids[@]:1}"; do
	nl snapshot-destroy "$id"
done
for dev in $(nl list | sed -n 's/^dev=\([0-9:]*\) .*/\1/p'); do
	nl detach "$dev"
done
losetup -D
unload_module
