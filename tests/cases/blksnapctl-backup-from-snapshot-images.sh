#!/bin/bash
# disks: 64M 64M 64M 64M
# timeout: 900
# kernels: first
#
# blksnapctl backs up real snapshot images: a full backup from the image of
# a first snapshot while the device is written to, then an incremental from
# a second snapshot with the extents the frozen CBT map marks after the
# first snap number; both points restore to block devices byte for byte as
# the images were, and the chain passes verify and qemu-img check.
. "$BLKSNAP_SRC/tests/lib/common.sh"
. "$BLKSNAP_SRC/tests/lib/blksnapctl.sh"

dev=$DISK1 storage=$DISK2
B=$WORK/backups
chain=$B/$(basename "$dev")

load_module
dd if=/dev/urandom of="$dev" bs=1M count=8 oflag=direct status=none
dd if=/dev/urandom of="$dev" bs=1M seek=40 count=4 oflag=direct status=none
nl attach "$dev" 4096 >/dev/null

# take_snapshot -> sets id, img, gen, snap of a new snapshot of $dev
take_snapshot() {
	local info
	id=$(snap_field snapshot "$(nl snapshot-create "$dev" --chunk-size 65536)")
	nl snapshot-append "$id" "$storage:0+$(sectors "$storage")" >/dev/null
	info=$(nl snapshot-take "$id")
	img=$(snap_image "$dev" "$info")
	gen=$(snap_device_field generation "$dev" "$info")
	snap=$(snap_device_field snap "$dev" "$info")
	echo "snapshot $id: image $img generation $gen snap $snap"
}

step "snapshot 1; the device is written while its image is backed up in full"
take_snapshot
gen1=$gen snap1=$snap
dd if="$img" of="$WORK/p0" bs=1M iflag=direct status=none
dd if=/dev/urandom of="$dev" bs=1M seek=20 count=1 oflag=direct status=none
dd if=/dev/urandom of="$dev" bs=4k seek=1025 count=2 oflag=direct status=none
"$CTL" backup "$dev" --from-image "$img" --generation "$gen" --snap-number "$snap" --to "$B"
cmp "$img" "$WORK/p0" || fail "the image changed while it was backed up"
nl snapshot-destroy "$id"
assert_eq "kind of backup 0" full "$(jq -r '.backups[0].kind' "$chain/chain.json")"

step "more writes: 64 KiB zeroed at 40 MiB; snapshot 2"
dd if=/dev/zero of="$dev" bs=64k seek=640 count=1 oflag=direct status=none
take_snapshot
assert_eq "generation of snapshot 2" "$gen1" "$gen"
dd if="$img" of="$WORK/p1" bs=1M iflag=direct status=none

step "the changed extents: blocks of the frozen map with a value > $snap1, in bytes"
map=$(nl map --snapshot "$id" "$dev")
echo "$map"
bs=$(field block_size "$(nl get "$dev")")
assert_eq "block size" 4096 "$bs"
# START+COUNT=VALUE in blocks -> merged byte extents "OFFSET LENGTH"
extents=$(grep -v '^generation=' <<<"$map" | tr '+=' '  ' |
	awk -v s="$snap1" -v bs="$bs" '$3 > s {
		o = $1 * bs; l = $2 * bs
		if (n && o == po + pl) { pl += l } else { if (n) print po, pl; po = o; pl = l; n = 1 }
	} END { if (n) print po, pl }')
echo "changed: $extents"
assert_eq "changed extents" "4198400 8192
20971520 1048576
41943040 65536" "$extents"
# shellcheck disable=SC2086
extents_file "$WORK/changed" $extents

step "incremental backup from snapshot 2"
"$CTL" backup "$dev" --from-image "$img" --generation "$gen" --snap-number "$snap" \
	--extents-file "$WORK/changed" --to "$B"
nl snapshot-destroy "$id"
assert_eq "kind, changed bytes and backing of backup 1" "incremental 1122304 0000.qcow2" \
	"$(jq -r '.backups[1] | "\(.kind) \(.changed_bytes) \(.backing)"' "$chain/chain.json")"

step "both points restore to block devices as the images were"
"$CTL" restore "$chain@0" --to "$DISK3"
"$CTL" restore "$chain" --to "$DISK4"
cmp "$DISK3" "$WORK/p0" || fail "backup 0 restored to $DISK3 differs from snapshot 1's image"
cmp "$DISK4" "$WORK/p1" || fail "backup 1 restored to $DISK4 differs from snapshot 2's image"
echo "ok: $DISK3 = snapshot 1, $DISK4 = snapshot 2, byte for byte"
assert_chain_sound "$chain"
"$CTL" list "$B"

nl detach "$dev"
unload_module
echo "PASS"
