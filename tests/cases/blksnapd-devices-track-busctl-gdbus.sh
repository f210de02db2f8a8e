#!/bin/bash
# disks: 64M 32M
# timeout: 600
# kernels: first
#
# Through busctl and gdbus, blksnapd's Manager tracks a device and its
# Device object shows the kernel's tracker (every property), MarkDirty
# marks exactly the blocks of its byte ranges, ResetTracking starts a new
# generation and Untrack detaches, each with its signals; a tracker attached
# and detached behind the service's back by a netlink client appears and
# disappears on the bus (ObjectManager signals) all the same.
. "$BLKSNAP_SRC/tests/lib/common.sh"
. "$BLKSNAP_SRC/tests/lib/dbus-env.sh"

load_module
dbus_env_start
blksnapd_start
dev1=$(devnum "$DISK1") dev2=$(devnum "$DISK2")
obj1=$ROOT_PATH/device/${dev1/:/_} obj2=$ROOT_PATH/device/${dev2/:/_}

# prop OBJECT IFACE NAME -> the value of a property, as JSON
prop() {
	bctl --json=short get-property "$BUS_NAME" "$1" "$IFACE.$2" "$3" | jq -c .data
}

step "arrange: a monitor of everything blksnapd sends"
gdbus monitor --system --dest "$BUS_NAME" >/tmp/monitor 2>&1 &
monitor=$!
sleep 2

step "assert: the Manager's properties, through busctl and gdbus"
assert_eq "ModuleVersion" "\"$(field version "$(nl version)")\"" "$(prop "$ROOT_PATH" Manager ModuleVersion)"
assert_match "Version" '^"[0-9]+\.[0-9]+\.[0-9]+"$' "$(prop "$ROOT_PATH" Manager Version)"
out=$(gdbus introspect --system --dest "$BUS_NAME" --object-path "$ROOT_PATH")
for m in TrackDevice CreateSnapshot GetManagedObjects; do
	assert_match "introspection of $ROOT_PATH" "$m\(" "$out"
done

step "act: TrackDevice $DISK1 (busctl), block-size 8192"
out=$(bctl --json=short call "$BUS_NAME" "$ROOT_PATH" "$IFACE.Manager" TrackDevice \
	'sa{sv}' "$DISK1" 1 block-size t 8192 | jq -r '.data[0]')
assert_eq "TrackDevice's object" "$obj1" "$out"
tracker=$(nl get "$DISK1")
echo "$tracker"

step "assert: every Device property is the kernel's tracker"
assert_eq Path '"'"$DISK1"'"' "$(prop "$obj1" Device Path)"
assert_eq DeviceNumber "$(( $(stat -c '0x%t' "$DISK1") << 8 | $(stat -c '0x%T' "$DISK1") ))" \
	"$(prop "$obj1" Device DeviceNumber)"
assert_eq Size "$(( $(sectors "$DISK1") * 512 ))" "$(prop "$obj1" Device Size)"
assert_eq BlockSize 8192 "$(prop "$obj1" Device BlockSize)"
assert_eq BlockCount "$(field block_count "$tracker")" "$(prop "$obj1" Device BlockCount)"
assert_eq GenerationId "\"$(field generation "$tracker")\"" "$(prop "$obj1" Device GenerationId)"
assert_eq SnapNumber "$(field snap "$tracker")" "$(prop "$obj1" Device SnapNumber)"
assert_eq Snapshot '"/"' "$(prop "$obj1" Device Snapshot)"

step "assert: gdbus sees the device in GetManagedObjects, with its properties"
out=$(gdbus call --system --dest "$BUS_NAME" --object-path "$ROOT_PATH" \
	--method org.freedesktop.DBus.ObjectManager.GetManagedObjects)
assert_match "GetManagedObjects" "objectpath '$obj1': \{.*'$IFACE.Device': \{'Path': <'$DISK1'>" "$out"
assert_match "GetManagedObjects" "'BlockSize': <uint32 8192>" "$out"
assert_match "InterfacesAdded of $obj1" "InterfacesAdded \(objectpath '$obj1'" "$(cat /tmp/monitor)"

step "act: MarkDirty (gdbus) bytes 512+512 (block 0) and 16384+16896 (blocks 2-4)"
gdbus call --system --dest "$BUS_NAME" --object-path "$obj1" --method "$IFACE.Device.MarkDirty" \
	"[(512, 512), (16384, 16896)]" "{}" >/dev/null
assert_eq "changed blocks" "0+1=1
2+3=1" "$(changed_blocks "$DISK1")"

step "act: ResetTracking (busctl): a new generation, a clean map"
gen1=$(field generation "$tracker")
bctl call "$BUS_NAME" "$obj1" "$IFACE.Device" ResetTracking 'a{sv}' 0
tracker=$(nl get "$DISK1")
gen2=$(field generation "$tracker")
[ "$gen2" != "$gen1" ] || fail "the generation did not change"
assert_eq "changed blocks after reset" "" "$(changed_blocks "$DISK1")"
assert_eq GenerationId "\"$gen2\"" "$(prop "$obj1" Device GenerationId)"
for _ in $(seq 50); do
	grep -q "$gen2" /tmp/monitor && break
	sleep 0.1
done
assert_match "PropertiesChanged of GenerationId" \
	"$obj1: org.freedesktop.DBus.Properties.PropertiesChanged \('$IFACE.Device', \{[^}]*'GenerationId': <'$gen2'>" \
	"$(cat /tmp/monitor)"

step "act: a tracker attached to $DISK2 behind the service's back (netlink)"
nl attach "$DISK2" >/dev/null
for _ in $(seq 100); do
	prop "$obj2" Device Path >/dev/null 2>&1 && break
	sleep 0.1
done
assert_eq "Path of the tracker attached by netlink" '"'"$DISK2"'"' "$(prop "$obj2" Device Path)"
assert_match "InterfacesAdded of $obj2" "InterfacesAdded \(objectpath '$obj2'" "$(cat /tmp/monitor)"

step "act: it is detached behind the service's back; Untrack $DISK1 (busctl)"
nl detach "$DISK2"
bctl call "$BUS_NAME" "$obj1" "$IFACE.Device" Untrack 'a{sv}' 0
sleep 1
assert_eq "trackers in the kernel" "" "$(nl list)"
kill "$monitor"
cat /tmp/monitor
for obj in "$obj1" "$obj2"; do
	assert_match "InterfacesRemoved of $obj" "InterfacesRemoved \(objectpath '$obj'" "$(cat /tmp/monitor)"
	if prop "$obj" Device Path 2>/dev/null; then fail "$obj is still on the bus"; fi
done
out=$(gdbus call --system --dest "$BUS_NAME" --object-path "$ROOT_PATH" \
	--method org.freedesktop.DBus.ObjectManager.GetManagedObjects)
assert_eq "GetManagedObjects with nothing tracked" "(@a{oa{sa{sv}}} {},)" "$out"

blksnapd_stop || fail "blksnapd exited with status $? on SIGTERM"
unload_module
