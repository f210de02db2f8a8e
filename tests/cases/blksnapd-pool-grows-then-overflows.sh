#!/bin/bash
# disks: 128M
# timeout: 900
# kernels: first
#
# A snapshot with a storage-pool directory starts with little storage;
# while a writer overwrites three times that, blksnapd answers the kernel's
# low-space events from the pool itself (LowFreeSpace and StorageGrown
# signals, StorageTotal grows) and the image stays the device at the take.
# With a storage-limit below what the writer needs, the snapshot is
# corrupted instead (Corrupted signal, State and Error; OpenImage refused
# with Corrupted), and the original device keeps every byte written.
# Destroy removes the pool's files.
. "$BLKSNAP_SRC/tests/lib/common.sh"
. "$BLKSNAP_SRC/tests/lib/dbus-env.sh"
prop() { # OBJECT IFACE NAME -> the value of a property, as JSON
	bctl --json=short get-property "$BUS_NAME" "$1" "$IFACE.$2" "$3" | jq -c .data
}
create() { # OPTIONS...: CreateSnapshot of $dev_obj with a{sv} options (busctl words)
	bctl --json=short call "$BUS_NAME" "$ROOT_PATH" "$IFACE.Manager" CreateSnapshot \
		'aoa{sv}' 1 "$dev_obj" "$@" | jq -r '.data[0]'
}
mib=$((1024 * 1024))

load_module
dbus_env_start
blksnapd_start
orig=$DISK1 pool=/var/tmp/pool
mkdir -p "$pool"
dd if=/dev/urandom of="$orig" bs=1M count=$(($(sectors "$orig") / 2048)) oflag=direct status=none
dev_obj=$(bctl --json=short call "$BUS_NAME" "$ROOT_PATH" "$IFACE.Manager" TrackDevice \
	'sa{sv}' "$orig" 0 | jq -r '.data[0]')
gdbus monitor --system --dest "$BUS_NAME" >/tmp/monitor 2>&1 &
monitor=$!
sleep 2

step "arrange: a snapshot with 16 MiB from $pool, low-free 8 MiB, limit 112 MiB; taken"
snap=$(create 4 storage-pool s "$pool" storage-initial t $((16 * mib)) \
	storage-limit t $((112 * mib)) low-free-bytes t $((8 * mib)))
assert_eq StorageTotal $((16 * mib)) "$(prop "$snap" Snapshot StorageTotal)"
ls -la "$pool"
[ -n "$(ls "$pool")" ] || fail "no storage file in $pool"
sum=$(device_sum "$orig")
bctl call "$BUS_NAME" "$snap" "$IFACE.Snapshot" Take 'a{sv}' 0
img=$(bctl --json=short call "$BUS_NAME" "$snap" "$IFACE.Snapshot" GetImages 'a{sv}' 0 | jq -r '.data[0][0][1]')

step "act: overwrite 48 MiB of $orig, 4 MiB at a time"
for i in $(seq 0 11); do
	dd if=/dev/urandom of="$orig" bs=1M seek=$((i * 4)) count=4 oflag=direct conv=notrunc status=none ||
		fail "writing to $orig failed"
	sleep 0.5
done
sleep 2

step "assert: grown from the pool, still taken, the image is the device at the take"
assert_eq State '"taken"' "$(prop "$snap" Snapshot State)"
total=$(prop "$snap" Snapshot StorageTotal)
echo "StorageTotal=$total StorageUsed=$(prop "$snap" Snapshot StorageUsed)"
[ "$total" -ge $((48 * mib)) ] || fail "StorageTotal $total: not grown to 48 MiB"
[ "$total" -le $((112 * mib)) ] || fail "StorageTotal $total: past the limit"
assert_eq "the kernel's storage_total" "$((total / 512))" \
	"$(snap_field storage_total "$(nl snapshot-get "$(prop "$snap" Snapshot Id | tr -d '"')")")"
assert_eq "checksum of the image" "$sum" "$(device_sum "$img")"
grep "$snap: $IFACE.Snapshot" /tmp/monitor || :
assert_match "LowFreeSpace" "$snap: $IFACE.Snapshot.LowFreeSpace \(uint64 [1-9]" "$(cat /tmp/monitor)"
assert_match "StorageGrown" "$snap: $IFACE.Snapshot.StorageGrown \(uint64 [1-9][0-9]*, uint64 [1-9]" "$(cat /tmp/monitor)"
grown=$(grep -c "$snap: $IFACE.Snapshot.StorageGrown" /tmp/monitor)
last=$(grep "$snap: $IFACE.Snapshot.StorageGrown" /tmp/monitor | tail -n 1 | sed 's/.*, uint64 \([0-9]*\))$/\1/')
assert_eq "the last StorageGrown's total" "$total" "$last"
echo "ok: $grown StorageGrown signals, total $total"

step "act: Destroy; the pool's files go with it"
bctl call "$BUS_NAME" "$snap" "$IFACE.Snapshot" Destroy 'a{sv}' 0
assert_eq "files left in $pool" "" "$(ls -A "$pool")"

step "arrange: a snapshot limited to 16 MiB of the pool (8 MiB at first); taken"
snap=$(create 4 storage-pool s "$pool" storage-initial t $((8 * mib)) \
	storage-limit t $((16 * mib)) low-free-bytes t $((4 * mib)))
bctl call "$BUS_NAME" "$snap" "$IFACE.Snapshot" Take 'a{sv}' 0
dd if=/dev/urandom of=/tmp/new bs=1M count=48 status=none

step "act: write 48 MiB to $orig"
dd if=/tmp/new of="$orig" bs=1M oflag=direct conv=notrunc status=none || fail "writing to $orig failed"
sleep 2

step "assert: corrupted, signalled, and $orig holds every byte written"
assert_eq State '"corrupted"' "$(prop "$snap" Snapshot State)"
assert_match Error '^"[^"]+"$' "$(prop "$snap" Snapshot Error)"
assert_eq ErrorDevice "\"$dev_obj\"" "$(prop "$snap" Snapshot ErrorDevice)"
assert_match "Corrupted" "$snap: $IFACE.Snapshot.Corrupted \(objectpath '$dev_obj', '[^']+', 28\)" "$(cat /tmp/monitor)"
assert_eq "the first 48 MiB of $orig" "$(md5sum </tmp/new | cut -d' ' -f1)" \
	"$(dd if="$orig" bs=1M count=48 iflag=direct status=none | md5sum | cut -d' ' -f1)"
total=$(prop "$snap" Snapshot StorageTotal)
[ "$total" -le $((16 * mib)) ] || fail "StorageTotal $total: past the limit of 16 MiB"
out=$(/usr/bin/python3 "$BLKSNAP_SRC/tests/lib/blksnapd_client.py" image-sum "$snap" "$dev_obj" 2>&1) &&
	fail "OpenImage of a corrupted snapshot succeeded: $out"
assert_match "OpenImage of a corrupted snapshot" "^error: $IFACE.Error.Corrupted: .+" "$out"

bctl call "$BUS_NAME" "$snap" "$IFACE.Snapshot" Destroy 'a{sv}' 0
assert_eq "files left in $pool" "" "$(ls -A "$pool")"
kill "$monitor"
bctl call "$BUS_NAME" "$dev_obj" "$IFACE.Device" Untrack 'a{sv}' 0
blksnapd_stop || fail "blksnapd exited with status $? on SIGTERM"
unload_module
