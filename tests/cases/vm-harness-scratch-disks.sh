#!/bin/sh
# The VM harness gives a case its scratch disks in --disk order, empty, at
# their sizes and working; a read-only root; writable /tmp and $RESULTS; the
# host's source and build directories at their own paths; and the repository
# as the working directory.
# disks: 64M 32M
# timeout: 120
set -eu

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# The disks, in order.
[ "$DISKS" = "$DISK1 $DISK2" ] || fail "DISKS='$DISKS', DISK1='$DISK1', DISK2='$DISK2'"
for disk in $DISKS; do
	[ -b "$disk" ] || fail "$disk is not a block device"
done
[ "$(blockdev --getsize64 "$DISK1")" = $((64 << 20)) ] || fail "$DISK1 is not 64 MiB"
[ "$(blockdev --getsize64 "$DISK2")" = $((32 << 20)) ] || fail "$DISK2 is not 32 MiB"

# Fresh (all zeroes) and working: what is written directly is read back.
cmp -s -n $((1 << 20)) "$DISK2" /dev/zero || fail "$DISK2 is not empty"
head -c $((1 << 20)) /dev/urandom >/tmp/pattern
dd if=/tmp/pattern of="$DISK2" bs=64k seek=16 oflag=direct conv=fsync status=none
dd if="$DISK2" bs=64k skip=16 count=16 iflag=direct status=none | cmp -s - /tmp/pattern ||
	fail "$DISK2 does not read back what was written"

# The root is read-only; /tmp and $RESULTS are writable.
if touch /blksnap-harness-probe 2>/dev/null; then
	fail "/ is writable"
fi
for dir in /tmp "$RESULTS"; do
	echo ok >"$dir/probe"
	[ "$(cat "$dir/probe")" = ok ] || fail "$dir is not writable"
done

# The environment.
[ "$(pwd -P)" = "$BLKSNAP_SRC" ] || fail "cwd $(pwd -P) is not BLKSNAP_SRC=$BLKSNAP_SRC"
# The source and build directories are the host's, at their own paths (even
# when they are under /tmp, which is the VM's own tmpfs).
[ -f "$BLKSNAP_SRC/tests/vm/run-vm" ] || fail "no $BLKSNAP_SRC/tests/vm/run-vm in the VM"
[ -d "$BLKSNAP_BUILD/vm" ] || fail "no $BLKSNAP_BUILD/vm (run-vm's files) in the VM"
[ "$(id -u)" = 0 ] || fail "not root"
[ "$(uname -r)" = "$BLKSNAP_KVER" ] || fail "running $(uname -r), not BLKSNAP_KVER=$BLKSNAP_KVER"
[ -d /sys/kernel/tracing/events ] || fail "no tracefs"
echo "disks, root, /tmp, \$RESULTS and environment as promised"
