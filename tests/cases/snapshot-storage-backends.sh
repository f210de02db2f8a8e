#!/bin/bash
# disks: 128M 128M
# timeout: 900
#
# Every kind of difference storage holds a snapshot of a mounted, written
# ext4: (a) the preallocated extents of a file on that very ext4, given as
# sector ranges of the snapshotted device; (b) a range of another device;
# (c) a file the module writes through the VFS, an O_TMPFILE on tmpfs and a
# regular file on another ext4.  In each, the image does not change while
# the original is overwritten after the take, and storage_used grows.
. "$BLKSNAP_SRC/tests/lib/common.sh"

load_module
orig=$DISK1 other=$DISK2
mkdir -p /tmp/fs /tmp/other

step "arrange: a mounted ext4 on $orig holding data, tracked"
mkfs.ext4 -q -F -b 4096 -E lazy_itable_init=0,lazy_journal_init=0 "$orig"
mount "$orig" /tmp/fs
dd if=/dev/urandom of=/tmp/fs/data bs=1M count=16 status=none
sync
nl attach "$orig" >/dev/null

# snapshot_with STORAGE-ARGS...: create a snapshot of $orig, give it the
# storage, take it; sets $id and $img.
snapshot_with() {
	local info
	info=$(nl snapshot-create "$orig")
	id=$(snap_field snapshot "$info")
	info=$(nl snapshot-append "$id" "$@")
	echo "$info"
	[ "$(snap_field storage_total "$info")" -gt 0 ] || fail "no storage_total after append"
	info=$(nl snapshot-take "$id")
	img=$(snap_image "$orig" "$info")
}

# overwrite_checks [START COUNT]...: overwrite the data on the original and
# write a new file; the image (but the given sector ranges: storage inside
# it) keeps its checksum, storage_used grows, the snapshot stays healthy.
overwrite_checks() {
	local before after used0 used1
	before=$(device_sum "$img" "$@")
	used0=$(snap_field storage_used "$(nl snapshot-get "$id")")

	dd if=/dev/urandom of=/tmp/fs/data bs=1M count=16 conv=notrunc,fsync status=none
	dd if=/dev/urandom of=/tmp/fs/new-$RANDOM bs=1M count=4 conv=fsync status=none
	sync

	after=$(device_sum "$img" "$@")
	used1=$(snap_field storage_used "$(nl snapshot-get "$id")")
	assert_eq "checksum of $img after overwriting $orig" "$before" "$after"
	[ "$(device_sum "$orig" "$@")" != "$before" ] || fail "$orig did not change"
	[ "$used1" -gt "$used0" ] || fail "storage_used did not grow: $used0, then $used1"
	echo "ok: image unchanged; storage_used $used0 -> $used1 sectors"
	assert_eq "state" "taken error=0" "$(snap_state "$id")"
}

step "(a) storage in the preallocated extents of a file on the snapshotted ext4"
fallocate -l 48M /tmp/fs/.blksnap-storage
sync
extents=$(file_extents /tmp/fs/.blksnap-storage | sort -n)
[ -n "$extents" ] || fail "no extents for the storage file"
echo "$extents"
ranges=() skip=()
while read -r start count; do
	ranges+=("$orig:$start+$count")
	skip+=("$start" "$count")
done <<<"$extents"
total=0
for ((i = 1; i < ${#skip[@]}; i += 2)); do total=$((total + skip[i])); done
assert_eq "sectors of the extents" $((48 * 2048)) "$total"
snapshot_with "${ranges[@]}"
assert_eq "storage_total" "$total" "$(snap_field storage_total "$(nl snapshot-get "$id")")"
overwrite_checks "${skip[@]}"
nl snapshot-destroy "$id"
rm /tmp/fs/.blksnap-storage

step "(b) storage on another device"
snapshot_with "$other:2048+131072"
overwrite_checks
nl snapshot-destroy "$id"

step "(c) the file backend: an O_TMPFILE on tmpfs"
snapshot_with --tmpfile /dev/shm 131072
overwrite_checks
nl snapshot-destroy "$id"

step "(c) the file backend: a regular file on another ext4"
mkfs.ext4 -q -F -b 4096 "$other"
mount "$other" /tmp/other
snapshot_with --file /tmp/other/diff-storage 131072
overwrite_checks
size=$(stat -c %s /tmp/other/diff-storage)
[ "$size" -gt 0 ] || fail "the module did not grow the storage file"
[ "$size" -le $((131072 * 512)) ] || fail "the storage file grew past its limit: $size bytes"
echo "ok: the storage file grew to $size bytes"
nl snapshot-destroy "$id"
umount /tmp/other

step "the original file system is intact"
assert_eq "snapshots" "" "$(nl snapshot-list)"
umount /tmp/fs
e2fsck -fn "$orig" || fail "e2fsck -fn $orig: exit status $?"
nl detach "$orig"
unload_module
