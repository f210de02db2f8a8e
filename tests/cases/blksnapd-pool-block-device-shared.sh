#!/bin/bash
# disks: 64M 64M 256M
# timeout: 900
# kernels: first
#
# A block device as storage-pool, shared by the snapshots of two devices:
# blksnapd hands each snapshot ranges of it, first the initial amount, then
# more on each low-space event (StorageGrown), never a range another
# snapshot holds, so while writers overwrite three times the initial storage
# on both devices, both snapshots stay taken and both images stay the
# devices at the take.
. "$BLKSNAP_SRC/tests/lib/common.sh"
. "$BLKSNAP_SRC/tests/lib/dbus-env.sh"
prop() { # OBJECT IFACE NAME -> the value of a property, as JSON
	bctl --json=short get-property "$BUS_NAME" "$1" "$IFACE.$2" "$3" | jq -c .data
}
mib=$((1024 * 1024))

load_module
dbus_env_start
blksnapd_start
pool=$DISK3
gdbus monitor --system --dest "$BUS_NAME" >/tmp/monitor 2>&1 &
monitor=$!
sleep 2

declare -A obj snap img sum
for d in "$DISK1" "$DISK2"; do
	step "arrange: $d full of data, tracked, a snapshot with 16 MiB from $pool, taken"
	dd if=/dev/urandom of="$d" bs=1M count=$(($(sectors "$d") / 2048)) oflag=direct status=none
	obj[$d]=$(bctl --json=short call "$BUS_NAME" "$ROOT_PATH" "$IFACE.Manager" TrackDevice \
		'sa{sv}' "$d" 0 | jq -r '.data[0]')
	snap[$d]=$(bctl --json=short call "$BUS_NAME" "$ROOT_PATH" "$IFACE.Manager" CreateSnapshot \
		'aoa{sv}' 1 "${obj[$d]}" 4 storage-pool s "$pool" storage-initial t $((16 * mib)) \
		storage-limit t $((96 * mib)) low-free-bytes t $((8 * mib)) | jq -r '.data[0]')
	assert_eq "StorageTotal of ${snap[$d]}" $((16 * mib)) "$(prop "${snap[$d]}" Snapshot StorageTotal)"
	sum[$d]=$(device_sum "$d")
	bctl call "$BUS_NAME" "${snap[$d]}" "$IFACE.Snapshot" Take 'a{sv}' 0
	img[$d]=$(bctl --json=short call "$BUS_NAME" "${snap[$d]}" "$IFACE.Snapshot" GetImages 'a{sv}' 0 |
		jq -r '.data[0][0][1]')
done

step "act: overwrite 48 MiB of both devices, 4 MiB at a time, in turn"
for i in $(seq 0 11); do
	for d in "$DISK1" "$DISK2"; do
		dd if=/dev/urandom of="$d" bs=1M seek=$((i * 4)) count=4 oflag=direct conv=notrunc \
			status=none || fail "writing to $d failed"
	done
	sleep 0.5
done
sleep 2
kill "$monitor"

for d in "$DISK1" "$DISK2"; do
	step "assert: the snapshot of $d grew from $pool, is taken, its image intact"
	s=${snap[$d]}
	assert_eq "State of $s" '"taken"' "$(prop "$s" Snapshot State)"
	total=$(prop "$s" Snapshot StorageTotal)
	[ "$total" -ge $((48 * mib)) ] || fail "StorageTotal of $s: $total, not grown to 48 MiB"
	assert_match "StorageGrown of $s" "$s: $IFACE.Snapshot.StorageGrown \(uint64 [1-9]" "$(cat /tmp/monitor)"
	assert_eq "checksum of ${img[$d]}" "${sum[$d]}" "$(device_sum "${img[$d]}")"
	echo "ok: $s: StorageTotal $total, image intact"
done

for d in "$DISK1" "$DISK2"; do
	bctl call "$BUS_NAME" "${snap[$d]}" "$IFACE.Snapshot" Destroy 'a{sv}' 0
	bctl call "$BUS_NAME" "${obj[$d]}" "$IFACE.Device" Untrack 'a{sv}' 0
done
assert_eq "the kernel's snapshots" "" "$(nl snapshot-list)"
blksnapd_stop || fail "blksnapd exited with status $? on SIGTERM"
unload_module
