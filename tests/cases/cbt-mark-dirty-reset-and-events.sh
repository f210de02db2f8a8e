#!/bin/bash
# disks: 64M
# timeout: 300
#
# Mark-dirty marks exactly the blocks its sector ranges touch, at the
# current snap number; reset starts a new generation (new id, clean map,
# snap number 1); attach, reset and detach are announced on the events
# multicast group.
. "$BLKSNAP_SRC/tests/lib/common.sh"

load_module
dev=$(devnum "$DISK1")

step "subscribe to the events group"
nl monitor --count 3 --timeout 120 > /tmp/events &
monitor=$!
for _ in $(seq 100); do
	grep -q '^ready$' /tmp/events && break
	sleep 0.1
done
grep -q '^ready$' /tmp/events || fail "monitor did not subscribe"

info=$(nl attach "$DISK1" 8192)
gen1=$(field generation "$info")

step "mark ranges: partial blocks, several ranges in one request"
# 8 KiB blocks are 16 sectors: sector 15 is in block 0, sectors 16-47 are
# blocks 1-2, one sector at 1000 is in block 62; the last sector of the
# device is in the last block.
last=$(( $(sectors "$DISK1") - 1 ))
nl mark "$DISK1" 15+1 16+32 1000+1 "$last+1"
assert_eq "marked blocks" "0+3=1
62+1=1
$(( last / 16 ))+1=1" "$(changed_blocks "$DISK1")"

step "a bad range in a request marks nothing, not even the good ones"
expect_errno ERANGE "past the end of the device" nl mark "$DISK1" 2000+16 "$last+2"
assert_eq "map unchanged" "0+3=1
62+1=1
$(( last / 16 ))+1=1" "$(changed_blocks "$DISK1")"

step "reset: new generation, clean map, snap number 1"
info=$(nl reset "$DISK1")
gen2=$(field generation "$info")
[ "$gen1" != "$gen2" ] || fail "generation id did not change on reset"
assert_eq "snap after reset" 1 "$(field snap "$info")"
assert_eq "map after reset" "" "$(changed_blocks "$DISK1")"
assert_eq "generation reported by get" "$gen2" "$(field generation "$(nl get "$DISK1")")"
assert_eq "generation of map" "$gen2" \
	"$(nl map "$DISK1" | sed -n 's/^generation=\([^ ]*\).*/\1/p')"

step "writes after the reset are tracked in the new generation"
dd if=/dev/urandom of="$DISK1" bs=8k seek=5 count=1 oflag=direct status=none
assert_eq "map after write" "5+1=1" "$(changed_blocks "$DISK1")"

nl detach "$DISK1"

step "the events: attach, reset, detach, in order"
wait "$monitor" || fail "monitor failed: $(cat /tmp/events)"
events=$(grep '^event=' /tmp/events)
assert_match "attach event" "^event=tracker-add dev=$dev .*generation=$gen1" \
	"$(sed -n 1p <<<"$events")"
assert_match "reset event" "^event=tracker-change dev=$dev .*generation=$gen2.* snap=1" \
	"$(sed -n 2p <<<"$events")"
assert_eq "detach event" "event=tracker-del dev=$dev" "$(sed -n 3p <<<"$events")"

unload_module
