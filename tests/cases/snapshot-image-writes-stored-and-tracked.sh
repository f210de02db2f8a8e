#!/bin/bash
# disks: 64M 64M
# timeout: 300
#
# Writes to a snapshot image land in the difference storage: the image
# reads them back, the original device is not touched, and the device's
# live CBT map marks the written blocks with the snap number after the
# take, while the map the take froze does not.
. "$BLKSNAP_SRC/tests/lib/common.sh"

load_module
dd if=/dev/urandom of="$DISK1" bs=1M count=64 oflag=direct status=none
nl attach "$DISK1" 4096 >/dev/null
id=$(nl snapshot-create "$DISK1" --chunk-size 65536 | sed -n 's/^snapshot=\([^ ]*\).*/\1/p')
nl snapshot-append "$id" "$DISK2:0+131072" >/dev/null
nl snapshot-take "$id" >/dev/null
img=/dev/$(nl snapshot-get "$id" | sed -n 's/.* image=\([^ ]*\).*/\1/p')
orig_sum=$(dd if="$DISK1" bs=1M count=64 iflag=direct status=none | md5sum)

step "write 12 KiB into the image at 1 MiB + 8 KiB (blocks 258-260), partly into a chunk"
dd if=/dev/urandom of=/tmp/pattern bs=4k count=3 status=none
dd if=/tmp/pattern of="$img" bs=4k seek=258 oflag=direct status=none

step "the image reads them back; the original is untouched"
assert_eq "image data" "$(md5sum < /tmp/pattern)" \
	"$(dd if="$img" bs=4k skip=258 count=3 iflag=direct status=none | md5sum)"
assert_eq "original" "$orig_sum" \
	"$(dd if="$DISK1" bs=1M count=64 iflag=direct status=none | md5sum)"
assert_match "storage used by the copy" "storage_used=128 " "$(nl snapshot-get "$id" | head -1)"

step "the live CBT map marks the blocks with snap number 2; the frozen one does not"
assert_eq "live map" "258+3=2" "$(changed_blocks "$DISK1")"
assert_eq "frozen map" "" "$(nl map --snapshot "$id" "$DISK1" | grep -v '^generation=')"

nl snapshot-destroy "$id"
nl detach "$DISK1"
unload_module
