#!/bin/bash
# disks: 128M 128M
# timeout: 600
#
# The module cannot be unloaded while it tracks a device; attach and
# detach race with writes in flight on both disks without harm; the
# module unloads cleanly while writers keep going, and every live-object
# count is back to 0 before it does.
. "$BLKSNAP_SRC/tests/lib/common.sh"

load_module
nl attach "$DISK1" >/dev/null

step "unload while tracking is refused"
if rmmod blksnap 2>/tmp/rmmod.err; then
	fail "rmmod succeeded with a tracker attached"
fi
grep -qi "in use" /tmp/rmmod.err || fail "unexpected rmmod error: $(cat /tmp/rmmod.err)"
assert_eq "tracker survives" 1 "$(nl list | wc -l)"
assert_eq "objects while tracking" "trackers 1" "$(grep '^trackers ' "$OBJECTS")"

step "attach and detach 30 times while two writers run"
for d in "$DISK1" "$DISK2"; do
	fio --name="w$(basename "$d")" --filename="$d" --rw=randwrite --bs=4k \
		--iodepth=8 --ioengine=libaio --direct=1 --time_based \
		--runtime=600 --output=/dev/null &
	writers="${writers:-} $!"
done
sleep 2
for i in $(seq 30); do
	nl attach "$DISK2" >/dev/null
	[ $((i % 3)) = 0 ] && nl reset "$DISK1" >/dev/null
	nl detach "$DISK2"
done
changed=$(changed_blocks "$DISK1" | wc -l)
[ "$changed" -gt 0 ] || fail "the writer on $DISK1 left no mark"

step "detach everything, check counts, unload under I/O"
nl detach "$DISK1"
assert_no_objects
rmmod blksnap
sleep 2
# shellcheck disable=SC2086
kill $writers
wait || true

step "load again: a new generation, nothing left over"
load_module
info=$(nl attach "$DISK1")
assert_eq "snap number of a fresh tracker" 1 "$(field snap "$info")"
nl detach "$DISK1"
unload_module
