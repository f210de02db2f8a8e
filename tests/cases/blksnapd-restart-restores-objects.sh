#!/bin/bash
# disks: 64M 64M
# timeout: 900
# kernels: first
#
# blksnapd killed with SIGKILL while a snapshot is taken loses nothing: the
# kernel keeps the snapshot, and the restarted service shows the same
# Device and Snapshot objects with the same properties, its own state
# included (a storage pool it still grows from and cleans up, a snapshot
# bound to a caller still connected); the image still reads as at the take.
. "$BLKSNAP_SRC/tests/lib/common.sh"
. "$BLKSNAP_SRC/tests/lib/dbus-env.sh"
prop() { # OBJECT IFACE NAME -> the value of a property, as JSON
	bctl --json=short get-property "$BUS_NAME" "$1" "$IFACE.$2" "$3" | jq -c .data
}
# objects: every object and property of the service, one per line, sorted
objects() {
	bctl --json=short call "$BUS_NAME" "$ROOT_PATH" org.freedesktop.DBus.ObjectManager \
		GetManagedObjects | jq -c '.data[0] | to_entries[] | .key as $o | .value |
			to_entries[] | .key as $i | .value | to_entries[] | [$o, $i, .key, .value.data]' |
		sort
}
mib=$((1024 * 1024))

load_module
dbus_env_start
blksnapd_start
orig=$DISK1 other=$DISK2 pool=/var/tmp/pool
mkdir -p "$pool"
dd if=/dev/urandom of="$orig" bs=1M count=$(($(sectors "$orig") / 2048)) oflag=direct status=none

step "arrange: $orig and $other tracked; a snapshot of $orig from $pool, taken, bound to a live client"
dev_obj=$(bctl --json=short call "$BUS_NAME" "$ROOT_PATH" "$IFACE.Manager" TrackDevice \
	'sa{sv}' "$orig" 0 | jq -r '.data[0]')
bctl call "$BUS_NAME" "$ROOT_PATH" "$IFACE.Manager" TrackDevice 'sa{sv}' "$other" 1 block-size t 16384 >/dev/null
/usr/bin/python3 "$BLKSNAP_SRC/tests/lib/blksnapd_client.py" hold "$dev_obj" -- bind-to-caller=b:true \
	storage-pool=s:"$pool" storage-initial=t:$((8 * mib)) storage-limit=t:$((64 * mib)) \
	low-free-bytes=t:$((4 * mib)) >/tmp/holder 2>&1 &
holder=$!
for _ in $(seq 600); do
	grep -q '^ready$' /tmp/holder && break
	kill -0 "$holder" 2>/dev/null || fail "the client died: $(cat /tmp/holder)"
	sleep 0.1
done
snap=$(sed -n 's/^snapshot=//p' /tmp/holder)
[ -n "$snap" ] || fail "the client did not get ready: $(cat /tmp/holder)"
sum=$(device_sum "$orig")
img=$(bctl --json=short call "$BUS_NAME" "$snap" "$IFACE.Snapshot" GetImages 'a{sv}' 0 | jq -r '.data[0][0][1]')
before=$(objects)
echo "$before"
kernel=$(nl snapshot-list; nl list)
files=$(ls "$pool")

step "act: SIGKILL blksnapd, then start it again"
blksnapd_kill
assert_eq "the kernel while the service is down" "$kernel" "$(nl snapshot-list; nl list)"
blksnapd_start

step "assert: the same objects with the same properties"
assert_eq "objects after the restart" "$before" "$(objects)"
assert_eq BoundToCaller true "$(prop "$snap" Snapshot BoundToCaller)"
assert_eq "the image" "$sum" "$(device_sum "$img")"

step "act: overwrite 32 MiB of $orig (needs the pool to grow)"
gdbus monitor --system --dest "$BUS_NAME" >/tmp/monitor 2>&1 &
monitor=$!
sleep 2
for i in $(seq 0 7); do
	dd if=/dev/urandom of="$orig" bs=1M seek=$((i * 4)) count=4 oflag=direct conv=notrunc status=none
	sleep 0.5
done
sleep 2
kill "$monitor"

step "assert: the restarted service grew the storage from the pool; the image is intact"
assert_eq State '"taken"' "$(prop "$snap" Snapshot State)"
assert_match "StorageGrown after the restart" "$snap: $IFACE.Snapshot.StorageGrown " "$(cat /tmp/monitor)"
assert_eq "the image" "$sum" "$(device_sum "$img")"

step "act: kill the bound client; assert: snapshot and pool files gone"
kill -KILL "$holder"
wait "$holder" 2>/dev/null || :
for _ in $(seq 100); do
	[ -n "$(nl snapshot-list)" ] || break
	sleep 0.1
done
assert_eq "snapshots in the kernel" "" "$(nl snapshot-list)"
assert_eq "files left in $pool (were: $files)" "" "$(ls -A "$pool")"

bctl call "$BUS_NAME" "$dev_obj" "$IFACE.Device" Untrack 'a{sv}' 0
nl detach "$other"
blksnapd_stop || fail "blksnapd exited with status $? on SIGTERM"
unload_module
