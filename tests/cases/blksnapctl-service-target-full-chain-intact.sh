#!/bin/bash
# disks: 64M
# timeout: 900
# kernels: first
#
# A live backup through the service (as a member of blksnap-backup) into a
# backup directory too small for it (a 16 MiB tmpfs; ENOSPC mid-copy):
# blksnapctl exits 1 with a sentence naming the full disk, the partial image
# is removed, the chain is the previous backup's and still passes verify and
# qemu-img check, and no snapshot is left.
. "$BLKSNAP_SRC/tests/lib/common.sh"
. "$BLKSNAP_SRC/tests/lib/dbus-env.sh"
. "$BLKSNAP_SRC/tests/lib/blksnapctl.sh"

dev=$DISK1 B=/tmp/small pool=/tmp/pool
name=$(basename "$dev")
ctl_service_start

step "arrange: backups on a 16 MiB tmpfs; a full backup of a device holding 1 MiB; 32 MiB of new data"
mkdir -p "$B" "$pool"
mount -t tmpfs -o size=16M blksnap-backups "$B"
on_exit "umount $B"
user_dir "$BACKUP_USER" "$B"
dd if=/dev/urandom of="$dev" bs=1M count=1 oflag=direct status=none
ctl_as "$BACKUP_USER" backup "$dev" --to "$B" --storage-pool "$pool"
manifest=$(cat "$B/$name/chain.json")
dd if=/dev/urandom of="$dev" bs=1M seek=8 count=32 oflag=direct conv=notrunc status=none

step "act: the incremental backup of the 32 MiB"
rc=0
ctl_as "$BACKUP_USER" backup "$dev" --to "$B" --storage-pool "$pool" >/tmp/backup.log 2>&1 || rc=$?
cat /tmp/backup.log
df -h "$B"

step "assert: exit 1, saying the disk is full; the chain as it was; no snapshot"
assert_eq "exit status" 1 "$rc"
assert_match "says why" "No space left on device" "$(cat /tmp/backup.log)"
assert_match "says the chain is kept" "the partial image was removed, the chain in .* is as it was" \
	"$(cat /tmp/backup.log)"
assert_chain_kept "$B/$name" "$manifest"
