#!/bin/bash
# disks: 64M
# timeout: 900
# kernels: first
#
# A live backup through the service (as a member of blksnap-backup, `backup
# --full`) whose snapshot is corrupted mid-copy, because a writer overwrites
# the device while the storage pool (a 24 MiB file system) cannot grow any
# more: blksnapctl exits 1 with a sentence saying the snapshot was corrupted,
# the partial image is removed, the chain is the previous backup's and still
# passes verify and qemu-img check, and no snapshot is left; the next
# `backup --full` is a full image that restores the device.
. "$BLKSNAP_SRC/tests/lib/common.sh"
. "$BLKSNAP_SRC/tests/lib/dbus-env.sh"
. "$BLKSNAP_SRC/tests/lib/blksnapctl.sh"

dev=$DISK1 B=/tmp/backups pool=/tmp/pool
name=$(basename "$dev")
ctl_service_start
user_dir "$BACKUP_USER" "$B"

step "arrange: 64 MiB of data, a full backup; a storage pool on a 24 MiB tmpfs"
dd if=/dev/urandom of="$dev" bs=1M count=64 oflag=direct status=none
mkdir -p "$pool"
mount -t tmpfs -o size=24M blksnap-pool "$pool"
on_exit "umount $pool"
ctl_as "$BACKUP_USER" backup "$dev" --to "$B" --storage-pool "$pool"
manifest=$(cat "$B/$name/chain.json")

step "act: backup --full; once its image is being written, 48 MiB of the device are overwritten"
ctl_bg "$BACKUP_USER" /tmp/backup.log backup "$dev" --full --to "$B" --storage-pool "$pool"
# The image is created before the take: past 1 MiB, copying has begun,
# so the snapshot is taken and the overwrite goes through copy-on-write.
# blksnapctl is stopped meanwhile, so that its reader cannot pass the
# overwritten chunks first however fast it is: 48 MiB to keep, 24 in the pool.
wait_partial "$B/$name" +1M
kill -STOP "$ctl_pid"
dd if=/dev/urandom of="$dev" bs=1M seek=16 count=48 oflag=direct conv=notrunc status=none
kill -CONT "$ctl_pid"
rc=0
wait "$ctl_job" || rc=$?
cat /tmp/backup.log

step "assert: exit 1, saying the snapshot was corrupted; the chain as it was; no snapshot"
assert_eq "exit status" 1 "$rc"
assert_match "says why" "the snapshot was corrupted" "$(cat /tmp/backup.log)"
assert_match "says the chain is kept" "the partial image was removed, the chain in .* is as it was" \
	"$(cat /tmp/backup.log)"
assert_chain_kept "$B/$name" "$manifest"
assert_eq "files left in the pool" "" "$(ls -A "$pool")"

step "act: backup --full again, the device now quiet"
out=$(ctl_as "$BACKUP_USER" backup "$dev" --full --to "$B" --storage-pool "$pool" 2>&1)
echo "$out"

step "assert: a full backup 1, saying it was asked for, restoring the device"
assert_match "reason" "full backup into .*/0001.qcow2: a full backup was asked for" "$out"
assert_eq "backup 1" "full null" "$(jq -r '.backups[1] | "\(.kind) \(.backing)"' "$B/$name/chain.json")"
"$CTL" restore "$B/$name" --to /tmp/r.img >/dev/null
cmp "$dev" /tmp/r.img || fail "backup 1 does not restore $dev"
assert_chain_sound "$B/$name"
assert_no_snapshot
