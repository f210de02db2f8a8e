#!/bin/bash
# disks: 256M 512M 512M
# timeout: 900
#
# One snapshot of a mounted ext4 kept busy by fio and a mounted xfs, with
# its difference storage on a third disk, gives an image per device that
# has the original's size and logical block size, mounts (replaying the
# journal), holds every file written before the take with its checksum while
# the originals keep being overwritten, and passes e2fsck -fn and
# xfs_repair -n.
. "$BLKSNAP_SRC/tests/lib/common.sh"

load_module
ext4=$DISK1 xfs=$DISK2 storage=$DISK3
mkdir -p /tmp/ext4 /tmp/xfs /tmp/img-ext4 /tmp/img-xfs

step "arrange: ext4 on $ext4 and xfs on $xfs, mounted, with files; trackers"
mkfs.ext4 -q -F -b 4096 "$ext4"
mkfs.xfs -q -f "$xfs"
mount "$ext4" /tmp/ext4
mount "$xfs" /tmp/xfs
for fs in ext4 xfs; do
	mkdir -p /tmp/$fs/dir
	for f in a b dir/c; do
		dd if=/dev/urandom of=/tmp/$fs/$f bs=1M count=4 status=none
	done
	(cd /tmp/$fs && md5sum a b dir/c) >/tmp/$fs.sums
done
sync
nl attach "$ext4" >/dev/null
nl attach "$xfs" >/dev/null

step "arrange: fio keeps the ext4 busy through the take"
fio --name=busy --directory=/tmp/ext4 --rw=randwrite --bs=4k --size=16M \
	--time_based --runtime=25 --ioengine=psync --fsync=32 \
	--output=/tmp/busy.out &
busy=$!
sleep 5

step "act: create, append the whole of $storage, take"
info=$(nl snapshot-create "$ext4" "$xfs")
echo "$info"
id=$(snap_field snapshot "$info")
assert_eq "state after create" created "$(snap_field state "$info")"
info=$(nl snapshot-append "$id" "$storage:0+$(sectors "$storage")")
assert_eq "storage_total after append" "$(sectors "$storage")" \
	"$(snap_field storage_total "$info")"
taken=$(nl snapshot-take "$id")
echo "$taken"
assert_eq "state after take" taken "$(snap_field state "$taken")"

step "assert: snapshot-get names an image per device, the same as the take"
info=$(nl snapshot-get "$id")
img_ext4=$(snap_image "$ext4" "$info")
img_xfs=$(snap_image "$xfs" "$info")
echo "images: $img_ext4 $img_xfs"
[ "$img_ext4" != "$img_xfs" ] || fail "both devices have the image $img_ext4"
assert_eq "device lines of take and get" "$(sed 1d <<<"$taken")" "$(sed 1d <<<"$info")"

step "assert: each image has its original's size and logical block size"
for dev in "$ext4" "$xfs"; do
	img=$(snap_image "$dev" "$info")
	assert_eq "device number of $img" "$(snap_device_field image_dev "$dev" "$info")" \
		"$(devnum "$img")"
	assert_eq "size of $img" "$(blockdev --getsize64 "$dev")" "$(blockdev --getsize64 "$img")"
	assert_eq "logical block size of $img" "$(blockdev --getss "$dev")" \
		"$(blockdev --getss "$img")"
	assert_eq "generation of the frozen map of $dev" \
		"$(snap_device_field generation "$dev" "$info")" \
		"$(nl map --snapshot "$id" "$dev" | sed -n 's/^generation=\([^ ]*\).*/\1/p')"
done

step "act: overwrite the originals' files, then again and again in the background"
overwrite() {
	for fs in ext4 xfs; do
		for f in a b dir/c; do
			dd if=/dev/urandom of=/tmp/$fs/$f bs=1M count=4 conv=notrunc,fsync status=none
		done
	done
}
overwrite
for fs in ext4 xfs; do
	if (cd /tmp/$fs && md5sum --quiet -c /tmp/$fs.sums >/dev/null 2>&1); then
		fail "the files on the original $fs were not overwritten"
	fi
done
rm -f /tmp/stop-overwriting
(
	while [ ! -e /tmp/stop-overwriting ]; do
		overwrite
	done
) &
overwriter=$!

step "assert: the mounted images hold the files of before the take"
mount "$img_ext4" /tmp/img-ext4
mount -o nouuid "$img_xfs" /tmp/img-xfs
for fs in ext4 xfs; do
	(cd /tmp/img-$fs && md5sum -c /tmp/$fs.sums) ||
		fail "the $fs image does not hold the files of before the take"
done
umount /tmp/img-ext4
umount /tmp/img-xfs
touch /tmp/stop-overwriting
wait "$overwriter" || fail "overwriting the originals failed"

step "assert: the images' file systems are clean"
e2fsck -fn "$img_ext4" || fail "e2fsck -fn $img_ext4: exit status $?"
xfs_repair -n "$img_xfs" || fail "xfs_repair -n $img_xfs: exit status $?"

wait "$busy" || fail "fio on the original ext4 failed: $(cat /tmp/busy.out)"
info=$(nl snapshot-get "$id")
echo "$info"
assert_eq "state at the end" "taken error=0" "$(snap_state "$id")"
[ "$(snap_field storage_used "$info")" -gt 0 ] || fail "no difference storage used"

step "destroy; the originals are intact file systems"
nl snapshot-destroy "$id"
assert_eq "snapshots after destroy" "" "$(nl snapshot-list)"
[ ! -e "$img_ext4" ] || fail "$img_ext4 still exists after destroy"
umount /tmp/ext4
umount /tmp/xfs
e2fsck -fn "$ext4" || fail "e2fsck -fn $ext4: exit status $?"
xfs_repair -n "$xfs" || fail "xfs_repair -n $xfs: exit status $?"
nl detach "$ext4"
nl detach "$xfs"
unload_module
