#!/bin/bash
# disks: 64M 64M
# timeout: 300
#
# While a snapshot is taken, a discard over chunks not copied yet (fstrim)
# copies nothing into the difference storage and ends successfully without
# reaching the original, whose data the image still reads; it is marked in
# the CBT map.  Write-zeroes is honoured: the chunks are copied first, the
# original then reads as zeros, and the image keeps the old data.
. "$BLKSNAP_SRC/tests/lib/common.sh"

load_module
[ "$(cat "/sys/class/block/$(basename "$DISK1")/queue/discard_max_bytes")" -gt 0 ] ||
	fail "$DISK1 does not support discard"
dd if=/dev/urandom of="$DISK1" bs=1M count=64 oflag=direct status=none
old_discarded=$(range_sum "$DISK1" 0 16)
old_zeroed=$(range_sum "$DISK1" 32 1)
zeros=$(dd if=/dev/zero bs=1M count=1 status=none | md5sum)
nl attach "$DISK1" >/dev/null
id=$(snap_field snapshot "$(nl snapshot-create "$DISK1" --chunk-size 65536)")
nl snapshot-append "$id" "$DISK2:0+$(sectors "$DISK2")" >/dev/null
nl snapshot-take "$id" >/dev/null
snap=$(nl snapshot-get "$id")
img=$(snap_image "$DISK1" "$snap")
image_sum=$(md5sum < "$img")
copied0=$(counter chunks_copied)

step "act: discard the first 16 MiB (256 chunks, none copied)"
blkdiscard -o 0 -l $((16 << 20)) "$DISK1"

step "assert: nothing copied or stored, the discard kept, marked in the map"
assert_eq "chunks copied" "$copied0" "$(counter chunks_copied)"
assert_eq "storage used" 0 "$(snap_field storage_used "$(nl snapshot-get "$id")")"
[ "$(counter discards_kept)" -ge 1 ] || fail "no discard counted as kept"
assert_eq "original still holds the data" "$old_discarded" "$(range_sum "$DISK1" 0 16)"
assert_eq "image as at the take" "$image_sum" "$(md5sum < "$img")"
assert_match "discard marked" "^0\+" "$(changed_blocks "$DISK1")"

step "act: write-zeroes over 1 MiB at 32 MiB (16 chunks)"
blkdiscard -z -o $((32 << 20)) -l $((1 << 20)) "$DISK1"

step "assert: 16 chunks copied, the original zeroed, the image unchanged"
assert_eq "chunks copied" "$((copied0 + 16))" "$(counter chunks_copied)"
assert_eq "original zeroed" "$zeros" "$(range_sum "$DISK1" 32 1)"
assert_eq "image keeps the old data" "$old_zeroed" "$(range_sum "$img" 32 1)"
assert_eq "image as at the take" "$image_sum" "$(md5sum < "$img")"

nl snapshot-destroy "$id"
nl detach "$DISK1"
unload_module
