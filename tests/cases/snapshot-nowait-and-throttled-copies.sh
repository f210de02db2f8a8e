#!/bin/bash
# disks: 256M 1G
# timeout: 600
#
# After the take, a REQ_NOWAIT write (pwritev2 with RWF_NOWAIT) to a chunk
# that still has to be copied fails with EAGAIN and changes nothing, and
# passes once the chunk is copied; concurrent writes to one chunk copy it
# once; writers far ahead of the copies are
# throttled: the writes waiting for copies and the copy buffers stay within
# the module's limits, and the image does not change.
. "$BLKSNAP_SRC/tests/lib/common.sh"

object() { awk -v k="$1" '$1 == k { print $2 }' "$OBJECTS"; }

step "load with at most 16 waiting writes per device, 8 copies at once"
insmod "$BLKSNAP_KO" cow_max_pending=16 cow_max_copies=8 copy_buffers=8
dd if=/dev/urandom of="$DISK1" bs=1M count=256 oflag=direct status=none
nl attach "$DISK1" >/dev/null
id=$(nl snapshot-create "$DISK1" --chunk-size 65536 | sed -n 's/^snapshot=\([^ ]*\).*/\1/p')
nl snapshot-append "$id" "$DISK2:0+2097152" >/dev/null
nl snapshot-take "$id" >/dev/null
img=/dev/$(nl snapshot-get "$id" | sed -n 's/.* image=\([^ ]*\).*/\1/p')
[ -b "$img" ] || fail "no image device"
image_hash=$(md5sum < "$img")

step "RWF_NOWAIT write to a chunk not copied yet: EAGAIN, nothing written"
before=$(dd if="$DISK1" bs=4096 count=1 iflag=direct status=none | md5sum)
if out=$(xfs_io -d -c "pwrite -N -V 1 0 4096" "$DISK1" 2>&1) &&
	! grep -q "Resource temporarily unavailable" <<<"$out"; then
	fail "RWF_NOWAIT write to an uncopied chunk succeeded: $out"
fi
assert_match "the error is EAGAIN" "Resource temporarily unavailable" "$out"
assert_eq "nowait refusals counted" 1 "$(counter nowait_refused)"
assert_eq "original untouched" "$before" \
	"$(dd if="$DISK1" bs=4096 count=1 iflag=direct status=none | md5sum)"

step "a normal write copies the chunk; then RWF_NOWAIT passes"
xfs_io -d -c "pwrite -S 0x5a 0 4096" "$DISK1" >/dev/null
out=$(xfs_io -d -c "pwrite -N -V 1 -S 0xa5 4096 4096" "$DISK1" 2>&1)
assert_match "nowait write to a copied chunk" "wrote 4096/4096" "$out"
assert_eq "no new refusal" 1 "$(counter nowait_refused)"

step "eight writers racing on one chunk: it is copied once"
copied=$(counter chunks_copied)
for i in 1 2 3 4 5 6 7 8; do
	xfs_io -d -c "pwrite -S 0x$i$i $((640 * 1024 + i * 4096)) 4096" "$DISK1" >/dev/null &
done
wait
assert_eq "copies of chunk 10" $((copied + 1)) "$(counter chunks_copied)"

step "256 writes in flight against 16 allowed to wait: writers are throttled"
( max_d=0 max_b=0
  while [ ! -e /tmp/stop ]; do
	d=$(object deferred_bios) b=$(object buffers)
	[ "$d" -gt "$max_d" ] && max_d=$d
	[ "$b" -gt "$max_b" ] && max_b=$b
	echo "$max_d $max_b" > /tmp/max
	sleep 0.05
  done ) &
sampler=$!
fio --name=flood --filename="$DISK1" --rw=randwrite --bs=4k --direct=1 \
	--ioengine=libaio --iodepth=64 --numjobs=4 --time_based --runtime=15 \
	--group_reporting --output=/tmp/flood.out
touch /tmp/stop
wait "$sampler"
read -r max_deferred max_buffers < /tmp/max
echo "max deferred writes $max_deferred, max copy buffers $max_buffers," \
	"throttled $(counter throttled), chunks copied $(counter chunks_copied)"
[ "$(counter throttled)" -gt 0 ] || fail "no writer was ever throttled"
[ "$max_deferred" -le 20 ] || fail "$max_deferred writes waited for copies (limit 16 + 4 writers)"
[ "$max_buffers" -le 16 ] || fail "$max_buffers copy buffers (limit 8 reserved + 8 copies)"
[ "$(counter chunks_copied)" -gt 100 ] || fail "too few chunks copied to mean anything"

step "the image did not change; the snapshot is healthy"
assert_eq "image hash" "$image_hash" "$(md5sum < "$img")"
assert_match "state" "state=taken .*error=0" "$(nl snapshot-get "$id" | head -1)"

nl snapshot-destroy "$id"
nl detach "$DISK1"
unload_module
