#!/bin/bash
# disks: 128M 64M
# timeout: 900
#
# Writes to a partition that the block layer splits (max_sectors_kb 64)
# are marked exactly and copied once: the remainder of a split comes back
# through submit_bio_noacct already remapped to the whole disk, and must
# neither mark nor copy other blocks; with cow_max_pending=1 no writer
# hangs; and with the difference storage on the snapshotted partition
# itself and chunks larger than a request, the split storage writes of the
# copies are the module's own and do not recurse.
. "$BLKSNAP_SRC/tests/lib/common.sh"

disk=$DISK1
part=${disk}1
mib=2048 # sectors

step "arrange: a partition at 1 MiB; requests of at most 64 KiB"
insmod "$BLKSNAP_KO" cow_max_pending=1
echo "start=2048, size=$((120 * mib)), type=83" | sfdisk --quiet "$disk"
[ -b "$part" ] || fail "no partition $part"
echo 64 > "/sys/block/$(basename "$disk")/queue/max_sectors_kb"
dd if=/dev/urandom of="$part" bs=1M count=120 oflag=direct status=none

step "act: a 1 MiB write at 4 MiB of the tracked partition"
nl attach "$part" >/dev/null
dd if=/dev/zero of="$part" bs=1M seek=4 count=1 oflag=direct status=none
step "assert: exactly its 256 blocks of 4 KiB are marked"
assert_eq "changed blocks" "1024+256=1" "$(changed_blocks "$part")"

step "arrange: a snapshot of the partition, storage on its own last 32 MiB"
info=$(nl snapshot-create "$part" --chunk-size 65536)
id=$(snap_field snapshot "$info")
nl snapshot-append "$id" "$part:$((88 * mib))+$((32 * mib))" >/dev/null
img=$(snap_image "$part" "$(nl snapshot-take "$id")")
before=$(dd if="$part" bs=1M count=88 iflag=direct status=none | md5sum)

step "act: a 1 MiB write (16 chunks) at 8 MiB"
copied=$(counter chunks_copied)
timeout 60 dd if=/dev/zero of="$part" bs=1M seek=8 count=1 oflag=direct status=none ||
	fail "the write did not complete"
assert_eq "chunks copied for a 16-chunk write" 16 $(($(counter chunks_copied) - copied))

step "act: eight 1 MiB writers at once, one waiting write allowed"
pids=()
for i in 0 1 2 3 4 5 6 7; do
	timeout 120 dd if=/dev/zero of="$part" bs=1M seek=$((16 + 4 * i)) count=3 \
		oflag=direct status=none &
	pids+=($!)
done
for p in "${pids[@]}"; do
	wait "$p" || fail "a writer hung or failed"
done
assert_eq "state" "taken error=0" "$(snap_state "$id")"
assert_eq "the image is the partition before the writes" "$before" \
	"$(dd if="$img" bs=1M count=88 iflag=direct status=none | md5sum)"
nl snapshot-destroy "$id"

step "arrange: 1 MiB chunks, so each copy's storage write is split"
info=$(nl snapshot-create "$part" --chunk-size 1048576)
id=$(snap_field snapshot "$info")
nl snapshot-append "$id" "$part:$((88 * mib))+$((32 * mib))" >/dev/null
img=$(snap_image "$part" "$(nl snapshot-take "$id")")
before=$(dd if="$part" bs=1M count=88 iflag=direct status=none | md5sum)
copied=$(counter chunks_copied)

step "act: 4 MiB written at 40 MiB; assert: 4 chunks copied, image intact"
timeout 60 dd if=/dev/urandom of="$part" bs=1M seek=40 count=4 oflag=direct status=none ||
	fail "the write did not complete"
assert_eq "chunks copied for a 4-chunk write" 4 $(($(counter chunks_copied) - copied))
assert_eq "state" "taken error=0" "$(snap_state "$id")"
assert_eq "the image is the partition before the write" "$before" \
	"$(dd if="$img" bs=1M count=88 iflag=direct status=none | md5sum)"
nl snapshot-destroy "$id"

step "detach; every object is gone"
nl detach "$part"
unload_module
