#!/bin/bash
# disks: 64M 128M
# timeout: 600
#
# Difference storage that the images could not use correctly is refused
# with a precise errno and an extack naming the attribute, and nothing
# changes: ranges overlapping through a partition and its disk (in
# whole-disk sectors), a device with larger logical blocks than the
# snapshot's devices (a 4Kn loop device under a 512-byte disk), a range
# not aligned to its device's logical blocks, and a storage file opened
# with O_APPEND or read-only.  Ranges that only touch are accepted.
. "$BLKSNAP_SRC/tests/lib/common.sh"

load_module
orig=$DISK1 store=$DISK2
modprobe loop

step "arrange: a partition on the storage disk at sector 2048; 4Kn loop devices"
printf 'label: dos\nstart=2048, size=102400, type=83\n' | sfdisk -q "$store"
blockdev --rereadpt "$store"
part=${store}1
[ -b "$part" ] || fail "no $part"
truncate -s 32M /tmp/4k-a.img /tmp/4k-b.img /tmp/4k-c.img
loop4k=$(losetup --sector-size 4096 -f --show /tmp/4k-a.img)
loop4k_orig=$(losetup --sector-size 4096 -f --show /tmp/4k-b.img)
loop4k_store=$(losetup --sector-size 4096 -f --show /tmp/4k-c.img)
assert_eq "logical block size of $loop4k" 4096 "$(blockdev --getss "$loop4k")"
assert_eq "logical block size of $orig" 512 "$(blockdev --getss "$orig")"
nl attach "$orig" >/dev/null
nl attach "$loop4k_orig" >/dev/null
id=$(snap_field snapshot "$(nl snapshot-create "$orig")")
id4k=$(snap_field snapshot "$(nl snapshot-create "$loop4k_orig")")

step "overlap through a partition and its disk"
nl snapshot-append "$id" "$part:0+4096" >/dev/null
# vdb1 starts at sector 2048 of vdb: vdb 2048..6143 is vdb1 0..4095.
expect_refused EBUSY "overlaps storage in use" nl snapshot-append "$id" "$store:2048+4096"
expect_refused EBUSY "overlaps storage in use" nl snapshot-append "$id" "$store:6000+4096"
expect_refused EBUSY "overlaps storage in use" nl snapshot-append "$id" "$store:0+2176"
# in one request: the disk's range and the partition's share sectors
expect_refused EBUSY "overlaps storage in use" \
	nl snapshot-append "$id" "$store:102000+2048" "$part:100000+2048"
err=$(nl snapshot-append "$id" "$store:8192+2048" "$store:2000+2048" 2>&1 >/dev/null || :)
assert_match "the extack points at an attribute" "error-attr: offset=" "$err"
# touching is not overlapping: vdb 0..2047 and vdb 6144.. are free
nl snapshot-append "$id" "$store:0+2048" "$store:6144+2048" >/dev/null

step "a storage device with larger logical blocks than the snapshot's devices"
expect_refused EINVAL "larger logical block size" nl snapshot-append "$id" "$loop4k:0+2048"

step "ranges not aligned to their device's logical blocks"
expect_refused EINVAL "not aligned" nl snapshot-append "$id4k" "$loop4k_store:1+2048"
expect_refused EINVAL "not aligned" nl snapshot-append "$id4k" "$loop4k_store:0+2049"
nl snapshot-append "$id4k" "$loop4k_store:8+2048" >/dev/null

step "storage files opened with O_APPEND or read-only"
: >/tmp/storage-file
expect_refused EINVAL "O_APPEND" nl snapshot-append "$id" --append-file /tmp/storage-file 4096
expect_refused EBADF "not open for writing" nl snapshot-append "$id" --ro-file /tmp/storage-file 4096
nl snapshot-append "$id" --file /tmp/storage-file 4096 >/dev/null

nl snapshot-destroy "$id"
nl snapshot-destroy "$id4k"
nl detach "$orig"
nl detach "$loop4k_orig"
losetup -d "$loop4k" "$loop4k_orig" "$loop4k_store"
unload_module
