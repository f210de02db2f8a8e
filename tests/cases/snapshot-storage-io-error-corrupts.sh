#!/bin/bash
# disks: 64M
# timeout: 300
#
# A snapshot whose difference storage fails every write (a device-mapper
# "error" target) becomes corrupted with EIO at the first copy: the event
# names the device, the image fails reads, the original holds exactly what
# was written, and its CBT map starts a new generation.
. "$BLKSNAP_SRC/tests/lib/common.sh"

load_module
modprobe dm-mod
dmsetup create blksnap-bad --table "0 262144 error"
dmsetup mknodes
bad=/dev/mapper/blksnap-bad
[ -b "$bad" ] || fail "no $bad"

dd if=/dev/zero of="$DISK1" bs=1M count=64 oflag=direct status=none
gen1=$(field generation "$(nl attach "$DISK1")")
id=$(nl snapshot-create "$DISK1" | sed -n 's/^snapshot=\([^ ]*\).*/\1/p')
nl snapshot-append "$id" "$bad:0+262144" >/dev/null
"$NL" monitor --count 20 --timeout 60 > /tmp/events &
monitor=$!
for _ in $(seq 100); do grep -q '^ready$' /tmp/events && break; sleep 0.1; done
nl snapshot-take "$id" >/dev/null
img=/dev/$(nl snapshot-get "$id" | sed -n 's/.* image=\([^ ]*\).*/\1/p')

step "a write to the original: its copy fails, the write does not"
dd if=/dev/urandom of=/tmp/data bs=1M count=4 status=none
dd if=/tmp/data of="$DISK1" bs=1M seek=8 oflag=direct status=none
assert_eq "the original holds what was written" "$(md5sum < /tmp/data)" \
	"$(dd if="$DISK1" bs=1M skip=8 count=4 iflag=direct status=none | md5sum)"

step "the snapshot is corrupted with EIO"
for _ in $(seq 100); do
	grep -q "^event=snapshot-corrupted snapshot=$id" /tmp/events && break
	sleep 0.1
done
assert_match "corrupted event" "^event=snapshot-corrupted snapshot=$id error=5 dev=$(devnum "$DISK1")" \
	"$(grep "^event=snapshot-corrupted" /tmp/events)"
assert_match "state" "state=corrupted .*error=5" "$(nl snapshot-get "$id" | head -1)"
if dd if="$img" of=/dev/null bs=4k count=1 iflag=direct status=none 2>/dev/null; then
	fail "the image of a corrupted snapshot can be read"
fi
gen2=$(field generation "$(nl get "$DISK1")")
[ "$gen1" != "$gen2" ] || fail "the CBT generation did not change"
kill "$monitor" 2>/dev/null || true

nl snapshot-destroy "$id"
nl detach "$DISK1"
dmsetup remove blksnap-bad
unload_module
