#!/bin/bash
# disks: 64M 64M
# timeout: 900
# kernels: first
#
# Through the real service, as a member of blksnap-backup, two devices
# backed up together: every image is created (qemu-img) and served
# (qemu-nbd) before the snapshot is taken, so the snapshot, and the
# copy-on-write it costs every first write, lives through the copies only.
# When a device's generation changes between that start and the take, the
# image started as an overlay is replaced by a full one (saying why), no
# partial file is left, and every point restores each device as it was at
# its take.  qemu-img and qemu-nbd are the real ones, behind a PATH shim that
# records the snapshot's state each time one starts.
. "$BLKSNAP_SRC/tests/lib/common.sh"
. "$BLKSNAP_SRC/tests/lib/dbus-env.sh"
. "$BLKSNAP_SRC/tests/lib/blksnapctl.sh"

d1=$DISK1 d2=$DISK2 B=/tmp/backups
n1=$(basename "$d1") n2=$(basename "$d2")
obj1=$ROOT_PATH/device/$(devnum "$d1" | tr : _)
ctl_service_start
user_dir "$BACKUP_USER" "$B"

shim=/tmp/shim
mkdir -p "$shim"
cat >"$shim/tool" <<EOF
#!/bin/sh
# the snapshots' states as this tool starts, then the real tool (same pid:
# qemu-nbd's socket activation names it)
tool=\$(basename "\$0")
states=\$("$CTL" status --json 2>/dev/null | jq -r '[.snapshots[].State] | join(",")')
image=
for a; do case \$a in *.partial) image=\$(basename "\$a") ;; esac; done
echo "\$tool \$1 \$image: \${states:-none}" >>"$shim/log"
if [ "\$tool" = qemu-nbd ] && rm "$shim/reset-once" 2>/dev/null; then
	gdbus call --system --dest "$BUS_NAME" --object-path "$obj1" \\
		--method "$IFACE.Device.ResetTracking" "{}" >/dev/null
	echo "reset the tracking of $n1" >>"$shim/log"
fi
exec /usr/bin/\$tool "\$@"
EOF
chmod 755 "$shim/tool"
ln -s tool "$shim/qemu-img"
ln -s tool "$shim/qemu-nbd"
chmod 777 "$shim"

# point N: both devices' checksums, then a backup of both as $BACKUP_USER
point() {
	local n=$1
	device_sum "$d1" >/tmp/sum1.$n
	device_sum "$d2" >/tmp/sum2.$n
	: >"$shim/log"
	chmod 666 "$shim/log"
	as_user "$BACKUP_USER" env PATH="$shim:$PATH" "$CTL" backup "$d1" "$d2" --to "$B" 2>&1 |
		tee /tmp/backup.$n.log
	[ "${PIPESTATUS[0]}" = 0 ] || fail "backup $n failed"
	cat "$shim/log"
	assert_no_snapshot
}

# started_untaken N: every qemu-img create and qemu-nbd of backup N started
# while the snapshot was created but not taken
started_untaken() {
	local starts
	starts=$(grep -E '^(qemu-img create|qemu-nbd) ' "$shim/log")
	assert_eq "images started for backup $1" 2 "$(grep -c '^qemu-img create' <<<"$starts")"
	assert_eq "states as they started" "" "$(grep -v '\.partial: created$' <<<"$starts" || :)"
}

step "arrange: data on both devices"
dd if=/dev/urandom of="$d1" bs=1M count=8 oflag=direct status=none
dd if=/dev/urandom of="$d2" bs=1M count=8 seek=16 oflag=direct status=none

step "act, assert: a full backup of both; its images started before the take"
point 0
started_untaken 0

step "act, assert: writes, an incremental of both; its overlays started before the take"
dd if=/dev/urandom of="$d1" bs=64k seek=10 count=3 oflag=direct conv=notrunc status=none
dd if=/dev/urandom of="$d2" bs=4k seek=4000 count=1 oflag=direct conv=notrunc status=none
point 1
started_untaken 1
for n in "$n1" "$n2"; do
	assert_eq "kind of backup 1 of $n" incremental "$(jq -r '.backups[1].kind' "$B/$n/chain.json")"
done

step "act: writes; $n1's tracking reset after its overlay started, before the take"
dd if=/dev/urandom of="$d1" bs=4k seek=50 count=2 oflag=direct conv=notrunc status=none
dd if=/dev/urandom of="$d2" bs=4k seek=60 count=2 oflag=direct conv=notrunc status=none
touch "$shim/reset-once"
point 2

step "assert: $n1's overlay was replaced by a full image after the take, $n2 incremental"
grep -q "^reset the tracking of $n1" "$shim/log" || fail "the shim did not reset $n1's tracking"
assert_eq "kind of backup 2 of $n1" full "$(jq -r '.backups[2].kind' "$B/$n1/chain.json")"
assert_match "why" "full backup .*generation is .*, not the last backup's" "$(cat /tmp/backup.2.log)"
assert_eq "kind of backup 2 of $n2" incremental "$(jq -r '.backups[2].kind' "$B/$n2/chain.json")"
assert_eq "images created while taken (the replacement)" "qemu-img create 0002.qcow2.partial: taken" \
	"$(grep '^qemu-img create' "$shim/log" | grep -v ': created$')"
for n in "$n1" "$n2"; do
	assert_eq "files of $B/$n" "0000.extents 0000.qcow2 0001.extents 0001.qcow2 0002.extents 0002.qcow2 chain.json" \
		"$(ls "$B/$n" | tr '\n' ' ' | sed 's/ $//')"
	assert_chain_sound "$B/$n"
done

step "assert: every point restores each device as it was at its take"
for n in 0 1 2; do
	for k in 1 2; do
		name=$n1
		[ "$k" = 1 ] || name=$n2
		"$CTL" restore "$B/$name@$n" --to /tmp/r.img >/dev/null
		assert_eq "restored backup $n of $name" "$(cat /tmp/sum$k.$n)" \
			"$(md5sum </tmp/r.img | cut -d' ' -f1)"
		rm /tmp/r.img
	done
done
