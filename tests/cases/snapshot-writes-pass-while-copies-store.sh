#!/bin/bash
# disks: 64M 64M
# timeout: 600
#
# A write to the original waits only until the chunks it overwrites have
# been read for their copy: it goes down beside the copy's write to the
# storage, not after it.  Image reads of those chunks meanwhile wait for
# the storage write and return the data of the take, never the new data
# already on the original.  The storage takes 3 s per write (dm-delay,
# reads not delayed), so a write that waited for the store would take at
# least 3 s from its start (the store is sent after it), and an image read
# that did not wait would see the new data.  The bound is the delay
# itself, not a margin under it: on the debug kernel (KASAN, lockdep,
# under TCG) the copy read and dd alone take over a second.
. "$BLKSNAP_SRC/tests/lib/common.sh"

orig=$DISK1
size=$(sectors "$DISK2")
delay=3000 # ms per storage write
ms() { echo $(($(date +%s%N) / 1000000)); }
# range_sum DEV MIB COUNT -> MD5 of COUNT MiB of DEV from MIB
load_module
modprobe dm-delay
dmsetup create blksnap-slow-writes \
	--table "0 $size delay $DISK2 0 0 $DISK2 0 $delay"
dmsetup mknodes
slow=/dev/mapper/blksnap-slow-writes
[ -b "$slow" ] || fail "no $slow"

step "arrange: random data; a snapshot, its storage $delay ms per write"
dd if=/dev/urandom of="$orig" bs=1M count=64 oflag=direct status=none
dd if=/dev/urandom of=/tmp/new bs=1M count=24 status=none
taken=$(device_sum "$orig")
taken_8=$(range_sum "$orig" 8 1)
nl attach "$orig" >/dev/null
read -r id img <<<"$(snap_take_alone "$orig" "$slow")"

step "act: a 1 MiB write at 8 MiB (16 chunks), then at once an image read of it"
t0=$(ms)
dd if=/tmp/new of="$orig" bs=1M seek=8 count=1 oflag=direct status=none
t1=$(ms)
image_8=$(range_sum "$img" 8 1)
t2=$(ms)
echo "write: $((t1 - t0)) ms; image read right after it: $((t2 - t1)) ms"

step "assert: the image read the take's data, waiting for the store; the write did not"
assert_eq "image at 8 MiB, read while stored" "$taken_8" "$image_8"
[ $((t2 - t1)) -ge 500 ] ||
	fail "the image read took $((t2 - t1)) ms: it did not wait for the store"
[ $((t1 - t0)) -lt "$delay" ] ||
	fail "the write took $((t1 - t0)) ms: it waited for the $delay ms storage write"
assert_eq "original at 8 MiB" "$(dd if=/tmp/new bs=1M count=1 status=none | md5sum)" \
	"$(range_sum "$orig" 8 1)"

step "act: 16 MiB of sequential writes, the whole image read beside them"
dd if=/tmp/new of="$orig" bs=1M skip=8 seek=16 count=16 oflag=direct status=none &
writer=$!
image_all=$(device_sum "$img")
wait "$writer" || fail "the writer failed"

step "assert: the image read the take's data; so it does once every store is over"
assert_eq "image read beside the writes" "$taken" "$image_all"
sleep $((delay / 1000 + 1))
assert_eq "image after the stores" "$taken" "$(device_sum "$img")"
assert_eq "original at 16 MiB" "$(dd if=/tmp/new bs=1M skip=8 count=16 status=none | md5sum)" \
	"$(range_sum "$orig" 16 16)"
assert_eq "snapshot state" "taken error=0" "$(snap_state "$id")"

step "destroy; detach; every object is gone"
nl snapshot-destroy "$id"
nl detach "$orig"
dmsetup remove blksnap-slow-writes
unload_module
