#!/bin/bash
# A full backup and two incrementals of a device image restore byte for byte
# at every point (the middle one too), pass qemu-img check, verify and
# qemu-img info --backing-chain, and leave zero and unchanged space
# unallocated: the full image holds only the data, each overlay only the
# bytes of its changed extents (2 KiB subclusters), zeroed ones as zero
# clusters.  Only the owner may read the backups.  Then 300 scattered
# small extents, which share copy buffers, restore and verify too.
. "$BLKSNAP_SRC/tests/lib/common.sh"
. "$BLKSNAP_SRC/tests/lib/blksnapctl.sh"

M=$((1 << 20))
dev=$WORK/dev.img
chain=$WORK/backups/vdb
truncate -s $((32 * M)) "$dev"

step "point 0: data at 1-3 MiB and 8 MiB + 64 KiB, zeroes elsewhere; full backup"
write_random "$dev" $((1 * M)) $((2 * M))
write_random "$dev" $((8 * M)) 65536
cp "$dev" "$WORK/p0"
backup_image /dev/vdb "$dev" $GEN1 1 "$WORK/backups"
assert_eq "full image holds exactly the data" "1048576+2097152 8388608+65536" \
	"$(allocated "$chain/0000.qcow2" | tr '\n' ' ' | sed 's/ $//')"

step "point 1: 8 KiB inside the data, 1 MiB into zero space, the 64 KiB zeroed; incremental"
write_random "$dev" $((2 * M + 4096)) 8192
write_random "$dev" $((20 * M)) $M
write_zero "$dev" $((8 * M)) 65536
cp "$dev" "$WORK/p1"
extents_file "$WORK/e1" $((2 * M + 4096)) 8192 $((8 * M)) 65536 $((20 * M)) $M
backup_image /dev/vdb "$dev" $GEN1 2 "$WORK/backups" "$WORK/e1"
assert_eq "overlay 1 holds the changed bytes only" "2101248+8192 20971520+1048576" \
	"$(allocated "$chain/0001.qcow2" | tr '\n' ' ' | sed 's/ $//')"
assert_eq "the zeroed extent is a zero cluster of overlay 1" "8388608+65536" \
	"$(qemu-img map --output=json "$chain/0001.qcow2" |
		jq -r '.[] | select(.depth == 0 and .zero and (.data | not)) | "\(.start)+\(.length)"')"

step "point 2: the first 4 KiB, the last MiB, and an unchanged zero extent; incremental"
write_random "$dev" 0 4096
write_random "$dev" $((31 * M)) $M
cp "$dev" "$WORK/p2"
extents_file "$WORK/e2" 0 4096 $((16 * M)) 65536 $((31 * M)) $M
backup_image /dev/vdb "$dev" $GEN1 3 "$WORK/backups" "$WORK/e2"
assert_eq "overlay 2 holds data for the changed bytes only" "0+4096 32505856+1048576" \
	"$(allocated "$chain/0002.qcow2" | tr '\n' ' ' | sed 's/ $//')"

step "the manifest: kinds, changed bytes, snap numbers, backing images"
assert_eq "list --json" \
	"full 33554432 1 null|incremental 1122304 2 0000.qcow2|incremental 1118208 3 0001.qcow2" \
	"$("$CTL" list --json "$WORK/backups" |
		jq -r '[.[0].backups[] | "\(.kind) \(.changed_bytes) \(.snap_number) \(.backing)"] | join("|")')"
"$CTL" list "$WORK/backups"

step "every point restores byte for byte; the default is the latest"
assert_restores "$chain" 0 "$WORK/p0"
assert_restores "$chain" 1 "$WORK/p1"
assert_restores "$chain" 2 "$WORK/p2"
"$CTL" restore "$WORK/backups" --to "$WORK/latest" 2>/dev/null
cmp "$WORK/p2" "$WORK/latest" || fail "restore without @N is not the latest point"
echo "ok: restore without @N restores the latest point"
kib=$(du -k "$WORK/latest" | cut -f1)
[ "$kib" -lt 8192 ] || fail "the restored file takes $kib KiB: not sparse where the device is zero"
echo "ok: the restored file is sparse ($kib KiB of 32 MiB)"

step "the backups hold raw disk contents: only their owner may read them"
assert_eq "modes" "700 700 600 600 600 600 600 600 600" \
	"$(stat -c %a "$WORK/backups" "$chain" "$chain"/*.qcow2 "$chain"/*.extents "$chain/chain.json" |
		tr '\n' ' ' | sed 's/ $//')"

step "point 3: 300 scattered 4 KiB extents and one adjacent to the last (several share a buffer); incremental"
ext=()
for i in $(seq 0 299); do
	ext+=($((i * 25 * 4096)) 4096)
done
ext+=($((7501 * 4096)) 4096)
for ((i = 0; i < ${#ext[@]}; i += 2)); do
	write_random "$dev" "${ext[i]}" 4096
done
write_zero "$dev" $((25 * 4096)) 4096	# a changed block that is zero now
cp "$dev" "$WORK/p3"
extents_file "$WORK/e3" "${ext[@]}"
backup_image /dev/vdb "$dev" $GEN1 4 "$WORK/backups" "$WORK/e3"
assert_restores "$chain" 3 "$WORK/p3"
assert_restores "$chain" 2 "$WORK/p2"
assert_eq "the manifest counts each of the 301 extents apart" 301 \
	"$(jq '.backups[3].extents_count' "$chain/chain.json")"
assert_eq "its extents file holds them" 301 "$(jq '.extents | length' "$chain/0003.extents")"
assert_eq "backup 3's changed bytes" $((301 * 4096)) \
	"$(jq '.backups[3].changed_bytes' "$chain/chain.json")"

step "the chain is sound"
assert_chain_sound "$chain"
echo "PASS"
