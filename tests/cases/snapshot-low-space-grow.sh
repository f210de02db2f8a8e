#!/bin/bash
# disks: 256M 512M
# timeout: 900
#
# A snapshot that starts with little difference storage and a low-free
# threshold asks for more with snapshot-low-space events while heavy writes
# go on; a client answering each event by appending a range keeps it
# healthy to the end: the events arrive, never more than one per append
# (plus the first), storage_total grows, and the image still reads as the
# device did at the take.
. "$BLKSNAP_SRC/tests/lib/common.sh"

load_module
orig=$DISK1 pool=$DISK2
grow=65536		# sectors appended per event: 32 MiB
first=131072		# the storage given before the take: 64 MiB
low=65536		# the low-free threshold: 32 MiB
pool_end=$(sectors "$pool")
mib=$(($(sectors "$orig") / 2048))

step "arrange: $orig full of data, tracked; a snapshot with $first sectors of storage"
dd if=/dev/urandom of="$orig" bs=1M count="$mib" oflag=direct status=none
sum=$(device_sum "$orig")
nl attach "$orig" >/dev/null
info=$(nl snapshot-create "$orig" --low-free "$low")
id=$(snap_field snapshot "$info")
assert_eq "low_free" "$low" "$(snap_field low_free "$info")"
info=$(nl snapshot-append "$id" "$pool:0+$first")
assert_eq "storage_total" "$first" "$(snap_field storage_total "$info")"

step "arrange: a client appends $grow sectors of $pool for each low-space event"
rm -f /tmp/events /tmp/appends /tmp/events.fifo
touch /tmp/appends
mkfifo /tmp/events.fifo
"$NL" monitor --timeout 850 >/tmp/events.fifo &
monitor=$!
(
	next=$first
	while read -r line; do
		echo "$line" >>/tmp/events
		case $line in
		"event=snapshot-low-space snapshot=$id "*) ;;
		*) continue ;;
		esac
		if [ $((next + grow)) -gt "$pool_end" ]; then
			echo "pool exhausted" >>/tmp/appends
			continue
		fi
		if nl snapshot-append "$id" "$pool:$next+$grow" >/dev/null; then
			echo "appended $next+$grow" >>/tmp/appends
		else
			echo "append failed: exit status $?" >>/tmp/appends
		fi
		next=$((next + grow))
	done </tmp/events.fifo
) &
client=$!
wait_ready /tmp/events

step "act: take, then overwrite all of $orig ($mib MiB)"
nl snapshot-take "$id" >/dev/null
img=$(snap_image "$orig" "$(nl snapshot-get "$id")")
dd if=/dev/urandom of="$orig" bs=1M count="$mib" oflag=direct status=none ||
	fail "writing to $orig failed"
sync
sleep 2
kill "$monitor"
wait "$monitor" || :
wait "$client" || fail "the client failed"
cat /tmp/appends

step "assert: the snapshot stayed healthy and the image is the device at the take"
info=$(nl snapshot-get "$id")
echo "$info"
assert_eq "state" "taken error=0" "$(snap_state "$id")"
if grep "^event=snapshot-corrupted snapshot=$id" /tmp/events; then
	fail "the snapshot was corrupted"
fi
assert_eq "checksum of the image" "$sum" "$(device_sum "$img")"
[ "$(device_sum "$orig")" != "$sum" ] || fail "$orig did not change"

step "assert: events arrived, one per append at most (plus the first)"
grep "^event=snapshot-low-space snapshot=$id " /tmp/events | sed -n '1,3p'
events=$(grep -c "^event=snapshot-low-space snapshot=$id " /tmp/events || :)
appends=$(grep -c '^appended ' /tmp/appends || :)
problems=$(grep -v '^appended ' /tmp/appends || :)
[ -z "$problems" ] || fail "the client: $problems"
[ "$events" -ge 1 ] || fail "no snapshot-low-space event"
[ "$events" -le $((appends + 1)) ] || fail "$events low-space events for $appends appends"
while read -r line; do
	[ "$(field wanted "$line")" -gt 0 ] || fail "an event wants nothing: $line"
done < <(grep "^event=snapshot-low-space snapshot=$id " /tmp/events)
echo "ok: $events low-space events, $appends appends"

step "assert: storage_total grew by the appends, and not past what was asked for"
total=$(snap_field storage_total "$info")
used=$(snap_field storage_used "$info")
assert_eq "storage_total" $((first + appends * grow)) "$total"
[ $((total - used)) -le $((low + grow)) ] ||
	fail "$((total - used)) sectors free: more was asked for than needed"

nl snapshot-destroy "$id"
nl detach "$orig"
unload_module
