#!/bin/bash
# disks: 64M 64M
# timeout: 600
#
# One write through the whole disk that crosses more tracked partitions
# than a write can be held for at once (eight partitions of 1 MiB, all in
# one snapshot, zeroed by a single REQ_OP_WRITE_ZEROES bio) is copied for
# every one of them: no partition's image changes, every chunk is copied
# once, and every partition's map has the write.
. "$BLKSNAP_SRC/tests/lib/common.sh"

disk=$DISK1
mib=2048 # sectors
nparts=8

load_module
step "arrange: $nparts partitions of 1 MiB from 1 MiB on, all tracked"
{
	echo "label: gpt"
	for i in $(seq 0 $((nparts - 1))); do
		echo "start=$(((1 + i) * mib)), size=$mib"
	done
} | sfdisk --quiet "$disk"
parts=()
for i in $(seq 1 "$nparts"); do
	[ -b "$disk$i" ] || fail "no partition $disk$i"
	parts+=("$disk$i")
done
dd if=/dev/urandom of="$disk" bs=1M count=16 oflag=direct status=none
zmax=$(cat "/sys/block/$(basename "$disk")/queue/write_zeroes_max_bytes")
echo "write_zeroes_max_bytes=$zmax"
[ "$zmax" -ge $((nparts * 1048576)) ] ||
	fail "the disk cannot zero $nparts MiB in one bio; the case would prove nothing"
for p in "${parts[@]}"; do
	nl attach "$p" >/dev/null
done

step "arrange: one snapshot of the $nparts partitions, storage on the other disk"
info=$(nl snapshot-create "${parts[@]}" --chunk-size 65536)
id=$(snap_field snapshot "$info")
nl snapshot-append "$id" "$DISK2:0+$(sectors "$DISK2")" >/dev/null
taken=$(nl snapshot-take "$id")
imgs=() sums=()
for p in "${parts[@]}"; do
	imgs+=("$(snap_image "$p" "$taken")")
	sums+=("$(md5sum <"$p")")
done
copied=$(counter chunks_copied)

step "act: $nparts MiB zeroed through the whole disk in one bio"
blkdiscard --zeroout --offset $((1 << 20)) --length $((nparts << 20)) "$disk"
cmp -n $((nparts << 20)) /dev/zero "$disk" --ignore-initial=0:$((1 << 20)) ||
	fail "the disk was not zeroed"

step "assert: every chunk of every partition was copied once; no image changed"
assert_eq "chunks copied" $((nparts * 16)) $(($(counter chunks_copied) - copied))
assert_eq "state" "taken error=0" "$(snap_state "$id")"
for i in $(seq 0 $((nparts - 1))); do
	assert_eq "image of ${parts[i]}" "${sums[i]}" "$(md5sum <"${imgs[i]}")"
	assert_eq "map of ${parts[i]}" "0+256=2" "$(changed_blocks "${parts[i]}")"
done

nl snapshot-destroy "$id"
for p in "${parts[@]}"; do
	nl detach "$p"
done
unload_module
