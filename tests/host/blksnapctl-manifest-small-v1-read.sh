#!/bin/bash
# The manifest stays small however many extents the backups have: each
# backup's extents and checksums go to its own NNNN.extents file, written
# once, and chain.json (read and rewritten by every backup) only names it,
# with its count and SHA-256.  A chain whose manifest is of version 1 (every
# backup's extents inline) is read as it is: list, verify and restore work,
# and the next backup appends in version 2's form, keeping the old backups
# inline.
. "$BLKSNAP_SRC/tests/lib/common.sh"
. "$BLKSNAP_SRC/tests/lib/blksnapctl.sh"

M=$((1 << 20))
dev=$WORK/dev.img
chain=$WORK/b/vdk
truncate -s $((64 * M)) "$dev"
write_random "$dev" 0 $((64 * M))

# scatter N SEED: N scattered 4 KiB blocks of the device rewritten; their
# extents in $WORK/ext
scatter() {
	local b args=()
	for b in $(seq 0 $((64 * 256 - 1)) | shuf -n "$1" --random-source=<(yes "$2") | sort -n); do
		write_random "$dev" $((b * 4096)) 4096
		args+=($((b * 4096)) 4096)
	done
	extents_file "$WORK/ext" "${args[@]}"
}

step "arrange: a full backup, then three incrementals of 1000 scattered 4 KiB blocks each"
backup_image vdk "$dev" $GEN1 1 "$WORK/b" 2>/dev/null
cp "$dev" "$WORK/p0"
sizes=$(stat -c %s "$chain/chain.json")
for n in 1 2 3; do
	scatter 1000 "$n"
	cp "$dev" "$WORK/p$n"
	backup_image vdk "$dev" $GEN1 $((n + 1)) "$WORK/b" "$WORK/ext" 2>/dev/null
	sizes+=" $(stat -c %s "$chain/chain.json")"
done

step "assert: each backup's extents are in its own file; the manifest grows by a few hundred bytes a backup"
for n in 1 2 3; do
	count=$(jq ".backups[$n].extents_count" "$chain/chain.json")
	[ "$count" -ge 800 ] || fail "backup $n has $count extents, not the ~1000 scattered blocks (some adjacent)"
	assert_eq "extents in 000$n.extents" "$count" "$(jq '.extents | length' "$chain/000$n.extents")"
	assert_eq "SHA-256 of 000$n.extents" "$(jq -r ".backups[$n].extents_sha256" "$chain/chain.json")" \
		"$(sum "$chain/000$n.extents")"
done
read -r s0 _ _ s3 <<<"$sizes"
echo "manifest sizes after each backup: $sizes"
[ $(((s3 - s0) / 3)) -lt 1024 ] || fail "the manifest grew by $(((s3 - s0) / 3)) bytes a backup: $sizes"
echo "ok: the manifest grew by $(((s3 - s0) / 3)) bytes a backup of ~1000 extents"
assert_chain_sound "$chain"

step "arrange: the same chain with a version 1 manifest (extents inline, no extents files)"
v1=$WORK/v1/vdk
mkdir -p "$WORK/v1"
cp -a "$chain" "$v1"
jq --slurpfile e0 "$v1/0000.extents" --slurpfile e1 "$v1/0001.extents" \
	--slurpfile e2 "$v1/0002.extents" --slurpfile e3 "$v1/0003.extents" '
	.version = 1 |
	.backups |= [ to_entries[] | .key as $k | .value |
		del(.extents_file, .extents_count, .extents_sha256) |
		.extents = ([$e0, $e1, $e2, $e3][$k][0].extents) ]' \
	"$chain/chain.json" >"$v1/chain.json"
rm "$v1"/*.extents

step "assert: list, verify and restore read it"
assert_eq "backups listed" 4 "$("$CTL" list "$v1" --json | jq '.[0].backups | length')"
assert_chain_sound "$v1"
assert_restores "$v1" 2 "$WORK/p2"

step "act: a backup appended to the version 1 chain"
scatter 10 9
cp "$dev" "$WORK/p4"
backup_image vdk "$dev" $GEN1 5 "$WORK/v1" "$WORK/ext" 2>/dev/null

step "assert: version 2 now, the old backups still inline, the new one in its file; every point restores"
assert_eq "version" 2 "$(jq .version "$v1/chain.json")"
assert_eq "backups with inline extents" "0 1 2 3" \
	"$(jq -r '[.backups[] | select(.extents) | .number] | join(" ")' "$v1/chain.json")"
assert_eq "extents file of backup 4" 0004.extents "$(jq -r '.backups[4].extents_file' "$v1/chain.json")"
assert_chain_sound "$v1"
for n in 0 1 2 3 4; do
	assert_restores "$v1" "$n" "$WORK/p$n"
done
