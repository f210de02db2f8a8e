#!/bin/bash
# disks: 256M
# timeout: 900
# kernels: first
#
# The everyday case: the storage-pool directory is on the very ext4 being
# snapshotted.  blksnapd preallocates pool files there and hands the
# kernel their extents; while a writer overwrites three times the initial
# storage in files of that file system, the pool grows (StorageGrown), the
# snapshot stays taken, the image checks clean with e2fsck and its files are
# the files at the take; Destroy removes the pool's files.
. "$BLKSNAP_SRC/tests/lib/common.sh"
. "$BLKSNAP_SRC/tests/lib/dbus-env.sh"
prop() { # OBJECT IFACE NAME -> the value of a property, as JSON
	bctl --json=short get-property "$BUS_NAME" "$1" "$IFACE.$2" "$3" | jq -c .data
}
mib=$((1024 * 1024))
mnt=/mnt/data

load_module
dbus_env_start
blksnapd_start

step "arrange: ext4 on $DISK1 with 6 files of 8 MiB, mounted on $mnt; tracked"
mkfs.ext4 -q -F "$DISK1"
mkdir -p "$mnt" /mnt/image
mount "$DISK1" "$mnt"
mkdir "$mnt/pool"
for i in $(seq 6); do
	dd if=/dev/urandom of="$mnt/file$i" bs=1M count=8 status=none
done
sync
(cd "$mnt" && md5sum file*) >/tmp/at-take
dev_obj=$(bctl --json=short call "$BUS_NAME" "$ROOT_PATH" "$IFACE.Manager" TrackDevice \
	'sa{sv}' "$DISK1" 0 | jq -r '.data[0]')
gdbus monitor --system --dest "$BUS_NAME" >/tmp/monitor 2>&1 &
monitor=$!
sleep 2

step "act: a snapshot with 8 MiB from $mnt/pool (limit 160 MiB), taken"
snap=$(bctl --json=short call "$BUS_NAME" "$ROOT_PATH" "$IFACE.Manager" CreateSnapshot \
	'aoa{sv}' 1 "$dev_obj" 4 storage-pool s "$mnt/pool" storage-initial t $((8 * mib)) \
	storage-limit t $((160 * mib)) low-free-bytes t $((4 * mib)) | jq -r '.data[0]')
ls -l "$mnt/pool"
[ -n "$(ls -A "$mnt/pool")" ] || fail "no pool file in $mnt/pool"
bctl call "$BUS_NAME" "$snap" "$IFACE.Snapshot" Take 'a{sv}' 0
img=$(bctl --json=short call "$BUS_NAME" "$snap" "$IFACE.Snapshot" GetImages 'a{sv}' 0 | jq -r '.data[0][0][1]')

step "act: overwrite the 48 MiB of files, one at a time"
for i in $(seq 6); do
	dd if=/dev/urandom of="$mnt/file$i" bs=1M count=8 conv=notrunc oflag=direct status=none ||
		fail "writing $mnt/file$i failed"
	sleep 0.5
done
sync
sleep 2
kill "$monitor"

step "assert: grown from the pool, still taken; the image is clean and holds the files at the take"
assert_eq State '"taken"' "$(prop "$snap" Snapshot State)"
total=$(prop "$snap" Snapshot StorageTotal)
echo "StorageTotal $total, StorageUsed $(prop "$snap" Snapshot StorageUsed)"
[ "$total" -ge $((24 * mib)) ] || fail "StorageTotal $total: not grown to three times 8 MiB"
assert_match "StorageGrown" "$snap: $IFACE.Snapshot.StorageGrown \(uint64 [1-9]" "$(cat /tmp/monitor)"
e2fsck -fn "$img" || fail "e2fsck finds $img unclean"
mount -o ro "$img" /mnt/image
assert_eq "the image's files" "$(cat /tmp/at-take)" "$(cd /mnt/image && md5sum file*)"
[ "$(cd "$mnt" && md5sum file*)" != "$(cat /tmp/at-take)" ] || fail "the files did not change"
umount /mnt/image

step "act: Destroy; assert: the pool's files are gone"
bctl call "$BUS_NAME" "$snap" "$IFACE.Snapshot" Destroy 'a{sv}' 0
assert_eq "files left in $mnt/pool" "" "$(ls -A "$mnt/pool")"
umount "$mnt"
e2fsck -fn "$DISK1" || fail "e2fsck finds $DISK1 unclean"

bctl call "$BUS_NAME" "$dev_obj" "$IFACE.Device" Untrack 'a{sv}' 0
blksnapd_stop || fail "blksnapd exited with status $? on SIGTERM"
unload_module
