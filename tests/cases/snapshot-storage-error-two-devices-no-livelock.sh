#!/bin/bash
# disks: 64M 64M 128M
# timeout: 600
#
# A snapshot of two devices whose difference storage is slow is destroyed
# while many writes of both wait for copies, and then the storage fails
# (dm-delay reloaded as an error target): every waiting write of both
# devices completes, and every object of the snapshot is freed; no copy is
# retried forever.
. "$BLKSNAP_SRC/tests/lib/common.sh"

size=$(sectors "$DISK3")
load_module
modprobe dm-delay
# Slow enough that the copies (cow_max_copies in flight per device) are
# still far from done when the destroy comes: two seconds a write.
dmsetup create blksnap-slow --table "0 $size delay $DISK3 0 2000"
dmsetup mknodes
slow=/dev/mapper/blksnap-slow
[ -b "$slow" ] || fail "no $slow"

step "arrange: a taken snapshot of two devices, slow storage"
nl attach "$DISK1" >/dev/null
nl attach "$DISK2" >/dev/null
id=$(snap_field snapshot "$(nl snapshot-create "$DISK1" "$DISK2")")
nl snapshot-append "$id" "$slow:0+$size" >/dev/null
nl snapshot-take "$id" >/dev/null
pids=()
for d in "$DISK1" "$DISK2"; do
	fio --name=w --filename="$d" --rw=randwrite --bs=4k --direct=1 \
		--ioengine=libaio --iodepth=64 --numjobs=2 --size=16M \
		--output=/tmp/fio.$$.out >/dev/null 2>&1 &
	pids+=($!)
done
deferred=0
for _ in $(seq 60); do
	deferred=$(awk '$1 == "deferred_bios" { print $2 }' "$OBJECTS")
	[ "$deferred" -lt 128 ] || break
	sleep 0.5
done
echo "writes waiting for copies: $deferred"
[ "$deferred" -gt 0 ] || fail "no write was waiting for a copy when the destroy came"

step "act: destroy; then the storage fails"
nl snapshot-destroy "$id"
dmsetup suspend --noflush --nolockfs blksnap-slow
dmsetup load blksnap-slow --table "0 $size error"
dmsetup resume blksnap-slow

step "assert: every writer completes, every object goes"
for p in "${pids[@]}"; do
	timeout 120 tail --pid="$p" -f /dev/null || fail "a writer never completed"
done
for _ in $(seq 100); do
	[ -z "$(awk '$2 != 0 && $1 != "trackers" && $1 != "cbt_maps" && $1 != "cbt_map_bytes"' "$OBJECTS")" ] && break
	sleep 0.2
done
echo "objects:"; cat "$OBJECTS"
nl detach "$DISK1"
nl detach "$DISK2"
dmsetup remove blksnap-slow
unload_module
