#!/bin/bash
# timeout: 300
#
# A tracked device whose capacity changes (a loop device over a file that
# grows) starts a new CBT generation with a map of the new size at its
# next write, so a backup tool sees that it must copy everything; a
# snapshot taken of it before the change is corrupted (ENXIO), not left
# with an image of the wrong size.
. "$BLKSNAP_SRC/tests/lib/common.sh"

load_module
modprobe loop
truncate -s 64M /tmp/backing
loop=$(losetup --find --show /tmp/backing)
truncate -s 96M /tmp/storage
sloop=$(losetup --find --show /tmp/storage)

step "arrange: track the 64 MiB loop device, a taken snapshot of it"
info=$(nl attach "$loop")
gen=$(field generation "$info")
assert_eq "capacity" 131072 "$(field capacity "$info")"
id=$(snap_field snapshot "$(nl snapshot-create "$loop")")
nl snapshot-append "$id" "$sloop:0+$(sectors "$sloop")" >/dev/null
nl snapshot-take "$id" >/dev/null
dd if=/dev/zero of="$loop" bs=4k count=1 oflag=direct status=none

step "act: the file grows to 80 MiB and the loop device follows; a write"
truncate -s 80M /tmp/backing
losetup -c "$loop"
assert_eq "loop capacity" 163840 "$(sectors "$loop")"
dd if=/dev/zero of="$loop" bs=4k seek=8 count=1 oflag=direct status=none

step "assert: a new generation with the new capacity; the snapshot corrupted"
for _ in $(seq 50); do
	info=$(nl get "$loop")
	[ "$(field generation "$info")" = "$gen" ] || break
	sleep 0.2
done
echo "$info"
[ "$(field generation "$info")" != "$gen" ] || fail "the generation did not change"
assert_eq "capacity" 163840 "$(field capacity "$info")"
assert_eq "blocks" 20480 "$(field block_count "$info")"
assert_match "snapshot" "^corrupted error=6$" "$(snap_state "$id")"
dd if=/dev/zero of="$loop" bs=4k seek=20000 count=1 oflag=direct status=none
assert_match "a write past the old end is marked" "^20000\+1=1$" "$(changed_blocks "$loop")"

nl snapshot-destroy "$id"
nl detach "$loop"
losetup -d "$loop" "$sloop"
unload_module
