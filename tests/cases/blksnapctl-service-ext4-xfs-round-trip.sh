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
. "$BLKSNAP_SRC/tests/lib/common.sh"
. "$BLKSNAP_SRC/tests/lib/dbus-env.sh"
. "$BLKSNAP_SRC/tests/lib/blksnapctl.sh"

ext4=$DISK1 xfs=$DISK2 pooldev=$DISK3
# new disks the points are restored to
new_ext4=$DISK4 new_xfs=$DISK5
B=/tmp/backups
ctl_service_start

step "arrange: ext4 on $ext4, xfs on $xfs, mounted with files; a storage pool on $pooldev"
mkfs.ext4 -q -F "$ext4"
# mkfs.xfs refuses file systems under 300 MB unless it is run by a test suite
TEST_DIR=/tmp TEST_DEV=$xfs QA_CHECK_FS=1 mkfs.xfs -q -f "$xfs" >/dev/null
mkfs.ext4 -q -F "$pooldev"
mkdir -p /tmp/m/ext4 /tmp/m/xfs /tmp/pool /tmp/r
mount "$ext4" /tmp/m/ext4
mount "$xfs" /tmp/m/xfs
mount "$pooldev" /tmp/pool
user_dir "$BACKUP_USER" "$B"
for fs in ext4 xfs; do
	mkdir /tmp/m/$fs/dir
	dd if=/dev/urandom of=/tmp/m/$fs/dir/base bs=1M count=6 status=none
done

# writer DIR NAME: a database-like file written at random 4 KiB blocks and
# copies of it, until /tmp/stop; waits while /tmp/pause exists
writer() {
	local d=$1 i=0
	dd if=/dev/urandom of="$d/db" bs=1M count=4 status=none
	while [ ! -e /tmp/stop ]; do
		if [ -e /tmp/pause ]; then
			touch "/tmp/paused.$2"
			sleep 0.1
			continue
		fi
		dd if=/dev/urandom of="$d/db" bs=4k seek=$((RANDOM % 1024)) count=1 conv=notrunc status=none
		i=$((i + 1))
		[ $((i % 40)) != 0 ] || cp "$d/db" "$d/copy-$((i / 40 % 3))"
	done
}
writer /tmp/m/ext4 ext4 &
w1=$!
writer /tmp/m/xfs xfs &
w2=$!
on_exit "touch /tmp/stop; wait $w1 $w2"

# backup_point N ARGS...: writers paused and the file systems synced, the
# files' checksums recorded (what the take will freeze); the backup starts,
# the writers resume as soon as the snapshot is taken and change the files
# while the images are copied
backup_point() {
	local n=$1 pid rc=0
	shift
	rm -f /tmp/paused.*
	touch /tmp/pause
	while [ ! -e /tmp/paused.ext4 ] || [ ! -e /tmp/paused.xfs ]; do sleep 0.1; done
	sync
	for fs in ext4 xfs; do fs_sums /tmp/m/$fs >/tmp/sums.$n.$fs; done
	ctl_as "$BACKUP_USER" backup "$ext4" "$xfs" --to "$B" --storage-pool /tmp/pool "$@" \
		>/tmp/backup.$n.log 2>&1 &
	pid=$!
	until nl snapshot-list | grep -q 'state=taken'; do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	rm -f /tmp/pause
	wait "$pid" || rc=$?
	cat /tmp/backup.$n.log
	assert_eq "exit status of backup $n" 0 "$rc"
	assert_no_snapshot
}
vdb=$(basename "$ext4") vdc=$(basename "$xfs")

step "act: a full backup of both devices together, as $BACKUP_USER"
backup_point 0
for d in $vdb $vdc; do
	assert_eq "kind of backup 0 of $d" full "$(jq -r '.backups[0].kind' "$B/$d/chain.json")"
done
grep -q "first backup" /tmp/backup.0.log || fail "backup 0 does not say why it is full"

step "act: writes, then an incremental; more writes, another incremental"
sleep 3
backup_point 1
sleep 3
backup_point 2
touch /tmp/stop
wait "$w1" "$w2"

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
umount /tmp/m/ext4 /tmp/m/xfs
for n in 0 1 2; do
	for fs in ext4 xfs; do
		d=$vdb mopt= to=$new_ext4
		[ $fs = ext4 ] || d=$vdc mopt=-onouuid to=$new_xfs
		"$CTL" restore "$B/$d@$n" --to "$to" >/dev/null
		mount $mopt "$to" /tmp/r
		assert_eq "files of $fs at backup $n" "$(cat /tmp/sums.$n.$fs)" "$(fs_sums /tmp/r)"
		umount /tmp/r
		if [ $fs = ext4 ]; then
			e2fsck -fn "$to" >/dev/null || fail "e2fsck -fn of $fs backup $n: exit status $?"
		else
			xfs_repair -n "$to" 2>/dev/null || fail "xfs_repair -n of $fs backup $n: exit status $?"
		fi
		echo "ok: $fs backup $n restores clean, with the files of its take"
	done
done
! cmp -s /tmp/sums.1.ext4 /tmp/sums.2.ext4 || fail "the ext4 files did not change between backups 1 and 2"
umount /tmp/pool
assert_eq "files left in the pool" "" "$(mount "$pooldev" /tmp/pool && ls /tmp/pool | grep -v lost+found; umount /tmp/pool)"
