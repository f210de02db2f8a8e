#!/bin/bash
# disks: 64M
# timeout: 900
# kernels: first
#
# A snapshot created with bind-to-caller lives as long as its caller's bus
# connection: when the client is killed (SIGKILL, as a crash), blksnapd
# destroys the snapshot and removes its storage files from the pool
# directory; a snapshot created without it outlives its client.
. "$BLKSNAP_SRC/tests/lib/common.sh"
. "$BLKSNAP_SRC/tests/lib/dbus-env.sh"
prop() { # OBJECT IFACE NAME -> the value of a property, as JSON
	bctl --json=short get-property "$BUS_NAME" "$1" "$IFACE.$2" "$3" | jq -c .data
}
# hold OUT OPTIONS...: a python3-dbus client creates and takes a snapshot of
# $dev_obj and stays connected; its pid in $holder, the snapshot in $snap
hold() {
	local out=$1
	shift
	/usr/bin/python3 "$BLKSNAP_SRC/tests/lib/blksnapd_client.py" hold "$dev_obj" -- "$@" >"$out" 2>&1 &
	holder=$!
	for _ in $(seq 600); do
		grep -q '^ready$' "$out" && break
		kill -0 "$holder" 2>/dev/null || fail "the client died: $(cat "$out")"
		sleep 0.1
	done
	grep -q '^ready$' "$out" || fail "the client did not get ready: $(cat "$out")"
	snap=$(sed -n 's/^snapshot=//p' "$out")
}

load_module
dbus_env_start
blksnapd_start
orig=$DISK1 pool=/var/tmp/pool
mkdir -p "$pool"
dev_obj=$(bctl --json=short call "$BUS_NAME" "$ROOT_PATH" "$IFACE.Manager" TrackDevice \
	'sa{sv}' "$orig" 0 | jq -r '.data[0]')

step "arrange: a client holds a taken snapshot bound to it, storage from $pool"
hold /tmp/bound bind-to-caller=b:true storage-pool=s:"$pool" storage-initial=t:8388608
echo "snapshot $snap"
assert_eq BoundToCaller true "$(prop "$snap" Snapshot BoundToCaller)"
assert_eq State '"taken"' "$(prop "$snap" Snapshot State)"
files=$(ls -A "$pool")
[ -n "$files" ] || fail "no storage file in $pool"
[ -n "$(nl snapshot-list)" ] || fail "no snapshot in the kernel"

step "act: kill -9 the client"
kill -KILL "$holder"
wait "$holder" 2>/dev/null || :

step "assert: the snapshot and its storage files are gone"
for _ in $(seq 100); do
	[ -n "$(nl snapshot-list)" ] || break
	sleep 0.1
done
assert_eq "snapshots in the kernel" "" "$(nl snapshot-list)"
if prop "$snap" Snapshot State 2>/dev/null; then fail "$snap is still on the bus"; fi
assert_eq "files left in $pool" "" "$(ls -A "$pool")"
assert_eq "Device.Snapshot" '"/"' "$(prop "$dev_obj" Device Snapshot)"

step "act: the same without bind-to-caller; kill -9 the client"
hold /tmp/unbound storage-pool=s:"$pool" storage-initial=t:8388608
assert_eq BoundToCaller false "$(prop "$snap" Snapshot BoundToCaller)"
kill -KILL "$holder"
wait "$holder" 2>/dev/null || :
sleep 3

step "assert: that snapshot stays, taken, with its files"
assert_eq State '"taken"' "$(prop "$snap" Snapshot State)"
assert_eq "state in the kernel" "taken error=0" "$(snap_state "$(prop "$snap" Snapshot Id | tr -d '"')")"
[ -n "$(ls -A "$pool")" ] || fail "the storage files of $snap are gone"
bctl call "$BUS_NAME" "$snap" "$IFACE.Snapshot" Destroy 'a{sv}' 0
assert_eq "files left in $pool" "" "$(ls -A "$pool")"

bctl call "$BUS_NAME" "$dev_obj" "$IFACE.Device" Untrack 'a{sv}' 0
blksnapd_stop || fail "blksnapd exited with status $? on SIGTERM"
unload_module
