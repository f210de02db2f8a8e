#!/bin/bash
# The main job, live (the guest part of scripts/demo, in the VM): blksnapd on
# a real system bus behind the real polkitd; a user blksnap-backup, without
# root, allowed by the example polkit rules, backs up a mounted ext4 and a
# mounted xfs together while a database-like writer and file copies keep
# changing them: a full backup, then two incrementals.  Every point of both
# chains is restored to new disks and checked (e2fsck -fn / xfs_repair -n,
# every file's checksum against what the file system held at the take);
# one point is mounted straight from its qcow2 with qemu-nbd.  Ends with a
# report and a verdict; exits non-zero if anything failed.
# Disks: ext4, xfs, storage pool, then the two disks the points restore to.
. "$BLKSNAP_SRC/tests/lib/common.sh"
. "$BLKSNAP_SRC/tests/lib/dbus-env.sh"
. "$BLKSNAP_SRC/tests/lib/blksnapctl.sh"
. "$BLKSNAP_SRC/tests/lib/backup-round-trip.sh"

ext4=$DISK1 xfs=$DISK2 pooldev=$DISK3 new_ext4=$DISK4 new_xfs=$DISK5
B=/tmp/backups
POINTS=3
failed=0 finished=0 started=$SECONDS

demo_report() {
	echo
	echo "=== report: $POINTS points of $(rt_name ext4) (ext4) and $(rt_name xfs) (xfs), backed up together by $BACKUP_USER ==="
	rt_report "$POINTS"
	if [ "$finished" = 1 ] && [ "$failed" = 0 ]; then
		echo "verdict: PASS ($((SECONDS - started)) s in the VM)"
	elif [ "$finished" = 1 ]; then
		echo "verdict: FAIL ($failed checks failed: see FAIL above)"
	else
		echo "verdict: FAIL (the demo stopped early: see FAIL above)"
	fi
}

# check WHAT COMMAND...: run COMMAND; count a failure without stopping
check() {
	local what=$1
	shift
	if "$@"; then
		echo "ok: $what"
	else
		echo "FAIL: $what" >&2
		failed=$((failed + 1))
	fi
}

step "a user without root: blksnap-backup, in the group blksnap-backup"
mount -o remount,rw / 2>/dev/null || :
BACKUP_USER=blksnap-backup
getent group blksnap-backup >/dev/null || groupadd --system blksnap-backup
getent passwd "$BACKUP_USER" >/dev/null ||
	useradd --system --no-create-home --home-dir /tmp --shell /bin/sh -g blksnap-backup "$BACKUP_USER"
id "$BACKUP_USER"
ctl_service_start
on_exit demo_report
echo "polkit rules: $POLKIT_RULES (polkit/50-blksnap-backup.rules.example)"
ctl_as "$BACKUP_USER" status

step "ext4 on $ext4 and xfs on $xfs, mounted; a storage pool on $pooldev; writers start"
rt_arrange "$ext4" "$xfs" "$pooldev" "$B" "$BACKUP_USER"
rt_writers_start
df -h "$RT_MNT/ext4" "$RT_MNT/xfs" | sed 's/^/  /'

step "backup 0: full, of both devices in one snapshot, as $BACKUP_USER (no root)"
rt_backup_point 0
step "more writes, then backup 1: incremental"
sleep 3
rt_backup_point 1
step "more writes, then backup 2: incremental"
sleep 3
rt_backup_point 2
rt_writers_stop

step "the chains: blksnapctl list, qemu-img info --backing-chain, blksnapctl verify"
ctl_as "$BACKUP_USER" list "$B"
last=$(printf '%04d.qcow2' $((POINTS - 1)))
for fs in ext4 xfs; do
	d=$B/$(rt_name "$fs")
	echo
	echo "$ qemu-img info --backing-chain $d/$last"
	qemu-img info --backing-chain "$d/$last" | grep -E '^(image|file format|virtual size|disk size|backing file):'
done
echo
check "blksnapctl verify $B" ctl_as "$BACKUP_USER" verify "$B"
for fs in ext4 xfs; do
	for img in "$B/$(rt_name "$fs")"/*.qcow2; do
		check "qemu-img check $img" qemu-img check -q "$img"
	done
done

step "mount point 1 of ext4 straight from its qcow2, read-only, with qemu-nbd"
img=$B/$(rt_name ext4)/0001.qcow2
modprobe nbd
qemu-nbd --read-only --connect=/dev/nbd0 "$img"
udevadm settle 2>/dev/null || sleep 1
mkdir -p /tmp/nbd
if mount -o ro /dev/nbd0 /tmp/nbd; then
	find /tmp/nbd -type f ! -path '*/lost+found/*' -printf '  %P: %s bytes\n' | sort
	check "the files of $img are those of take 1" cmp -s "$RT/sums.1.ext4" <(fs_sums /tmp/nbd)
	umount /tmp/nbd
else
	check "mount -o ro /dev/nbd0 ($img)" false
fi
qemu-nbd --disconnect /dev/nbd0 >/dev/null

step "restore every point to new disks ($new_ext4, $new_xfs) and check it"
rt_check_all "$POINTS" "$new_ext4" "$new_xfs" || failed=$((failed + 1))
# shellcheck disable=SC2016 # evaluated by check
check "the files changed between the points" \
	eval '! cmp -s "$RT/sums.0.ext4" "$RT/sums.1.ext4" && ! cmp -s "$RT/sums.1.xfs" "$RT/sums.2.xfs"'
# shellcheck disable=SC2016
check "no snapshot is left" eval '[ -z "$(nl snapshot-list)" ]'

finished=1
[ "$failed" = 0 ]
