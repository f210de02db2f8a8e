#!/bin/bash
# disks: 64M 64M
# timeout: 1200
# kernels: first
#
# A snapshot that overflows its difference storage in the middle of a backup
# from its image (reads then fail with EIO) makes blksnapctl fail with a
# sentence and exit status 1, remove the partial image and leave the chain as
# it was (verify and qemu-img check clean, backup 0 restores); the next
# backup is full, because the corruption renewed the CBT generation, and
# says so.
. "$BLKSNAP_SRC/tests/lib/common.sh"
. "$BLKSNAP_SRC/tests/lib/blksnapctl.sh"

dev=$DISK1 storage=$DISK2
B=$WORK/backups
chain=$B/$(basename "$dev")
M=$((1 << 20))

load_module
dd if=/dev/urandom of="$dev" bs=1M count=64 oflag=direct status=none
nl attach "$dev" 4096 >/dev/null

# take_snapshot STORAGE-SECTORS -> sets id, img, gen, snap
take_snapshot() {
	local info
	id=$(snap_field snapshot "$(nl snapshot-create "$dev" --chunk-size 65536)")
	nl snapshot-append "$id" "$storage:0+$1" >/dev/null
	info=$(nl snapshot-take "$id")
	img=$(snap_image "$dev" "$info")
	gen=$(snap_device_field generation "$dev" "$info")
	snap=$(snap_device_field snap "$dev" "$info")
}

step "backup 0: full, from a snapshot with ample storage"
take_snapshot "$(sectors "$storage")"
gen1=$gen
dd if="$img" of="$WORK/p0" bs=1M iflag=direct status=none
"$CTL" backup "$dev" --from-image "$img" --generation "$gen" --snap-number "$snap" --to "$B" 2>&1
nl snapshot-destroy "$id"
before=$(sum "$chain/chain.json")

step "backup 1 from a snapshot with 8 MiB of storage; 32 MiB overwritten meanwhile"
take_snapshot 16384
extents_file "$WORK/all" 0 $((64 * M))
"$CTL" backup "$dev" --from-image "$img" --generation "$gen" --snap-number "$snap" \
	--extents-file "$WORK/all" --to "$B" >"$WORK/out" 2>&1 &
pid=$!
for _ in $(seq 600); do
	[ ! -e "$chain/0001.qcow2.partial" ] || break
	sleep 0.05
done
[ -e "$chain/0001.qcow2.partial" ] || fail "the backup never started: $(cat "$WORK/out")"
# from the end of the device backwards from the reader, which starts at 0
dd if=/dev/urandom of="$dev" bs=1M seek=32 count=32 oflag=direct status=none
rc=0
wait "$pid" || rc=$?
cat "$WORK/out"
assert_eq "state of the snapshot" "corrupted error=28" "$(snap_state "$id")"
assert_eq "exit status of the backup" 1 "$rc"
assert_match "names the failed read" "cannot read $img at offset [0-9]+: Input/output error" "$(cat "$WORK/out")"
assert_match "says the chain is kept" "the partial image was removed, the chain in .* is as it was" \
	"$(cat "$WORK/out")"
nl snapshot-destroy "$id"

step "the chain is as it was"
assert_eq "files of the chain" "0000.extents 0000.qcow2 chain.json" "$(ls "$chain" | tr '\n' ' ' | sed 's/ $//')"
assert_eq "manifest unchanged" "$before" "$(sum "$chain/chain.json")"
assert_chain_sound "$chain"
assert_restores "$chain" 0 "$WORK/p0"

step "the next backup is full: the corruption renewed the generation"
take_snapshot "$(sectors "$storage")"
[ "$gen" != "$gen1" ] || fail "the generation is still $gen1 after the corruption"
dd if="$img" of="$WORK/p1" bs=1M iflag=direct status=none
out=$("$CTL" backup "$dev" --from-image "$img" --generation "$gen" --snap-number "$snap" \
	--extents-file "$WORK/all" --to "$B" 2>&1)
echo "$out"
assert_match "reason" "full backup .*generation is $gen, not the last backup's $gen1" "$out"
nl snapshot-destroy "$id"
assert_restores "$chain" 1 "$WORK/p1"
assert_chain_sound "$chain"

nl detach "$dev"
unload_module
echo "PASS"
