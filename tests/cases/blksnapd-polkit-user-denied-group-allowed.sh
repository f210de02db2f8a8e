#!/bin/bash
# disks: 64M 64M
# timeout: 1200
# kernels: first
#
# polkit decides for blksnapd: a user without root is refused every
# tracking, snapshot and data method with AccessDenied and the kernel's state
# stays as it was; with the example rules installed, a member of
# blksnap-backup (no root, no capability) tracks a device, snapshots it,
# reads its image through OpenImage and gets its changed extents, while the
# other user is still refused.
. "$BLKSNAP_SRC/tests/lib/common.sh"
. "$BLKSNAP_SRC/tests/lib/dbus-env.sh"
client() { /usr/bin/python3 "$BLKSNAP_SRC/tests/lib/blksnapd_client.py" "$@"; }
# gcall USER OBJECT METHOD ARGS...: gdbus call as USER; prints the reply or
# "Error: GDBus.Error:NAME: MESSAGE", and fails only if gdbus cannot run.
gcall() {
	local user=$1 obj=$2 method=$3
	shift 3
	as_user "$user" gdbus call --system --dest "$BUS_NAME" --object-path "$obj" \
		--method "$IFACE.$method" "$@" 2>&1 || :
}
# expect_denied USER OBJECT METHOD ARGS...
expect_denied() {
	local out
	out=$(gcall "$@")
	assert_match "$1: $3" "GDBus.Error:org.freedesktop.DBus.Error.AccessDenied: .+" "$out"
	echo "ok: $1 refused $3: $out"
}
# state: everything the kernel has (trackers, maps, snapshots)
state() {
	nl list
	for dev in $(nl list | sed -n 's/^dev=\([0-9:]*\) .*/\1/p'); do nl map "$dev"; done
	nl snapshot-list
}

load_module
dbus_env_start
blksnapd_start
orig=$DISK1 pool=$DISK2
dd if=/dev/urandom of="$orig" bs=1M count=$(($(sectors "$orig") / 2048)) oflag=direct status=none
dev=$(devnum "$orig")
dev_obj=$ROOT_PATH/device/${dev/:/_}

step "act+assert: without the rules, $OTHER_USER and $BACKUP_USER are refused TrackDevice"
for user in "$OTHER_USER" "$BACKUP_USER"; do
	expect_denied "$user" "$ROOT_PATH" Manager.TrackDevice "$orig" "{}"
	expect_denied "$user" "$ROOT_PATH" Manager.TrackDevice "$orig" "{'auth.no_user_interaction': <true>}"
done
assert_eq "trackers in the kernel" "" "$(nl list)"

step "arrange: root tracks $orig and creates a snapshot with storage"
bctl call "$BUS_NAME" "$ROOT_PATH" "$IFACE.Manager" TrackDevice 'sa{sv}' "$orig" 0 >/dev/null
nl mark "$orig" 0+8 >/dev/null
snap=$(bctl --json=short call "$BUS_NAME" "$ROOT_PATH" "$IFACE.Manager" CreateSnapshot \
	'aoa{sv}' 1 "$dev_obj" 0 | jq -r '.data[0]')
before=$(state)
echo "$before"

step "act+assert: $OTHER_USER is refused every method that changes or reads data"
u=$OTHER_USER
expect_denied "$u" "$dev_obj" Device.MarkDirty "[(0, 1048576)]" "{}"
expect_denied "$u" "$dev_obj" Device.ResetTracking "{}"
expect_denied "$u" "$dev_obj" Device.Untrack "{}"
expect_denied "$u" "$ROOT_PATH" Manager.CreateSnapshot "['$dev_obj']" "{}"
expect_denied "$u" "$snap" Snapshot.AddStorageRanges "$pool" "[(0, 8388608)]" "{}"
expect_denied "$u" "$snap" Snapshot.Take "{}"
expect_denied "$u" "$snap" Snapshot.Destroy "{}"
expect_denied "$u" "$snap" Snapshot.GetImages "{}"
assert_eq "the kernel's state" "$before" "$(state)"
assert_eq "State" "'created'" "$(bctl get-property "$BUS_NAME" "$snap" "$IFACE.Snapshot" State | sed "s/^s \"\(.*\)\"/'\1'/")"
bctl call "$BUS_NAME" "$snap" "$IFACE.Snapshot" Destroy 'a{sv}' 0
bctl call "$BUS_NAME" "$dev_obj" "$IFACE.Device" Untrack 'a{sv}' 0

step "arrange: the example rules"
install_backup_rules

step "act: $BACKUP_USER tracks $orig, writes happen, snapshots it with storage of $pool, takes it"
u=$BACKUP_USER
out=$(gcall "$u" "$ROOT_PATH" Manager.TrackDevice "$orig" "{'block-size': <uint64 65536>}")
assert_eq "TrackDevice as $u" "(objectpath '$dev_obj',)" "$out"
gen=$(field generation "$(nl get "$orig")")
dd if=/dev/urandom of="$orig" bs=65536 seek=3 count=2 oflag=direct conv=notrunc status=none
sum=$(device_sum "$orig")
out=$(gcall "$u" "$ROOT_PATH" Manager.CreateSnapshot "['$dev_obj']" "{}")
snap=$(printf '%s\n' "$out" | sed -n "s/^(objectpath '\(.*\)',)$/\1/p")
[ -n "$snap" ] || fail "CreateSnapshot as $u: $out"
out=$(gcall "$u" "$snap" Snapshot.AddStorageRanges "$pool" "[(0, 33554432)]" "{}")
assert_eq "AddStorageRanges as $u" "()" "$out"
out=$(gcall "$u" "$snap" Snapshot.Take "{}")
assert_eq "Take as $u" "()" "$out"
assert_eq "the kernel's snapshot state" "taken error=0" "$(snap_state "$(snap_field snapshot "$(nl snapshot-list)")")"
dd if=/dev/urandom of="$orig" bs=1M count=8 oflag=direct conv=notrunc status=none

step "assert: $BACKUP_USER lists the images, reads one and the changed extents; $OTHER_USER may not"
img=$(snap_image "$orig" "$(nl snapshot-list)")
assert_eq "GetImages as $u" "([(objectpath '$dev_obj', '$img', '$gen', uint64 1)],)" \
	"$(gcall "$u" "$snap" Snapshot.GetImages "{}")"
out=$(as_user "$u" /usr/bin/python3 "$BLKSNAP_SRC/tests/lib/blksnapd_client.py" image-sum "$snap" "$dev_obj")
assert_eq "OpenImage as $u" "size=$(( $(sectors "$orig") * 512 )) md5=$sum access=ro" "$out"
out=$(as_user "$u" /usr/bin/python3 "$BLKSNAP_SRC/tests/lib/blksnapd_client.py" extents "$snap" "$dev_obj" "$gen" 0)
assert_eq "GetChangedExtents as $u" "seals=0xf
196608+131072" "$out"
out=$(as_user "$OTHER_USER" /usr/bin/python3 "$BLKSNAP_SRC/tests/lib/blksnapd_client.py" image-sum "$snap" "$dev_obj" 2>&1) &&
	fail "OpenImage as $OTHER_USER succeeded: $out"
assert_match "OpenImage as $OTHER_USER" "^error: org.freedesktop.DBus.Error.AccessDenied: .+" "$out"
expect_denied "$OTHER_USER" "$snap" Snapshot.GetChangedExtents "$dev_obj" "$gen" 0 "{}"
expect_denied "$OTHER_USER" "$snap" Snapshot.Destroy "{}"

step "act: $BACKUP_USER destroys the snapshot and untracks"
assert_eq "Destroy as $u" "()" "$(gcall "$u" "$snap" Snapshot.Destroy "{}")"
assert_eq "Untrack as $u" "()" "$(gcall "$u" "$dev_obj" Device.Untrack "{}")"
assert_eq "the kernel's state" "" "$(state)"

blksnapd_stop || fail "blksnapd exited with status $? on SIGTERM"
unload_module
