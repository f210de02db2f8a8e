#!/bin/bash
# disks: 64M 64M 128M 64M
# timeout: 600
#
# Every bad snapshot request is refused with a precise errno and an extack
# message and changes nothing (neither the snapshots nor the trackers):
# bad device sets and chunk sizes on create, take without storage or twice,
# unknown and destroyed snapshot ids, frozen maps that do not exist, bad
# storage ranges and files, storage that would feed the snapshot into
# itself, destroy of an image in use, and callers without privileges.
. "$BLKSNAP_SRC/tests/lib/common.sh"

load_module
a=$DISK1 b=$DISK2 store=$DISK3 untracked=$DISK4
store_end=$(sectors "$store")
mkdir -p /tmp/b /tmp/img
mkfs.ext4 -q -F -b 4096 -E lazy_itable_init=0,lazy_journal_init=0 "$a"
mkfs.ext4 -q -F -b 4096 -E lazy_itable_init=0,lazy_journal_init=0 "$b"
mount "$b" /tmp/b
nl attach "$a" >/dev/null
nl attach "$b" >/dev/null
unknown=0b1e5a1d-0000-4000-8000-00000000beef

state() {
	nl snapshot-list
	echo --
	nl list
}

# refused ERRNO TEXT COMMAND...: expect_errno, and nothing changed.
refused() {
	local before
	before=$(state)
	expect_errno "$@"
	assert_eq "snapshots and trackers after: ${*:3}" "$before" "$(state)"
}

step "create: devices that are not tracked, given twice, or none"
refused ENOENT "device is not tracked" nl snapshot-create "$untracked"
refused ENOENT "device is not tracked" nl snapshot-create "$a" "$untracked"
refused EINVAL "twice" nl snapshot-create "$a" "$a"
refused EINVAL "twice" nl snapshot-create "$a" "$(devnum "$a")"
# No device: the kernel names the missing attribute (device, 18).
refused EINVAL "missing-attr: type=18" nl raw snapshot-create
refused EINVAL "missing-attr: type=18" nl raw snapshot-create chunk-size=u32:65536
refused EINVAL "device missing" nl raw snapshot-create device=nest:
refused EINVAL "device missing" nl raw snapshot-create device=nest:dev-minor=u32:0

step "create: chunk sizes"
refused EINVAL "power of two" nl snapshot-create "$a" --chunk-size 12288
refused ERANGE "integer out of range" nl snapshot-create "$a" --chunk-size 2048
refused ERANGE "integer out of range" nl snapshot-create "$a" --chunk-size 16777216

step "create: a device already in a snapshot"
info=$(nl snapshot-create "$a" --chunk-size 65536)
s1=$(snap_field snapshot "$info")
assert_eq "chunk size" 65536 "$(snap_field chunk_size "$info")"
refused EBUSY "already in a snapshot" nl snapshot-create "$a"
refused EBUSY "already in a snapshot" nl snapshot-create "$b" "$a"
info=$(nl snapshot-create "$b")
s2=$(snap_field snapshot "$info")

step "take without storage; the frozen map of a snapshot not taken"
refused ENOSPC "no difference storage" nl snapshot-take "$s1"
refused ENODATA "snapshot is not taken yet" nl map --snapshot "$s1" "$a"

step "append: storage ranges past the end, overlapping, smaller than a chunk"
refused ERANGE "past the end" nl snapshot-append "$s1" "$store:$store_end+128"
refused ERANGE "past the end" nl snapshot-append "$s1" "$store:$((store_end - 64))+128"
refused ERANGE "past the end" nl snapshot-append "$s1" "$store:0+2048" "$store:$store_end+128"
refused ERANGE "integer out of range" nl snapshot-append "$s1" "$store:0+0"
refused EBUSY "overlaps" nl snapshot-append "$s1" "$store:0+2048" "$store:1024+2048"
refused EBUSY "overlaps" nl snapshot-append "$s1" "$store:0+2048" "$(devnum "$store"):0+2048"
refused EINVAL "smaller than a chunk" nl snapshot-append "$s1" "$store:0+64"

step "append: both ranges and a file, or neither; a file that is not regular"
refused EINVAL "either" nl snapshot-append "$s1" "$store:0+2048" --file /tmp/storage 2048
refused EINVAL "either" nl snapshot-append "$s1"
refused EINVAL "regular file" nl snapshot-append "$s1" --file /dev/null 2048
refused ERANGE "integer out of range" nl snapshot-append "$s1" --file /tmp/storage 0

step "append: storage another snapshot has; a file on a device of the same snapshot"
nl snapshot-append "$s1" "$store:0+65536" >/dev/null
refused EBUSY "overlaps" nl snapshot-append "$s1" "$store:0+2048"
refused EBUSY "overlaps" nl snapshot-append "$s2" "$store:65408+2048"
dd if=/dev/zero of=/tmp/b/storage bs=1M count=1 status=none
refused ELOOP "a file on a device of this snapshot" nl snapshot-append "$s2" --file /tmp/b/storage 2048

step "take twice; storage on a snapshot image"
info=$(nl snapshot-take "$s1")
img=$(snap_image "$a" "$info")
refused EALREADY "already taken" nl snapshot-take "$s1"
refused EINVAL "device is not in the snapshot" nl map --snapshot "$s1" "$b"
refused ELOOP "storage on a snapshot image" nl snapshot-append "$s2" "$img:0+2048"

step "unknown and destroyed snapshot ids"
nl snapshot-destroy "$s2"
for id in "$unknown" "$s2"; do
	refused ENOENT "no such snapshot" nl snapshot-take "$id"
	refused ENOENT "no such snapshot" nl snapshot-get "$id"
	refused ENOENT "no such snapshot" nl snapshot-destroy "$id"
	refused ENOENT "no such snapshot" nl snapshot-append "$id" "$store:100000+2048"
	refused ENOENT "no such snapshot" nl map --snapshot "$id" "$a"
done

step "callers without privileges"
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
for op in "snapshot-create $b" "snapshot-append $s1 $store:100000+2048" \
	"snapshot-take $s1" "snapshot-destroy $s1" "map --snapshot $s1 $a"; do
	# shellcheck disable=SC2086
	refused EPERM - nobody "$NL" $op
done
nosysadmin() { setpriv --bounding-set=-sys_admin --inh-caps=-sys_admin "$@"; }
for op in "snapshot-create $b" "snapshot-append $s1 $store:100000+2048" \
	"snapshot-take $s1" "snapshot-destroy $s1"; do
	# shellcheck disable=SC2086
	refused EPERM "CAP_SYS_ADMIN is required" nosysadmin "$NL" $op
done
assert_eq "snapshot-list for anyone" "$(nl snapshot-list)" "$(nobody "$NL" snapshot-list)"

step "destroy while an image is mounted, then after umount"
mount -o ro "$img" /tmp/img
refused EBUSY "image is open" nl snapshot-destroy "$s1"
umount /tmp/img
nl snapshot-destroy "$s1"
assert_eq "snapshots at the end" "" "$(nl snapshot-list)"

umount /tmp/b
nl detach "$a"
nl detach "$b"
unload_module
