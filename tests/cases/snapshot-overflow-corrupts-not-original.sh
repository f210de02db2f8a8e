#!/bin/bash
# disks: 64M 64M
# timeout: 600
#
# When the writes after the take need more difference storage than the
# snapshot has, the snapshot becomes corrupted (ENOSPC, with an event naming
# the device), its image fails reads with EIO and the device's CBT
# generation is renewed, but the original device takes every write: it
# holds exactly what was written.  Destroy then releases everything.
. "$BLKSNAP_SRC/tests/lib/common.sh"

load_module
orig=$DISK1 storage=$DISK2
dev=$(devnum "$orig")
mib=$(($(sectors "$orig") / 2048))

step "arrange: $orig full of data, tracked; 8 MiB of storage for $mib MiB"
dd if=/dev/urandom of="$orig" bs=1M count="$mib" oflag=direct status=none
gen_before=$(field generation "$(nl attach "$orig")")
info=$(nl snapshot-create "$orig")
id=$(snap_field snapshot "$info")
nl snapshot-append "$id" "$storage:0+16384" >/dev/null
"$NL" monitor --timeout 300 >/tmp/events &
monitor=$!
wait_ready /tmp/events
info=$(nl snapshot-take "$id")
img=$(snap_image "$orig" "$info")
assert_eq "generation frozen by the take" "$gen_before" \
	"$(snap_device_field generation "$orig" "$info")"

step "act: write $mib MiB of known data to $orig, more than the storage holds"
dd if=/dev/urandom of=/tmp/written bs=1M count="$mib" status=none
dd if=/tmp/written of="$orig" bs=1M oflag=direct status=none ||
	fail "a write to the original device failed"
sync

step "assert: the snapshot is corrupted with ENOSPC, and says so in an event"
for _ in $(seq 50); do
	[ "$(snap_field state "$(nl snapshot-get "$id")")" != corrupted ] || break
	sleep 0.2
done
info=$(nl snapshot-get "$id")
echo "$info"
assert_eq "state" "corrupted error=28" "$(snap_state "$id")"
for _ in $(seq 50); do
	grep -q "^event=snapshot-corrupted snapshot=$id " /tmp/events && break
	sleep 0.2
done
assert_eq "corrupted event" "event=snapshot-corrupted snapshot=$id error=28 dev=$dev" \
	"$(grep "^event=snapshot-corrupted snapshot=$id " /tmp/events || :)"

step "assert: the image fails reads with EIO"
rc=0
err=$(dd if="$img" of=/dev/null bs=1M iflag=direct 2>&1) || rc=$?
[ "$rc" != 0 ] || fail "reading the corrupted image $img succeeded"
assert_match "dd's error on $img" "Input/output error" "$err"
echo "ok: dd exit status $rc: $(head -n 1 <<<"$err")"

step "assert: the original holds exactly what was written"
echo 3 >/proc/sys/vm/drop_caches
assert_eq "checksum of $orig" "$(md5sum </tmp/written | cut -d' ' -f1)" \
	"$(device_sum "$orig")"

step "assert: the device's CBT generation was renewed"
gen_after=$(field generation "$(nl get "$orig")")
[ "$gen_after" != "$gen_before" ] || fail "generation still $gen_before after the corruption"
echo "ok: generation $gen_before -> $gen_after"

step "destroy releases everything"
nl snapshot-destroy "$id"
assert_eq "snapshots" "" "$(nl snapshot-list)"
[ ! -e "$img" ] || fail "$img still exists after destroy"
sleep 1
kill "$monitor"
wait "$monitor" || :
grep '^event=snapshot-' /tmp/events
grep -q "^event=snapshot-del snapshot=$id$" /tmp/events || fail "no snapshot-del event"
nl detach "$orig"
assert_no_objects
unload_module
