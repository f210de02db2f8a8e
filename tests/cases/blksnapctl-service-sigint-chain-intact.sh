#!/bin/bash
# disks: 128M
# timeout: 900
# kernels: first
#
# SIGINT in the middle of a backup through the service (as a member of
# blksnap-backup, storage in an unnamed file of the backup directory):
# blksnapctl exits 130 saying so, the partial image is gone, the chain is
# the previous backup's and still passes verify and qemu-img check, and the
# snapshot is destroyed; the next backup works.
. "$BLKSNAP_SRC/tests/lib/common.sh"
. "$BLKSNAP_SRC/tests/lib/dbus-env.sh"
. "$BLKSNAP_SRC/tests/lib/blksnapctl.sh"

dev=$DISK1 B=/tmp/backups
name=$(basename "$dev")
ctl_service_start
user_dir "$BACKUP_USER" "$B"

step "arrange: a full backup of a mostly empty device, then 96 MiB of new data"
dd if=/dev/urandom of="$dev" bs=1M count=1 oflag=direct status=none
ctl_as "$BACKUP_USER" backup "$dev" --to "$B"
manifest=$(cat "$B/$name/chain.json")
dd if=/dev/urandom of="$dev" bs=1M count=96 oflag=direct conv=notrunc status=none

step "act: an incremental backup, SIGINT once its partial image is being written"
ctl_bg "$BACKUP_USER" /tmp/backup.log backup "$dev" --to "$B"
wait_partial "$B/$name" +1M
kill -INT "$ctl_pid"
rc=0
wait "$ctl_job" || rc=$?
cat /tmp/backup.log

step "assert: exit 130, the chain as it was, no partial image, no snapshot"
assert_eq "exit status" 130 "$rc"
assert_match "message" "interrupted by SIGINT: the partial image was removed" "$(cat /tmp/backup.log)"
assert_chain_kept "$B/$name" "$manifest"

step "assert: the next backup is the incremental, and restores the device"
ctl_as "$BACKUP_USER" backup "$dev" --to "$B"
assert_eq "kind of backup 1" incremental "$(jq -r '.backups[1].kind' "$B/$name/chain.json")"
"$CTL" restore "$B/$name" --to /tmp/r.img >/dev/null
cmp "$dev" /tmp/r.img || fail "backup 1 does not restore $dev"
assert_no_snapshot
