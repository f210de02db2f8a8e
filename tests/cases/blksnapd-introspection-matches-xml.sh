#!/bin/bash
# disks: 64M 64M
# timeout: 600
# kernels: first
#
# What blksnapd serves is what dbus/org.blksnap.Blksnap1.xml documents:
# the same interfaces, methods with the same in and out signatures,
# properties and signals, on the root, a Device and a Snapshot object; and
# the XML documents every one of them (a DocString annotation each).
. "$BLKSNAP_SRC/tests/lib/common.sh"
. "$BLKSNAP_SRC/tests/lib/dbus-env.sh"
xml=$BLKSNAP_SRC/dbus/org.blksnap.Blksnap1.xml
members() { /usr/bin/python3 "$BLKSNAP_SRC/tests/lib/blksnapd_client.py" members "$@"; }

step "assert: the XML documents each interface and member"
for kind in interface method property signal; do
	n=$(xmllint --xpath "count(//$kind)" "$xml")
	documented=$(xmllint --xpath "count(//${kind}[annotation[@name='org.gtk.GDBus.DocString']])" "$xml")
	assert_eq "${kind}s with a DocString" "$n" "$documented"
	echo "ok: $n ${kind}s, each documented"
done

load_module
dbus_env_start
blksnapd_start

step "arrange: a tracked device and a snapshot of it, so every kind of object exists"
dev_obj=$(bctl --json=short call "$BUS_NAME" "$ROOT_PATH" "$IFACE.Manager" TrackDevice \
	'sa{sv}' "$DISK1" 0 | jq -r '.data[0]')
snap=$(bctl --json=short call "$BUS_NAME" "$ROOT_PATH" "$IFACE.Manager" CreateSnapshot \
	'aoa{sv}' 1 "$dev_obj" 0 | jq -r '.data[0]')

step "act: introspect the three objects (gdbus)"
for obj in "$ROOT_PATH" "$dev_obj" "$snap"; do
	gdbus introspect --system --dest "$BUS_NAME" --object-path "$obj" --xml \
		>"/tmp/introspect.${obj##*/}.xml"
done

step "assert: served and documented members are the same"
served=$(members /tmp/introspect.*.xml)
documented=$(members "$xml")
if [ "$served" != "$documented" ]; then
	diff -u <(echo "$documented") <(echo "$served") || :
	fail "the served interfaces differ from $xml (- documented, + served)"
fi
echo "$served" | wc -l
echo "ok: blksnapd serves exactly the documented members"

bctl call "$BUS_NAME" "$snap" "$IFACE.Snapshot" Destroy 'a{sv}' 0
bctl call "$BUS_NAME" "$dev_obj" "$IFACE.Device" Untrack 'a{sv}' 0
blksnapd_stop || fail "blksnapd exited with status $? on SIGTERM"
unload_module
