#!/bin/bash
# disks: 64M 64M 64M
# timeout: 600
#
# Storage whose writes would come back into a snapshot is refused with
# ELOOP and an extack naming the attribute, and nothing changes: a
# dm-linear device over a snapshotted disk as a range, a loop device over a
# file on a snapshotted disk's file system (for that snapshot and for
# another), a range of a device of another snapshot, and a file on an
# overlayfs whose upper directory is on a snapshotted disk.  The same kinds
# of storage over devices in no snapshot (a range of the snapshot's own
# device, an overlayfs on tmpfs, a loop device over a tmpfs file) are
# accepted.
. "$BLKSNAP_SRC/tests/lib/common.sh"

load_module
a=$DISK1 b=$DISK2 free=$DISK3
modprobe dm_mod
modprobe loop
mkdir -p /tmp/b /tmp/lower /tmp/upper-b /tmp/work-b /tmp/merged-b \
	/tmp/upper-t /tmp/work-t /tmp/merged-t

step "arrange: snapshot 1 of $a (no file system), snapshot 2 of $b (ext4, mounted)"
mkfs.ext4 -q -F -b 4096 -E lazy_itable_init=0,lazy_journal_init=0 "$b"
mount "$b" /tmp/b
dd if=/dev/zero of=/tmp/b/loopfile bs=1M count=8 status=none
sync
nl attach "$a" >/dev/null
nl attach "$b" >/dev/null
s1=$(snap_field snapshot "$(nl snapshot-create "$a")")
s2=$(snap_field snapshot "$(nl snapshot-create "$b")")

step "a dm-linear device over the snapshotted disk $a, as a range"
echo "0 $(sectors "$a") linear $a 0" | dmsetup create blksnap-over-a
dmsetup mknodes blksnap-over-a
dm=$(readlink -f /dev/mapper/blksnap-over-a)
[ -b "$dm" ] || fail "no dm device"
expect_refused ELOOP "would recurse" nl snapshot-append "$s1" "$dm:0+2048"
expect_refused ELOOP "would recurse" nl snapshot-append "$s2" "$dm:0+2048"

step "a loop device over a file on the file system of snapshotted $b"
loop_b=$(losetup -f --show /tmp/b/loopfile)
expect_refused ELOOP "would recurse" nl snapshot-append "$s2" "$loop_b:0+2048"
expect_refused ELOOP "would recurse" nl snapshot-append "$s1" "$loop_b:0+2048"

step "a range of a device of another snapshot"
expect_refused ELOOP "another snapshot" nl snapshot-append "$s1" "$b:0+2048"
expect_refused ELOOP "another snapshot" nl snapshot-append "$s2" "$a:0+2048"

step "a file on an overlayfs whose upper directory is on snapshotted $b"
mkdir -p /tmp/b/upper /tmp/b/work
mount -t overlay overlay -o lowerdir=/tmp/lower,upperdir=/tmp/b/upper,workdir=/tmp/b/work \
	/tmp/merged-b
expect_refused ELOOP "would recurse" nl snapshot-append "$s2" --file /tmp/merged-b/storage 4096
expect_refused ELOOP "would recurse" nl snapshot-append "$s1" --file /tmp/merged-b/storage 4096

step "accepted: a range of the snapshot's own device, a free disk, tmpfs under overlayfs and loop"
mount -t overlay overlay -o lowerdir=/tmp/lower,upperdir=/tmp/upper-t,workdir=/tmp/work-t \
	/tmp/merged-t
truncate -s 8M /tmp/loopfile-t
loop_t=$(losetup -f --show /tmp/loopfile-t)
nl snapshot-append "$s1" "$a:100000+2048" >/dev/null
nl snapshot-append "$s1" "$free:0+2048" >/dev/null
nl snapshot-append "$s1" --file /tmp/merged-t/storage 4096 >/dev/null
nl snapshot-append "$s1" "$loop_t:0+2048" >/dev/null
assert_eq "storage of snapshot 1" $((3 * 2048 + 4096)) \
	"$(snap_field storage_total "$(nl snapshot-get "$s1")")"

nl snapshot-destroy "$s1"
nl snapshot-destroy "$s2"
umount /tmp/merged-b /tmp/merged-t
losetup -d "$loop_b" "$loop_t"
dmsetup remove blksnap-over-a
umount /tmp/b
nl detach "$a"
nl detach "$b"
unload_module
