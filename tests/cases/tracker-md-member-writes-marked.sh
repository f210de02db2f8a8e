#!/bin/bash
# disks: 64M 64M
# timeout: 300
#
# A stacked driver may send a write on to its member as the very bio it
# received (md raid0 does on 6.1 when the array keeps no I/O statistics).
# With both the array and its member tracked, the array's write comes
# back through the filter as a bio the module holds already: it is a new
# write of the member all the same, marked in the member's map and copied
# for the member's snapshot; and a snapshot of the array and the member
# together keeps both points in time.  All of it twice: with the writes
# held in place (their end_io taken over) and, hold_in_place=0, each by a
# clone (what the module falls back to when memory is short).
. "$BLKSNAP_SRC/tests/lib/common.sh"

member=$DISK1 store=$DISK2
md=/sys/block/md0/md

step "arrange: md0, a raid0 of one member ($member) made through sysfs, no I/O statistics"
load_module
modprobe raid0
echo md0 >/sys/module/md_mod/parameters/new_array
echo none >$md/metadata_version
echo raid0 >$md/level
echo 65536 >$md/chunk_size
echo 1 >$md/raid_disks
devnum "$member" >$md/new_dev
echo $(($(sectors "$member") / 2)) >"$(echo $md/dev-*)/size"
echo 0 >"$(echo $md/dev-*)/slot"
echo active >$md/array_state
[ -b /dev/md0 ] || fail "no /dev/md0"
echo 0 >/sys/block/md0/queue/iostats
dd if=/dev/urandom of=/dev/md0 bs=1M count=32 oflag=direct status=none

# round: track both, and every check; detach both
round() {
	local id info img img_md img_member before before_md before_member
	step "act: track the member and the array; write 4 KiB at block 10 of md0"
	nl attach "$member" 4096 >/dev/null
	nl attach /dev/md0 4096 >/dev/null
	dd if=/dev/urandom of=/dev/md0 bs=4096 seek=10 count=1 oflag=direct status=none
	step "assert: block 10 is marked in both maps"
	assert_eq "md0's map" "10+1=1" "$(changed_blocks /dev/md0)"
	assert_eq "the member's map" "10+1=1" "$(changed_blocks "$member")"

	step "arrange: a snapshot of the member alone (the array tracked)"
	read -r id img <<<"$(snap_take_alone "$member" "$store")"
	before=$(device_sum "$member")
	step "act: 1 MiB written through md0 at 4 MiB"
	dd if=/dev/urandom of=/dev/md0 bs=1M seek=4 count=1 oflag=direct status=none
	step "assert: the member's image is the member before the write"
	assert_eq "state" "taken error=0" "$(snap_state "$id")"
	assert_eq "image of the member" "$before" "$(device_sum "$img")"
	assert_eq "the member's map after the take" "$(printf '10+1=1\n1024+256=2')" \
		"$(changed_blocks "$member")"
	nl snapshot-destroy "$id"

	step "arrange: one snapshot of the array and its member together"
	info=$(nl snapshot-create /dev/md0 "$member" --chunk-size 65536)
	id=$(snap_field snapshot "$info")
	nl snapshot-append "$id" "$store:0+$(sectors "$store")" >/dev/null
	info=$(nl snapshot-take "$id")
	img_md=$(snap_image /dev/md0 "$info")
	img_member=$(snap_image "$member" "$info")
	before_md=$(device_sum /dev/md0)
	before_member=$(device_sum "$member")
	step "act: 2 MiB written through md0 at 8 MiB, 4 KiB at 20 MiB"
	dd if=/dev/urandom of=/dev/md0 bs=1M seek=8 count=2 oflag=direct status=none
	dd if=/dev/urandom of=/dev/md0 bs=4096 seek=5120 count=1 oflag=direct status=none
	step "assert: both images are their devices at the take"
	assert_eq "state" "taken error=0" "$(snap_state "$id")"
	assert_eq "image of md0" "$before_md" "$(device_sum "$img_md")"
	assert_eq "image of the member" "$before_member" "$(device_sum "$img_member")"
	nl snapshot-destroy "$id"
	nl detach /dev/md0
	nl detach "$member"
}

step "with the writes held in place"
round
step "with each write held by a clone (hold_in_place=0)"
echo 0 >/sys/module/blksnap/parameters/hold_in_place
clones=$(counter writes_held_by_clone)
round
[ "$(counter writes_held_by_clone)" -gt "$clones" ] || fail "no write held by a clone"
echo 1 >/sys/module/blksnap/parameters/hold_in_place

step "tear down"
echo clear >$md/array_state
echo md0 >/sys/module/md_mod/parameters/new_array 2>/dev/null || :
unload_module
