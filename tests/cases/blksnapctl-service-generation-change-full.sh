#!/bin/bash
# disks: 64M
# timeout: 900
# kernels: first
#
# Through the real service, as a member of blksnap-backup: after
# ResetTracking renews a device's change-map generation, the next backup is
# full again and says why (the generation is not the last backup's), the
# one after it is incremental again, and every point restores the device as
# it was at its take.
. "$BLKSNAP_SRC/tests/lib/common.sh"
. "$BLKSNAP_SRC/tests/lib/dbus-env.sh"
. "$BLKSNAP_SRC/tests/lib/blksnapctl.sh"

dev=$DISK1 B=/tmp/backups
name=$(basename "$dev") obj=$ROOT_PATH/device/$(devnum "$dev" | tr : _)
ctl_service_start
user_dir "$BACKUP_USER" "$B"
dd if=/dev/urandom of="$dev" bs=1M count=4 oflag=direct status=none

# point N ARGS...: the device's checksum, then a backup as $BACKUP_USER
point() {
	local n=$1
	shift
	device_sum "$dev" >/tmp/sum.$n
	ctl_as "$BACKUP_USER" backup "$dev" --to "$B" "$@" 2>&1 | tee /tmp/backup.$n.log
	[ "${PIPESTATUS[0]}" = 0 ] || fail "backup $n failed"
	assert_no_snapshot
}

step "arrange: a full backup (the device is tracked by it), writes, an incremental"
point 0
grep -q "was not tracked" /tmp/backup.0.log || fail "backup 0 did not say it tracked $dev"
bs=$("$CTL" status --json | jq '.devices[0].BlockSize')
# blocks BYTE-OFFSET LENGTH -> the bytes of the CBT blocks that range touches
blocks() { echo $(((($1 + $2 + bs - 1) / bs - $1 / bs) * bs)); }
dd if=/dev/urandom of="$dev" bs=64k seek=100 count=2 oflag=direct conv=notrunc status=none
point 1
assert_eq "kind, changed bytes of backup 1" "incremental $(blocks 6553600 131072)" \
	"$(jq -r '.backups[1] | "\(.kind) \(.changed_bytes)"' "$B/$name/chain.json")"
gen1=$(jq -r '.backups[1].generation_id' "$B/$name/chain.json")

step "act: $BACKUP_USER resets the tracking, writes, backup"
as_user "$BACKUP_USER" gdbus call --system --dest "$BUS_NAME" --object-path "$obj" \
	--method "$IFACE.Device.ResetTracking" "{}" >/dev/null
dd if=/dev/urandom of="$dev" bs=64k seek=200 count=1 oflag=direct conv=notrunc status=none
point 2

step "assert: backup 2 is full, saying the generation changed; backup 3 incremental again"
assert_eq "kind of backup 2" full "$(jq -r '.backups[2].kind' "$B/$name/chain.json")"
gen2=$(jq -r '.backups[2].generation_id' "$B/$name/chain.json")
[ "$gen1" != "$gen2" ] || fail "the generation did not change: $gen1"
assert_match "what backup 2 says" "full backup .*generation is $gen2, not the last backup's $gen1" \
	"$(cat /tmp/backup.2.log)"
assert_match "the reason in the manifest" "generation" "$(jq -r '.backups[2].reason' "$B/$name/chain.json")"
dd if=/dev/urandom of="$dev" bs=4k seek=7 count=1 oflag=direct conv=notrunc status=none
point 3
assert_eq "kind, changed bytes of backup 3" "incremental $(blocks 28672 4096)" \
	"$(jq -r '.backups[3] | "\(.kind) \(.changed_bytes)"' "$B/$name/chain.json")"
assert_chain_sound "$B/$name"

step "assert: every point restores the device as it was at its take"
for n in 0 1 2 3; do
	"$CTL" restore "$B/$name@$n" --to /tmp/r.img >/dev/null
	assert_eq "restored backup $n" "$(cat /tmp/sum.$n)" "$(md5sum </tmp/r.img | cut -d' ' -f1)"
	rm /tmp/r.img
done
