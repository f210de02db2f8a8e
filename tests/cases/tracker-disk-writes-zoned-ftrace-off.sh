#!/bin/bash
# disks: 64M 64M
# timeout: 600
#
# Writes that could bypass tracking do not: a write through the whole disk
# into a tracked partition is marked in the partition's map (in its own
# sector space) and copied for its snapshot (for each partition it crosses,
# each in a snapshot of its own); "sysctl kernel.ftrace_enabled=0"
# is refused while the filter is hooked, and writes go on being tracked; a
# zoned device is refused at attach with EOPNOTSUPP and a message saying so.
. "$BLKSNAP_SRC/tests/lib/common.sh"

disk=$DISK1
part=${disk}2
mib=2048 # sectors

load_module
step "arrange: two partitions, the second (at 17 MiB) tracked alone"
printf 'start=2048, size=%s\nstart=%s, size=%s\n' $((16 * mib)) $((17 * mib)) $((32 * mib)) |
	sfdisk --quiet "$disk"
[ -b "$part" ] || fail "no partition $part"
dd if=/dev/urandom of="$disk" bs=1M count=64 oflag=direct status=none
nl attach "$part" >/dev/null

step "act: 64 KiB written through the whole disk at 128 KiB into the partition"
dd if=/dev/zero of="$disk" bs=64k seek=$(((17 * 1024 + 128) / 64)) count=1 \
	oflag=direct status=none
step "assert: blocks 32..47 of the partition are marked, nothing else"
assert_eq "changed blocks" "32+16=1" "$(changed_blocks "$part")"

step "act: the same, across the partition's start (it gets its first 4 KiB)"
dd if=/dev/zero of="$disk" bs=4k seek=$((17 * 256 - 1)) count=2 oflag=direct status=none
assert_eq "changed blocks" "$(printf '0+1=1\n32+16=1')" "$(changed_blocks "$part")"

step "arrange: a taken snapshot of the partition"
id=$(snap_field snapshot "$(nl snapshot-create "$part")")
nl snapshot-append "$id" "$DISK2:0+$(sectors "$DISK2")" >/dev/null
img=$(snap_image "$part" "$(nl snapshot-take "$id")")
before=$(md5sum <"$img")
copied=$(counter chunks_copied)
step "act: 64 KiB written through the whole disk at 8 MiB of the partition"
dd if=/dev/zero of="$disk" bs=64k seek=$(((17 + 8) * 16)) count=1 oflag=direct status=none
step "assert: its chunk was copied; the image did not change"
assert_eq "chunks copied" 1 $(($(counter chunks_copied) - copied))
assert_eq "the image" "$before" "$(md5sum <"$img")"
assert_match "marked with the next snap number" "^2048\+16=2$" "$(changed_blocks "$part")"
nl snapshot-destroy "$id"

step "arrange: the first partition tracked too; each in a snapshot of its own"
p1=${disk}1
nl attach "$p1" >/dev/null
half=$(($(sectors "$DISK2") / 2))
ids=() imgs=() sums=()
for i in 0 1; do
	p=$([ "$i" = 0 ] && echo "$p1" || echo "$part")
	ids+=("$(snap_field snapshot "$(nl snapshot-create "$p")")")
	nl snapshot-append "${ids[i]}" "$DISK2:$((i * half))+$half" >/dev/null
	imgs+=("$(snap_image "$p" "$(nl snapshot-take "${ids[i]}")")")
	sums+=("$(md5sum <"${imgs[i]}")")
done
copied=$(counter chunks_copied)
step "act: 128 KiB through the whole disk across the two partitions"
dd if=/dev/zero of="$disk" bs=64k seek=$((17 * 16 - 1)) count=2 oflag=direct status=none
step "assert: the last chunk of one and the first of the other were copied"
assert_eq "chunks copied" 2 $(($(counter chunks_copied) - copied))
for i in 0 1; do
	assert_eq "image $i" "${sums[i]}" "$(md5sum <"${imgs[i]}")"
	nl snapshot-destroy "${ids[i]}"
done
nl detach "$p1"

step "act: sysctl kernel.ftrace_enabled=0 while tracking"
rc=0
out=$(sysctl -w kernel.ftrace_enabled=0 2>&1) || rc=$?
echo "sysctl: exit $rc: $out"
assert_eq "ftrace_enabled" 1 "$(cat /proc/sys/kernel/ftrace_enabled)"
[ "$rc" != 0 ] || fail "sysctl kernel.ftrace_enabled=0 succeeded"
dd if=/dev/zero of="$part" bs=4k seek=4000 count=1 oflag=direct status=none
assert_match "a write after it is still tracked" "^4000\+1=3$" "$(changed_blocks "$part")"
nl detach "$part"

step "a zoned device is refused"
modprobe null_blk nr_devices=1 zoned=1 zone_size=4 gb=1
[ -b /dev/nullb0 ] || fail "no zoned null_blk device"
assert_eq "zoned" host-managed "$(cat /sys/block/nullb0/queue/zoned)"
expect_errno EOPNOTSUPP "zoned devices cannot be tracked" nl attach /dev/nullb0
rmmod null_blk
unload_module
