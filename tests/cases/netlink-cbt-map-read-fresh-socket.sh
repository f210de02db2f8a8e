#!/bin/bash
# disks: 256M
# timeout: 900
#
# cbt-map-read of a 64 Ki-block map works on a socket that has received
# nothing before (the kernel's first dump buffer is then small), both with
# blksnap-nl and with the kernel's own YNL client (cli.py --dump), and the
# map read holds exactly the blocks written: value 1 there, 0 elsewhere.
. "$BLKSNAP_SRC/tests/lib/common.sh"

export XDG_CACHE_HOME=$BLKSNAP_BUILD/cache
ynl=$("$BLKSNAP_SRC/netlink-spec/ynl-tree")/tools/net/ynl
spec=$BLKSNAP_SRC/netlink-spec/blksnap.yaml
blocks="0 1 3700 3800 4095 4096 8191 12345 30000 40000 65534 65535"

# changed_in_raw FILE -> "BLOCK=VALUE" of the map file's non-zero bytes
changed_in_raw() {
	od -An -v -tu1 -w1 "$1" | awk '$1 != 0 { print NR - 1 "=" $1 }'
}

load_module

step "arrange: a 64 Ki-block map with known blocks written"
info=$(nl attach "$DISK1" 4096)
assert_eq "block count" 65536 "$(field block_count "$info")"
expected=
for b in $blocks; do
	dd if=/dev/urandom of="$DISK1" bs=4096 seek="$b" count=1 oflag=direct \
		conv=notrunc status=none
	expected+="$b=1"$'\n'
done
expected=${expected%$'\n'}

step "act: blksnap-nl reads the whole map first thing on a fresh socket"
out=$(nl map --fresh-socket --raw /tmp/map.bin "$DISK1")
echo "$out"
assert_eq "blocks read" 65536 "$(field blocks "$out")"
assert_eq "map file size" 65536 "$(stat -c %s /tmp/map.bin)"
assert_eq "changed blocks (fresh socket)" "$expected" "$(changed_in_raw /tmp/map.bin)"

step "act: slices that start at an odd block, on a fresh socket"
out=$(nl map --fresh-socket --raw /tmp/slice.bin "$DISK1" 3799 20000)
assert_eq "slice blocks read" 20000 "$(field blocks "$out")"
cmp <(tail -c +3800 /tmp/map.bin | head -c 20000) /tmp/slice.bin ||
	fail "the slice differs from the whole map at the same offset"

step "act: the kernel's YNL client dumps the whole map"
/usr/bin/python3 "$ynl/cli.py" --spec "$spec" --no-schema --output-json \
	--dump cbt-map-read --json "{\"dev-path\": \"$DISK1\"}" >/tmp/ynl.json ||
	fail "cli.py --dump cbt-map-read failed"
jq -r 'sort_by(.["map-offset"]) | .[] | "\(.["map-offset"]) \(.["map-data"] | length / 2)"' \
	/tmp/ynl.json >/tmp/ynl.slices
echo "YNL: $(wc -l </tmp/ynl.slices) messages"
awk 'BEGIN { next_ = 0 } $1 != next_ { print "slice at " $1 ", expected " next_; exit 1 }
	{ next_ = $1 + $2 } END { if (next_ != 65536) { print "ends at " next_; exit 1 } }' \
	/tmp/ynl.slices || fail "the YNL slices do not cover the map in order"
jq -r 'sort_by(.["map-offset"]) | .[] | .["map-data"]' /tmp/ynl.json | tr -d '\n' |
	perl -ne 'chomp; print pack("H*", $_)' >/tmp/ynl.bin
assert_eq "changed blocks (YNL)" "$expected" "$(changed_in_raw /tmp/ynl.bin)"

nl detach "$DISK1"
unload_module
