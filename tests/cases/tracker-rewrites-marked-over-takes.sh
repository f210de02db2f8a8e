#!/bin/bash
# disks: 64M 64M
# timeout: 300
#
# Marks of rewrites and of writes over blocks in different states: a
# rewrite of a block with the current snap number leaves the map as it is;
# a write that spans marked and unmarked blocks marks them all, the middle
# one included; after a take, a rewrite of a block marked with the old
# number marks the new one, a partial one too; after a reset, the new map
# is marked again from nothing.  The maps a faster cbt_map_mark() (one
# that skips blocks marked already, say) must still give.
. "$BLKSNAP_SRC/tests/lib/common.sh"

wr() { write_random "$1" "$3" "$2" 1 oflag=direct,seek_bytes; } # DEV START LENGTH, bytes
K=4096

load_module
nl attach "$DISK1" 4096 >/dev/null

step "rewrites of marked blocks, writes across marked and unmarked ones"
wr "$DISK1" $((5 * K)) $K
wr "$DISK1" $((5 * K)) $K
assert_eq "a rewritten block" "5+1=1" "$(changed_blocks "$DISK1")"
wr "$DISK1" $((5 * K)) $((2 * K))       # 5 marked, 6 not
wr "$DISK1" $((10 * K)) $K
wr "$DISK1" $((12 * K)) $K
wr "$DISK1" $((10 * K)) $((3 * K))      # 10 and 12 marked, 11 not
wr "$DISK1" $((10 * K)) $((3 * K))
assert_eq "spans" "5+2=1
10+3=1" "$(changed_blocks "$DISK1")"

step "after a take, rewrites mark the new number"
read -r id _ <<<"$(snap_take_alone "$DISK1" "$DISK2")"
wr "$DISK1" $((5 * K)) $K
wr "$DISK1" $((11 * K + 1536)) 512      # one sector of block 11
wr "$DISK1" $((11 * K + 1536)) 512
assert_eq "old and new numbers" "5+1=2
6+1=1
10+1=1
11+1=2
12+1=1" "$(changed_blocks "$DISK1")"
wr "$DISK1" $((4 * K)) $((4 * K))       # 4 and 7 new, 5 at 2, 6 at 1
assert_eq "a span over both numbers" "4+4=2
10+1=1
11+1=2
12+1=1" "$(changed_blocks "$DISK1")"
nl snapshot-destroy "$id"

step "after a reset, the new map is marked from nothing"
nl reset "$DISK1" >/dev/null
assert_eq "map after the reset" "" "$(changed_blocks "$DISK1")"
wr "$DISK1" $((5 * K)) $K
wr "$DISK1" $((5 * K)) $K
assert_eq "a rewrite after the reset" "5+1=1" "$(changed_blocks "$DISK1")"

nl detach "$DISK1"
unload_module
