#!/bin/bash
# disks: 128M 128M 64M 128M 128M
# timeout: 1500
# kernels: first
#
# Through the real service, as a member of blksnap-backup without root,
# blksnapctl backs up a mounted ext4 and a mounted xfs together in one
# snapshot while writers keep changing them: a full backup, then two
# incrementals copying only what changed; every point of both chains
# restores to a new disk whose file system passes e2fsck -fn / xfs_repair -n and holds
# exactly the files' contents of its take (writes after the take in none),
# the chains pass verify and qemu-img check, and no snapshot is left.
# The steps are the demo's (tests/lib/backup-round-trip.sh, shared with
# tests/demo/backup-demo.sh), so this case keeps scripts/demo working.
. "$BLKSNAP_SRC/tests/lib/common.sh"
. "$BLKSNAP_SRC/tests/lib/dbus-env.sh"
. "$BLKSNAP_SRC/tests/lib/blksnapctl.sh"
. "$BLKSNAP_SRC/tests/lib/backup-round-trip.sh"

ext4=$DISK1 xfs=$DISK2 pooldev=$DISK3
# new disks the points are restored to
new_ext4=$DISK4 new_xfs=$DISK5
B=/tmp/backups
ctl_service_start

step "arrange: ext4 on $ext4, xfs on $xfs, mounted with files; a storage pool on $pooldev; writers"
rt_arrange "$ext4" "$xfs" "$pooldev" "$B" "$BACKUP_USER"
rt_writers_start
vdb=$(basename "$ext4") vdc=$(basename "$xfs")

step "act: a full backup of both devices together, as $BACKUP_USER"
rt_backup_point 0
for d in $vdb $vdc; do
	assert_eq "kind of backup 0 of $d" full "$(jq -r '.backups[0].kind' "$B/$d/chain.json")"
done
grep -q "first backup" "$RT/backup.0.log" || fail "backup 0 does not say why it is full"

step "act: writes, then an incremental; more writes, another incremental"
sleep 3
rt_backup_point 1
sleep 3
rt_backup_point 2
rt_writers_stop

step "assert: both backups after the first are incremental, smaller than the device"
for d in $vdb $vdc; do
	for n in 1 2; do
		kind=$(jq -r ".backups[$n].kind" "$B/$d/chain.json")
		changed=$(jq -r ".backups[$n].changed_bytes" "$B/$d/chain.json")
		echo "$d backup $n: $kind, $changed bytes changed"
		assert_eq "kind of backup $n of $d" incremental "$kind"
		[ "$changed" -gt 0 ] && [ "$changed" -lt $((64 << 20)) ] ||
			fail "backup $n of $d copied $changed bytes"
	done
	assert_eq "snap numbers of $d's backups" "1 2 3" "$(jq -r '[.backups[].snap_number] | join(" ")' "$B/$d/chain.json")"
	assert_chain_sound "$B/$d"
done
"$CTL" list "$B"

step "assert: every point restores to a clean file system holding the files of its take"
rt_check_all 3 "$new_ext4" "$new_xfs" || fail "a point does not restore the files of its take (above)"
! cmp -s "$RT/sums.1.ext4" "$RT/sums.2.ext4" || fail "the ext4 files did not change between backups 1 and 2"
rt_report 3
umount "$RT_POOL"
assert_eq "files left in the pool" "" "$(mount "$pooldev" "$RT_POOL" && ls "$RT_POOL" | grep -v lost+found; umount "$RT_POOL")"
