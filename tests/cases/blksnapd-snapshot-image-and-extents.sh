#!/bin/bash
# disks: 64M 64M
# timeout: 900
# kernels: first
#
# A snapshot's whole life through blksnapd (busctl, gdbus and python3-dbus):
# CreateSnapshot, AddStorageRanges and AddStorageFile grow StorageTotal,
# Take moves it to "taken" and links the Device to it, GetImages names the
# kernel's image with its frozen generation and snap number, an OpenImage fd
# reads byte for byte what the image device reads (the device at the take,
# not after), GetChangedExtents gives a sealed memfd with exactly the byte
# extents written since tracking began (GenerationChanged for another
# generation), and Destroy removes it from the kernel and the bus.
. "$BLKSNAP_SRC/tests/lib/common.sh"
. "$BLKSNAP_SRC/tests/lib/dbus-env.sh"
client() { /usr/bin/python3 "$BLKSNAP_SRC/tests/lib/blksnapd_client.py" "$@"; }
prop() { # OBJECT IFACE NAME -> the value of a property, as JSON
	bctl --json=short get-property "$BUS_NAME" "$1" "$IFACE.$2" "$3" | jq -c .data
}

load_module
dbus_env_start
blksnapd_start
orig=$DISK1 pool=$DISK2

step "arrange: $orig full of data, tracked (4 KiB blocks), then two writes"
dd if=/dev/urandom of="$orig" bs=1M count=$(($(sectors "$orig") / 2048)) oflag=direct status=none
dev_obj=$(bctl --json=short call "$BUS_NAME" "$ROOT_PATH" "$IFACE.Manager" TrackDevice \
	'sa{sv}' "$orig" 1 block-size t 4096 | jq -r '.data[0]')
gen=$(field generation "$(nl get "$orig")")
dd if=/dev/urandom of="$orig" bs=4096 seek=256 count=16 oflag=direct conv=notrunc status=none
dd if=/dev/urandom of="$orig" bs=4096 seek=2560 count=1 oflag=direct conv=notrunc status=none
sum=$(device_sum "$orig")
gdbus monitor --system --dest "$BUS_NAME" >/tmp/monitor 2>&1 &
monitor=$!
sleep 2

step "act: CreateSnapshot (busctl), 16 MiB of $pool, a 32 MiB file"
snap=$(bctl --json=short call "$BUS_NAME" "$ROOT_PATH" "$IFACE.Manager" CreateSnapshot \
	'aoa{sv}' 1 "$dev_obj" 1 chunk-size t 65536 | jq -r '.data[0]')
assert_match "snapshot object" "^$ROOT_PATH/snapshot/[0-9a-f]{32}$" "$snap"
id=$(prop "$snap" Snapshot Id | tr -d '"')
assert_eq "Id is the kernel's snapshot" "$(snap_field snapshot "$(nl snapshot-list)")" "$id"
assert_eq State '"created"' "$(prop "$snap" Snapshot State)"
assert_eq Devices "[\"$dev_obj\"]" "$(prop "$snap" Snapshot Devices)"
assert_eq ChunkSize 65536 "$(prop "$snap" Snapshot ChunkSize)"
assert_eq BoundToCaller false "$(prop "$snap" Snapshot BoundToCaller)"
bctl call "$BUS_NAME" "$snap" "$IFACE.Snapshot" AddStorageRanges 'sa(tt)a{sv}' \
	"$pool" 2 0 8388608 8388608 8388608 0
assert_eq StorageTotal 16777216 "$(prop "$snap" Snapshot StorageTotal)"
client add-file "$snap" /var/tmp/storage 33554432
assert_eq StorageTotal $((16777216 + 33554432)) "$(prop "$snap" Snapshot StorageTotal)"
assert_eq "storage_total of the kernel" $(((16777216 + 33554432) / 512)) \
	"$(snap_field storage_total "$(nl snapshot-get "$id")")"

step "act: Take (gdbus), then overwrite 32 MiB of $orig"
gdbus call --system --dest "$BUS_NAME" --object-path "$snap" --method "$IFACE.Snapshot.Take" "{}" >/dev/null
assert_eq State '"taken"' "$(prop "$snap" Snapshot State)"
assert_eq "Device.Snapshot" "\"$snap\"" "$(prop "$dev_obj" Device Snapshot)"
info=$(nl snapshot-get "$id")
img=$(snap_image "$orig" "$info")
dd if=/dev/urandom of="$orig" bs=1M count=32 conv=notrunc oflag=direct status=none
[ "$(device_sum "$orig")" != "$sum" ] || fail "$orig did not change"

step "assert: GetImages (busctl) is the kernel's view"
images=$(bctl --json=short call "$BUS_NAME" "$snap" "$IFACE.Snapshot" GetImages 'a{sv}' 0 | jq -c '.data[0]')
assert_eq GetImages "[[\"$dev_obj\",\"$img\",\"$(snap_device_field generation "$orig" "$info")\",$(snap_device_field snap "$orig" "$info")]]" "$images"
assert_eq "frozen generation" "$gen" "$(snap_device_field generation "$orig" "$info")"

step "assert: an OpenImage fd reads what $img reads: $orig at the take"
out=$(client image-sum "$snap" "$dev_obj")
echo "$out"
assert_eq "OpenImage" "size=$(( $(sectors "$orig") * 512 )) md5=$sum access=ro" "$out"
assert_eq "the image device" "$sum" "$(device_sum "$img")"
assert_match "OpenImage writable" 'access=rw$' "$(client image-sum "$snap" "$dev_obj" writable)"

step "assert: GetChangedExtents since snap number 0 of $gen: the two writes, sealed"
out=$(client extents "$snap" "$dev_obj" "$gen" 0)
echo "$out"
assert_eq "extents" "seals=0xf
1048576+65536
10485760+4096" "$out"
err=$(client extents "$snap" "$dev_obj" 01234567-89ab-cdef-0123-456789abcdef 0 2>&1) &&
	fail "GetChangedExtents of another generation succeeded: $err"
assert_match "another generation" "^error: $IFACE.Error.GenerationChanged: .+" "$err"

step "act: Destroy (busctl)"
bctl call "$BUS_NAME" "$snap" "$IFACE.Snapshot" Destroy 'a{sv}' 0
assert_eq "snapshots in the kernel" "" "$(nl snapshot-list)"
assert_eq "Device.Snapshot" '"/"' "$(prop "$dev_obj" Device Snapshot)"
if prop "$snap" Snapshot State 2>/dev/null; then fail "$snap is still on the bus"; fi
[ ! -b "$img" ] || fail "$img is still there"
sleep 1
kill "$monitor"

step "assert: the signals of the snapshot's life were sent"
cat /tmp/monitor
assert_match "InterfacesAdded" "InterfacesAdded \(objectpath '$snap'" "$(cat /tmp/monitor)"
assert_match "State taken" "$snap: org.freedesktop.DBus.Properties.PropertiesChanged \('$IFACE.Snapshot', \{[^}]*'State': <'taken'>" "$(cat /tmp/monitor)"
assert_match "Device.Snapshot changed" "$dev_obj: org.freedesktop.DBus.Properties.PropertiesChanged \('$IFACE.Device', \{[^}]*'Snapshot': <objectpath '$snap'>" "$(cat /tmp/monitor)"
assert_match "InterfacesRemoved" "InterfacesRemoved \(objectpath '$snap'" "$(cat /tmp/monitor)"

bctl call "$BUS_NAME" "$dev_obj" "$IFACE.Device" Untrack 'a{sv}' 0
blksnapd_stop || fail "blksnapd exited with status $? on SIGTERM"
unload_module
