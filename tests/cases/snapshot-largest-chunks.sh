#!/bin/bash
# disks: 64M 128M
# timeout: 300
#
# With the largest chunk size (8 MiB, more than one bio can carry), copies
# and image reads still work: the image stays as the device was at the
# take while the original is overwritten, and a write through the image
# reads back.
. "$BLKSNAP_SRC/tests/lib/common.sh"

load_module
dd if=/dev/urandom of="$DISK1" bs=1M count=64 oflag=direct status=none
sum=$(md5sum < "$DISK1")
nl attach "$DISK1" >/dev/null
info=$(nl snapshot-create "$DISK1" --chunk-size 8388608)
id=$(sed -n 's/^snapshot=\([^ ]*\).*/\1/p' <<<"$info")
assert_match "chunk size" "chunk_size=8388608 " "$info"
nl snapshot-append "$id" "$DISK2:0+262144" >/dev/null
nl snapshot-take "$id" >/dev/null
img=/dev/$(nl snapshot-get "$id" | sed -n 's/.* image=\([^ ]*\).*/\1/p')

step "overwrite 3 MiB across a chunk boundary and 1 MiB elsewhere"
dd if=/dev/urandom of="$DISK1" bs=1M seek=7 count=3 oflag=direct status=none
dd if=/dev/urandom of="$DISK1" bs=1M seek=40 count=1 status=none conv=fsync
assert_eq "image" "$sum" "$(md5sum < "$img")"
assert_match "three chunks stored" "storage_used=49152 " "$(nl snapshot-get "$id" | head -1)"

step "a write through the image reads back"
dd if=/dev/urandom of=/tmp/p bs=1M count=2 status=none
dd if=/tmp/p of="$img" bs=1M seek=30 oflag=direct status=none
assert_eq "image write" "$(md5sum < /tmp/p)" \
	"$(dd if="$img" bs=1M skip=30 count=2 iflag=direct status=none | md5sum)"

nl snapshot-destroy "$id"
nl detach "$DISK1"
unload_module
