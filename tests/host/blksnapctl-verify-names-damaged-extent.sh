#!/bin/bash
# verify finds one flipped byte in the data of an overlay and of a full image
# (which qemu-img check cannot see), names the damaged extent and exits 3;
# it names a missing image likewise; an intact chain passes with 0.
. "$BLKSNAP_SRC/tests/lib/common.sh"
. "$BLKSNAP_SRC/tests/lib/blksnapctl.sh"

M=$((1 << 20))
dev=$WORK/dev.img
chain=$WORK/b/vdd
truncate -s $((16 * M)) "$dev"
write_random "$dev" $M $((2 * M))
backup_image vdd "$dev" $GEN1 1 "$WORK/b" 2>/dev/null
write_random "$dev" $((10 * M)) $M
extents_file "$WORK/e" $((10 * M)) $M
backup_image vdd "$dev" $GEN1 2 "$WORK/b" "$WORK/e" 2>/dev/null
"$CTL" verify "$WORK/b" || fail "verify of the intact chain"

# flip IMAGE GUEST-OFFSET: invert one byte of the image's own data there
flip() {
	local host
	host=$(qemu-img map --output=json "$1" |
		jq -r --argjson g "$2" '.[] | select(.depth == 0 and .data and .start <= $g and $g < .start + .length) | .offset + ($g - .start)')
	[ -n "$host" ] || fail "no data of $1 at $2"
	perl -e 'open(my $f, "+<", $ARGV[0]) or die; seek($f, $ARGV[1], 0); read($f, my $b, 1);
		seek($f, $ARGV[1], 0); print $f chr(ord($b) ^ 0xff); close($f)' "$1" "$host"
}

step "a flipped byte in the overlay at 10 MiB + 100"
cp "$chain/0001.qcow2" "$WORK/good1"
flip "$chain/0001.qcow2" $((10 * M + 100))
qemu-img check -q "$chain/0001.qcow2" || fail "qemu-img check should not see a data byte"
rc=0
out=$("$CTL" verify "$WORK/b" 2>&1) || rc=$?
echo "$out"
assert_eq "exit status" 3 "$rc"
assert_match "names the extent" "0001.qcow2: DAMAGED: extent 10485760\+1048576 \(bytes 10485760-11534335\)" "$out"
assert_match "the full image is intact" "0000.qcow2: backup 0 intact" "$out"
cp "$WORK/good1" "$chain/0001.qcow2"

step "a flipped byte in the full image at 2 MiB + 7"
flip "$chain/0000.qcow2" $((2 * M + 7))
rc=0
out=$("$CTL" verify "$chain" 2>&1) || rc=$?
assert_eq "exit status" 3 "$rc"
assert_match "names the extent" "0000.qcow2: DAMAGED: extent 1048576\+2097152 " "$out"
assert_match "one problem" "1 problem found" "$out"

step "a missing image"
mv "$chain/0001.qcow2" "$WORK/moved"
rc=0
out=$("$CTL" verify "$chain" 2>&1) || rc=$?
assert_eq "exit status" 3 "$rc"
assert_match "names it" "0001.qcow2: DAMAGED: backup 1's image is missing" "$out"
echo "PASS"
