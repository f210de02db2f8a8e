#!/bin/bash
# disks: 128M 128M
# timeout: 600
#
# Destroying a snapshot whose difference storage is slower than its writers
# (a dm-delay target) stops copy-on-write and returns only once every copy
# has ended: the storage range, overwritten with a known pattern right after
# the destroy returns, keeps that pattern (no late copy lands in it), and
# the writers that were waiting for copies complete.  The storage takes 2 s
# per write: with 64 copies in flight per device, a faster one lets the
# copies keep up with the writers (on the debug kernel, at 200 ms, no write
# was ever left waiting).
. "$BLKSNAP_SRC/tests/lib/common.sh"

orig=$DISK1
size=$(sectors "$DISK2")
pattern() { dd if=/dev/zero bs=1M count=$((size / 2048)) status=none | tr '\0' 'Z'; }

load_module
modprobe dm-delay
dmsetup create blksnap-slow --table "0 $size delay $DISK2 0 2000"
dmsetup mknodes
slow=/dev/mapper/blksnap-slow
[ -b "$slow" ] || fail "no $slow"

step "arrange: a taken snapshot with its storage behind a 2 s delay"
nl attach "$orig" >/dev/null
id=$(snap_field snapshot "$(nl snapshot-create "$orig")")
nl snapshot-append "$id" "$slow:0+$size" >/dev/null
nl snapshot-take "$id" >/dev/null

step "arrange: 16 writers far ahead of the copies"
fio --name=w --filename="$orig" --rw=randwrite --bs=4k --direct=1 \
	--ioengine=libaio --iodepth=32 --numjobs=4 --time_based --runtime=20 \
	--output=/tmp/fio.out >/dev/null 2>&1 &
fio_pid=$!
deferred=0
for _ in $(seq 60); do
	deferred=$(awk '$1 == "deferred_bios" { print $2 }' "$OBJECTS")
	[ "$deferred" -lt 64 ] || break
	sleep 0.5
done
echo "writes waiting for copies: $deferred"
[ "$deferred" -gt 0 ] || fail "no write was waiting for a copy: $(cat /tmp/fio.out)"

step "act: destroy, then overwrite the storage with a known pattern"
nl snapshot-destroy "$id"
pattern | dd of="$DISK2" bs=1M iflag=fullblock oflag=direct status=none
sleep 3

step "assert: nothing was written to the storage after the destroy"
assert_eq "storage content" "$(pattern | md5sum)" \
	"$(dd if="$DISK2" bs=1M iflag=direct status=none | md5sum)"
wait "$fio_pid" || fail "the writers failed: $(cat /tmp/fio.out)"

step "detach; every object is gone"
nl detach "$orig"
dmsetup remove blksnap-slow
unload_module
