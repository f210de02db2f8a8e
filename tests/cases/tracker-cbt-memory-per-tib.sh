#!/bin/bash
# disks: 64M
# timeout: 300
#
# At the default block size a CBT map costs at most 1 MiB of memory (the
# cbt_map_bytes count in debugfs) per TiB of a device of 1 TiB or more, and
# at most 1 MiB on a smaller one, where blocks stay as small as that
# allows: dm "zero" devices of 1, 4 and 16 TiB and of 200 GiB, tracked
# with the default block size; an explicit small block size still gets
# the finer map it asks for.
. "$BLKSNAP_SRC/tests/lib/common.sh"

MIB=1048576
TIB_SECTORS=$((1 << 31))

map_bytes() {
	awk '$1 == "cbt_map_bytes" { print $2 }' "$OBJECTS"
}

# zero_dev NAME SECTORS -> /dev/dm-N, a dm "zero" device of that size
zero_dev() {
	dmsetup create "$1" --table "0 $2 zero"
	echo "/dev/$(dmsetup info -c --noheadings -o blkdevname "$1")"
}

load_module
modprobe dm-mod

for tib in 1 4 16; do
	step "arrange: a $tib TiB device; act: track it with the default block size"
	dev=$(zero_dev blksnap-big $((tib * TIB_SECTORS)))
	info=$(nl attach "$dev")
	echo "$info"
	bytes=$(map_bytes)
	echo "cbt_map_bytes $bytes: $((bytes / tib)) bytes per TiB"
	step "assert: at most 1 MiB of map per TiB, and the map is the count"
	[ "$bytes" -le $((tib * MIB)) ] ||
		fail "$tib TiB device: $bytes bytes of CBT map, $((bytes / tib)) per TiB"
	assert_eq "map bytes = block count" "$(field block_count "$info")" "$bytes"
	nl detach "$dev"
	dmsetup remove blksnap-big
done

step "arrange: a 200 GiB device; act: track it with the default block size"
dev=$(zero_dev blksnap-big $((200 << 21)))
info=$(nl attach "$dev")
bytes=$(map_bytes)
step "assert: at most 1 MiB of map, with the smallest block size for it"
[ "$bytes" -le $MIB ] || fail "200 GiB device: $bytes bytes of CBT map"
assert_eq "block size" 262144 "$(field block_size "$info")"
nl detach "$dev"

step "act: the same with 64 KiB blocks asked for; assert: the finer map"
info=$(nl attach "$dev" 65536)
assert_eq "map bytes" $((200 << 14)) "$(map_bytes)"
nl detach "$dev"
dmsetup remove blksnap-big
unload_module
