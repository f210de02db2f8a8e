#!/bin/bash
# disks: 256M 256M
# timeout: 300
#
# Trackers on a whole disk, on a partition of another disk and on that
# disk itself: direct and buffered dd writes, a write that spans two
# blocks, discards and write-zeroes mark exactly the blocks they touch,
# in each device's own sector space; reads mark nothing.
. "$BLKSNAP_SRC/tests/lib/common.sh"

load_module

step "partition the second disk: vdb1 at sector 2048, 100 MiB; vdb2 after it"
printf 'label: dos\nstart=2048, size=204800, type=83\nstart=206848, type=83\n' |
	sfdisk -q "$DISK2"
blockdev --rereadpt "$DISK2"
part1=${DISK2}1 part2=${DISK2}2
[ -b "$part1" ] && [ -b "$part2" ] || fail "no partitions on $DISK2"

step "attach with 4 KiB blocks"
info=$(nl attach "$DISK1" 4096)
assert_eq "block size" 4096 "$(field block_size "$info")"
assert_eq "block count" 65536 "$(field block_count "$info")"
assert_eq "capacity" 524288 "$(field capacity "$info")"
assert_eq "snap number" 1 "$(field snap "$info")"
assert_eq "dev" "$(devnum "$DISK1")" "$(field dev "$info")"
nl attach "$part1" 4096 >/dev/null
nl attach "$DISK2" 4096 >/dev/null
assert_eq "trackers listed" 3 "$(nl list | wc -l)"
assert_eq "fresh map is clean" "" "$(changed_blocks "$DISK1")"

step "reads mark nothing"
dd if="$DISK1" of=/dev/null bs=1M count=64 status=none
dd if="$DISK1" of=/dev/null bs=4096 count=100 iflag=direct status=none
assert_eq "map after reads" "" "$(changed_blocks "$DISK1")"

step "writes to the whole disk"
write_random "$DISK1" 4096 10 1 oflag=direct    # block 10
write_random "$DISK1" 4096 100 3 conv=fsync     # blocks 100-102, buffered
write_random "$DISK1" 512 7 2 oflag=direct      # sectors 7-8: blocks 0 and 1
write_random "$DISK1" 1M 64 1 oflag=direct      # 64 MiB: blocks 16384-16639
blkdiscard -o $((200 * 4096)) -l $((8 * 4096)) "$DISK1"    # blocks 200-207
blkdiscard -z -o $((300 * 4096)) -l $((2 * 4096)) "$DISK1" # blocks 300-301
expected="0+2=1
10+1=1
100+3=1
200+8=1
300+2=1
16384+256=1"
assert_eq "whole-disk map" "$expected" "$(changed_blocks "$DISK1")"

step "writes to a partition mark the partition and the whole disk"
write_random "$part1" 4096 0 1 oflag=direct     # vdb1 block 0
write_random "$part1" 4096 2048 2 oflag=direct  # vdb1 blocks 2048-2049
write_random "$part2" 4096 0 1 oflag=direct     # vdb2 block 0: not in vdb1
assert_eq "partition map" "0+1=1
2048+2=1" "$(changed_blocks "$part1")"
# vdb1 starts at sector 2048 = block 256; vdb2 at sector 206848 = 25856.
assert_eq "disk map under the partitions" "256+1=1
2304+2=1
25856+1=1" "$(changed_blocks "$DISK2")"

step "map slices: offset and length"
assert_eq "slice" "100+3=1" "$(nl map "$DISK1" 50 100 | grep -v '^generation=')"
assert_eq "slice length" "blocks=100" \
	"$(nl map "$DISK1" 50 100 | sed -n 's/^generation=[^ ]* //p')"

step "detach; every object is gone"
nl detach "$DISK1"
nl detach "$part1"
nl detach "$DISK2"
assert_eq "trackers listed" "" "$(nl list)"
unload_module
