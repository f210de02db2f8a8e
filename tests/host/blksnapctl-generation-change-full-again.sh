#!/bin/bash
# A backup whose change-tracking generation is not the last backup's is full
# again (no backing image) and says why, even when changed extents are
# offered; so is one of a resized device or with --full; data that is not
# newer than the last backup (same generation, snap number not after it) is
# refused and leaves the chain as it was.
. "$BLKSNAP_SRC/tests/lib/common.sh"
. "$BLKSNAP_SRC/tests/lib/blksnapctl.sh"

M=$((1 << 20))
dev=$WORK/dev.img
chain=$WORK/b/vdc
truncate -s $((8 * M)) "$dev"
write_random "$dev" 0 $M
backup_image vdc "$dev" $GEN1 1 "$WORK/b" 2>/dev/null
write_random "$dev" $((4 * M)) 65536
extents_file "$WORK/e" $((4 * M)) 65536
backup_image vdc "$dev" $GEN1 2 "$WORK/b" "$WORK/e" 2>/dev/null
cp "$dev" "$WORK/p1"

step "a new generation: full again, saying why"
write_random "$dev" $((6 * M)) 65536
out=$(backup_image vdc "$dev" $GEN2 1 "$WORK/b" "$WORK/e" 2>&1)
assert_match "the reason names both generations" \
	"full backup .*generation is $GEN2, not the last backup's $GEN1" "$out"
assert_eq "kind and backing of backup 2" "full null" \
	"$(jq -r '.backups[2] | "\(.kind) \(.backing)"' "$chain/chain.json")"
assert_eq "qemu-img sees no backing file" "null" \
	"$(qemu-img info --output=json "$chain/0002.qcow2" | jq -r '."backing-filename"')"
cp "$dev" "$WORK/p2"
assert_restores "$chain" 2 "$WORK/p2"

step "the same generation with a snap number not after the last: refused, nothing changes"
before=$(sum "$chain/chain.json")
rc=0
out=$(backup_image vdc "$dev" $GEN2 1 "$WORK/b" "$WORK/e" 2>&1) || rc=$?
assert_eq "exit status" 1 "$rc"
assert_match "message" "snap number 1 of generation $GEN2 is not after the last backup's 1" "$out"
assert_eq "manifest unchanged" "$before" "$(sum "$chain/chain.json")"
[ ! -e "$chain/0003.qcow2" ] || fail "an image was left for the refused backup"

step "--full: full although incremental is possible"
out=$(backup_image vdc "$dev" $GEN2 2 "$WORK/b" "$WORK/e" --full 2>&1)
assert_match "reason" "full backup .*a full backup was asked for" "$out"
assert_eq "kind of backup 3" "full" "$(jq -r '.backups[3].kind' "$chain/chain.json")"

step "a resized device: full again"
truncate -s $((12 * M)) "$dev"
out=$(backup_image vdc "$dev" $GEN2 3 "$WORK/b" "$WORK/e" 2>&1)
assert_match "reason" "the device has 12582912 bytes, the last backup 8388608" "$out"
cp "$dev" "$WORK/p4"
assert_restores "$chain" 4 "$WORK/p4"
assert_restores "$chain" 1 "$WORK/p1"
assert_chain_sound "$chain"
echo "PASS"
