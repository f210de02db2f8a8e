#!/bin/bash
# A backup into a file system that fills up fails with a sentence and exit
# status 1, removes its partial image and leaves the chain as it was: the
# manifest unchanged, qemu-img check and verify clean, every point restorable.
# The target is an 8 MiB tmpfs mounted in a private mount namespace.
if [ -z "${BLKSNAPCTL_IN_NS:-}" ]; then
	exec unshare --mount --propagation private env BLKSNAPCTL_IN_NS=1 "$0" "$@"
fi
. "$BLKSNAP_SRC/tests/lib/common.sh"
. "$BLKSNAP_SRC/tests/lib/blksnapctl.sh"

M=$((1 << 20))
dev=$WORK/dev.img
mkdir "$WORK/small"
mount -t tmpfs -o size=8m tmpfs "$WORK/small"
on_exit umount "$WORK/small"
chain=$WORK/small/vde
truncate -s $((64 * M)) "$dev"
write_random "$dev" 0 $M
backup_image vde "$dev" $GEN1 1 "$WORK/small" 2>/dev/null
cp "$dev" "$WORK/p0"
before=$(sum "$chain/chain.json")

step "an incremental of 16 MiB into the 8 MiB file system"
write_random "$dev" $((32 * M)) $((16 * M))
extents_file "$WORK/e" $((32 * M)) $((16 * M))
rc=0
out=$(backup_image vde "$dev" $GEN1 2 "$WORK/small" "$WORK/e" 2>&1) || rc=$?
echo "$out"
assert_eq "exit status" 1 "$rc"
assert_match "says the disk is full" "No space left on device" "$out"
assert_match "says the chain is kept" "the partial image was removed, the chain in .* is as it was" "$out"

step "the chain is as it was"
assert_eq "files of the chain" "0000.extents 0000.qcow2 chain.json" "$(ls "$chain" | tr '\n' ' ' | sed 's/ $//')"
assert_eq "manifest unchanged" "$before" "$(sum "$chain/chain.json")"
assert_chain_sound "$chain"
assert_restores "$chain" 0 "$WORK/p0"

step "a full first backup that does not fit leaves no chain at all"
rc=0
out=$(backup_image vdf "$dev" $GEN1 1 "$WORK/small" 2>&1) || rc=$?
assert_eq "exit status" 1 "$rc"
assert_eq "files left" "" "$(ls "$WORK/small/vdf")"
echo "PASS"
