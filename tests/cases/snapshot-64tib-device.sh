#!/bin/bash
# disks: 64M
# timeout: 300
#
# A snapshot of a 64 TiB device (a dm "zero" target) can be taken: the
# copy-on-write state of its 2^30 chunks is allocated as copies need it,
# not as one bitmap; a write near its end is copied, and the image reads
# the data of the take there.
. "$BLKSNAP_SRC/tests/lib/common.sh"

size=$((1 << 37)) # sectors: 64 TiB

load_module
modprobe dm-mod
dmsetup create blksnap-big --table "0 $size zero"
big=/dev/$(dmsetup info -c --noheadings -o blkdevname blksnap-big)
[ -b "$big" ] || fail "no $big"

step "arrange: track the 64 TiB device"
info=$(nl attach "$big")
echo "$info"
assert_eq "capacity" "$size" "$(field capacity "$info")"
id=$(snap_field snapshot "$(nl snapshot-create "$big")")
nl snapshot-append "$id" "$DISK1:0+$(sectors "$DISK1")" >/dev/null

step "act: take it"
taken=$(nl snapshot-take "$id")
img=$(snap_image "$big" "$taken")
assert_eq "image size" "$size" "$(sectors "$img")"

step "act: a 64 KiB write 1 MiB before the end; assert: copied, image intact"
copied=$(counter chunks_copied)
dd if=/dev/urandom of="$big" bs=64k seek=$(((1 << 30) - 16)) count=1 \
	oflag=direct status=none
assert_eq "chunks copied" 1 $(($(counter chunks_copied) - copied))
assert_eq "the image there" "$(head -c 65536 /dev/zero | md5sum)" \
	"$(dd if="$img" bs=64k skip=$(((1 << 30) - 16)) count=1 iflag=direct status=none | md5sum)"
assert_eq "state" "taken error=0" "$(snap_state "$id")"

nl snapshot-destroy "$id"
nl detach "$big"
dmsetup remove blksnap-big
unload_module
