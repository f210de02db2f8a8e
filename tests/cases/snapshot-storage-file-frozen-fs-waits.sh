#!/bin/bash
# disks: 64M 128M
# timeout: 600
#
# Copies into a storage file never modify a frozen file system: while the
# file system holding the storage file is frozen (fsfreeze), writes to the
# snapshotted device that need copies wait and the storage disk's bytes do
# not change; after the thaw the copies complete, the writes finish and
# the image still holds the data of the take.
. "$BLKSNAP_SRC/tests/lib/common.sh"

load_module
orig=$DISK1 store=$DISK2
mkdir -p /tmp/st

step "arrange: data on $orig, a taken snapshot with a storage file on ext4 on $store"
dd if=/dev/urandom of="$orig" bs=1M count=16 oflag=direct status=none
taken_sum=$(device_sum "$orig")
mkfs.ext4 -q -F -b 4096 -E lazy_itable_init=0,lazy_journal_init=0 "$store"
mount "$store" /tmp/st
nl attach "$orig" >/dev/null
id=$(snap_field snapshot "$(nl snapshot-create "$orig")")
nl snapshot-append "$id" --file /tmp/st/storage 65536 >/dev/null
img=$(snap_image "$orig" "$(nl snapshot-take "$id")")
sync

step "act: freeze the storage file system, write 4 MiB over the original"
fsfreeze -f /tmp/st
frozen_sum=$(device_sum "$store")
dd if=/dev/urandom of="$orig" bs=1M count=4 seek=2 oflag=direct status=none &
writer=$!
sleep 5

step "assert: the writes wait, the frozen storage disk is unchanged"
kill -0 "$writer" 2>/dev/null || fail "the writer finished while its copies' file system was frozen"
assert_eq "storage disk checksum while frozen" "$frozen_sum" "$(device_sum "$store")"
assert_eq "snapshot state while frozen" "taken error=0" "$(snap_state "$id")"

step "act: thaw; assert: the writes finish and the image holds the take's data"
fsfreeze -u /tmp/st
wait "$writer" || fail "the writer failed"
assert_eq "snapshot state after the thaw" "taken error=0" "$(snap_state "$id")"
assert_eq "image checksum" "$taken_sum" "$(device_sum "$img")"
used=$(snap_field storage_used "$(nl snapshot-get "$id")")
[ "$used" -ge 8192 ] || fail "storage_used $used: the 4 MiB were not copied"

nl snapshot-destroy "$id"
umount /tmp/st
nl detach "$orig"
unload_module
