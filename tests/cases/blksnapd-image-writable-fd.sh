#!/bin/bash
# disks: 64M 64M
# timeout: 900
# kernels: first
#
# An OpenImage fd opened with writable=true writes into the snapshot image,
# not the device: the image device reads the bytes back, the original is
# untouched, the device's live CBT map marks the written blocks with the
# snap number after the take (so the next incremental backup copies them),
# and the Device's SnapNumber says which; a read-only fd refuses to write.
. "$BLKSNAP_SRC/tests/lib/common.sh"
. "$BLKSNAP_SRC/tests/lib/dbus-env.sh"
client() { /usr/bin/python3 "$BLKSNAP_SRC/tests/lib/blksnapd_client.py" "$@"; }
prop() { # OBJECT IFACE NAME -> the value of a property, as JSON
	bctl --json=short get-property "$BUS_NAME" "$1" "$IFACE.$2" "$3" | jq -c .data
}

load_module
dbus_env_start
blksnapd_start
orig=$DISK1

step "arrange: $orig full of data, tracked (4 KiB blocks), a snapshot with 64 MiB of $DISK2, taken"
dd if=/dev/urandom of="$orig" bs=1M count=64 oflag=direct status=none
dev_obj=$(bctl --json=short call "$BUS_NAME" "$ROOT_PATH" "$IFACE.Manager" TrackDevice \
	'sa{sv}' "$orig" 1 block-size t 4096 | jq -r '.data[0]')
snap=$(bctl --json=short call "$BUS_NAME" "$ROOT_PATH" "$IFACE.Manager" CreateSnapshot \
	'aoa{sv}' 1 "$dev_obj" 0 | jq -r '.data[0]')
bctl call "$BUS_NAME" "$snap" "$IFACE.Snapshot" AddStorageRanges 'sa(tt)a{sv}' "$DISK2" 1 0 67108864 0
bctl call "$BUS_NAME" "$snap" "$IFACE.Snapshot" Take 'a{sv}' 0
img=$(bctl --json=short call "$BUS_NAME" "$snap" "$IFACE.Snapshot" GetImages 'a{sv}' 0 | jq -r '.data[0][0][1]')
orig_sum=$(device_sum "$orig")
assert_eq "SnapNumber after the take" 2 "$(prop "$dev_obj" Device SnapNumber)"

step "act: write 12 KiB through a writable OpenImage fd at 1 MiB + 8 KiB (blocks 258-260)"
dd if=/dev/urandom of=/tmp/pattern bs=4k count=3 status=none
client image-write "$snap" "$dev_obj" $((258 * 4096)) /tmp/pattern

step "assert: the image reads them, the original is untouched, the live map marks them"
assert_eq "image data" "$(md5sum </tmp/pattern)" \
	"$(dd if="$img" bs=4k skip=258 count=3 iflag=direct status=none | md5sum)"
assert_eq "original" "$orig_sum" "$(device_sum "$orig")"
assert_eq "live map" "258+3=2" "$(changed_blocks "$orig")"

step "assert: a read-only OpenImage fd cannot write"
out=$(/usr/bin/python3 - "$snap" "$dev_obj" <<'EOF' 2>&1
import os, sys, dbus
bus = dbus.SystemBus()
s = dbus.Interface(bus.get_object("org.blksnap.Blksnap1", sys.argv[1], introspect=False),
                   "org.blksnap.Blksnap1.Snapshot")
fd = s.OpenImage(dbus.ObjectPath(sys.argv[2]), dbus.Dictionary({}, signature="sv")).take()
try:
    os.pwrite(fd, b"x" * 4096, 0)
    print("written")
except OSError as e:
    print(f"refused: {e.strerror}")
EOF
)
assert_eq "writing a read-only fd" "refused: Bad file descriptor" "$out"
assert_eq "live map" "258+3=2" "$(changed_blocks "$orig")"

bctl call "$BUS_NAME" "$snap" "$IFACE.Snapshot" Destroy 'a{sv}' 0
bctl call "$BUS_NAME" "$dev_obj" "$IFACE.Device" Untrack 'a{sv}' 0
blksnapd_stop || fail "blksnapd exited with status $? on SIGTERM"
unload_module
