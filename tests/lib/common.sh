# shellcheck shell=bash
# Helpers for the test cases that run inside the VM (tests/cases/*.sh).
# A case sources this file, then states what it checks; any failed
# assertion ends it with a message and a non-zero status.

set -euo pipefail

: "${BLKSNAP_SRC:?}" "${BLKSNAP_BUILD:?}"
BLKSNAP_KO=${BLKSNAP_KO:-$BLKSNAP_BUILD/blksnap.ko}
NL=$BLKSNAP_BUILD/tests/blksnap-nl
OBJECTS=/sys/kernel/debug/blksnap/objects
COUNTERS=/sys/kernel/debug/blksnap/counters

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# step TEXT: what the case does next, with the VM's uptime, so a slow step
# shows in output.log.
step() {
	local up
	read -r up _ </proc/uptime
	echo "--- [$up s] $*"
}

assert_eq() { # WHAT EXPECTED ACTUAL
	if [ "$2" != "$3" ]; then
		printf 'FAIL: %s\n  expected: %s\n  actual:   %s\n' "$1" "$2" "$3" >&2
		exit 1
	fi
}

assert_match() { # WHAT REGEX TEXT
	if ! printf '%s\n' "$3" | grep -Eq -- "$2"; then
		printf 'FAIL: %s\n  expected to match: %s\n  actual: %s\n' "$1" "$2" "$3" >&2
		exit 1
	fi
}

errno_value() { # NAME -> number
	case $1 in
	EPERM) echo 1 ;; ENOENT) echo 2 ;; ENXIO) echo 6 ;; E2BIG) echo 7 ;;
	EBUSY) echo 16 ;; EEXIST) echo 17 ;; ENODEV) echo 19 ;; EINVAL) echo 22 ;;
	ENOTBLK) echo 15 ;; ERANGE) echo 34 ;; EMSGSIZE) echo 90 ;;
	EOPNOTSUPP) echo 95 ;; ENOMEDIUM) echo 123 ;; EPROTO) echo 71 ;;
	EIO) echo 5 ;; EAGAIN) echo 11 ;; EACCES) echo 13 ;; ENOSPC) echo 28 ;;
	ELOOP) echo 40 ;; ENODATA) echo 61 ;; ETIME) echo 62 ;; EALREADY) echo 114 ;;
	EBADF) echo 9 ;; EINTR) echo 4 ;;
	*) fail "errno_value: unknown errno $1" ;;
	esac
}

# expect_errno ERRNO 'extack text or -' COMMAND...: the command fails with
# exactly that errno, and the kernel's extack message contains the text.
expect_errno() {
	local name=$1 msg=$2 rc=0 err
	shift 2
	err=$("$@" 2>&1 >/dev/null) || rc=$?
	if [ "$rc" != "$(errno_value "$name")" ]; then
		printf 'FAIL: %s\n  expected %s, got exit %s: %s\n' "$*" "$name" "$rc" "$err" >&2
		exit 1
	fi
	case $err in
	*"error: $name "*) ;;
	*) fail "$*: stderr does not name $name: $err" ;;
	esac
	if [ "$msg" != - ]; then
		case $err in
		*"$msg"*) ;;
		*) fail "$*: extack '$msg' missing in: $err" ;;
		esac
	fi
	echo "ok: $name${msg:+ ($msg)}: $*"
}

nl() {
	"$NL" "$@"
}

# nl_state: every snapshot and tracker the module has, as text to compare.
nl_state() {
	nl snapshot-list
	echo --
	nl list
}

# expect_refused ERRNO 'extack text or -' COMMAND...: expect_errno, and the
# refused command changed no snapshot or tracker.
expect_refused() {
	local before
	before=$(nl_state)
	expect_errno "$@"
	assert_eq "snapshots and trackers after: ${*:3}" "$before" "$(nl_state)"
}

load_module() {
	insmod "$BLKSNAP_KO"
	[ -r "$OBJECTS" ] || fail "no $OBJECTS after loading the module"
}

# All live-object counts of the module are 0.
assert_no_objects() {
	local bad
	bad=$(awk '$2 != 0' "$OBJECTS")
	[ -z "$bad" ] || fail "live objects left: $bad"
}

unload_module() {
	assert_no_objects
	rmmod blksnap
}

# counter NAME -> the value of one of the module's event counters
counter() {
	awk -v k="$1" '$1 == k { print $2 }' "$COUNTERS"
}

# devnum /dev/vda -> MAJ:MIN
devnum() {
	cat "/sys/class/block/$(basename "$(readlink -f "$1")")/dev"
}

sectors() { # DEV -> capacity in 512-byte sectors
	blockdev --getsz "$1"
}

# field NAME LINE -> value of NAME=value in a key=value line
field() {
	printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

# changed_blocks DEV -> the "START+COUNT=VALUE" lines of its CBT map
changed_blocks() {
	nl map "$1" | grep -v '^generation='
}

# write_random DEV BS SEEK COUNT [dd flags...]: random data over COUNT
# blocks of BS bytes from block SEEK (dd's units and flags)
write_random() {
	local dev=$1 bs=$2 seek=$3 count=$4
	shift 4
	dd if=/dev/urandom of="$dev" bs="$bs" seek="$seek" count="$count" \
		conv=notrunc status=none "$@"
}

# ---- snapshots -----------------------------------------------------------
# A snapshot prints as a block (snapshot-create, -get, -append, -take):
#   snapshot=UUID state=S chunk_size=N low_free=N storage_total=N storage_used=N error=N
#   device dev=MAJ:MIN snap=N generation=UUID error=N [image=NAME image_dev=MAJ:MIN]

# snap_field NAME BLOCK -> a field of the snapshot's line
snap_field() {
	field "$1" "$(printf '%s\n' "$2" | sed -n 1p)"
}

# snap_device_field NAME DEV BLOCK -> a field of the line of device DEV
# (a path or MAJ:MIN)
snap_device_field() {
	local dev=$2
	[ "${dev#/}" = "$dev" ] || dev=$(devnum "$dev")
	field "$1" "$(printf '%s\n' "$3" | grep "^device dev=$dev " || :)"
}

# snap_image DEV BLOCK -> /dev/<image name> of device DEV of the snapshot,
# a block device
snap_image() {
	local name
	name=$(snap_device_field image "$1" "$2")
	[ -n "$name" ] || fail "no image of $1 in: $2"
	[ -b "/dev/$name" ] || fail "/dev/$name is not a block device"
	echo "/dev/$name"
}

# snap_take_alone DEV STORE -> "ID IMAGE": a snapshot of DEV alone, 64 KiB
# chunks, all of block device STORE as its storage, taken
snap_take_alone() {
	local id
	id=$(snap_field snapshot "$(nl snapshot-create "$1" --chunk-size 65536)")
	nl snapshot-append "$id" "$2:0+$(sectors "$2")" >/dev/null
	echo "$id $(snap_image "$1" "$(nl snapshot-take "$id")")"
}

# snap_state ID -> "STATE error=N" of the snapshot now
snap_state() {
	local info
	info=$(nl snapshot-get "$1")
	echo "$(snap_field state "$info") error=$(snap_field error "$info")"
}

# wait_ready FILE: wait until the monitor writing FILE has subscribed
wait_ready() {
	for _ in $(seq 100); do
		grep -q '^ready$' "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	fail "the monitor writing $1 did not subscribe"
}

# file_extents FILE -> "START COUNT" lines: the extents of a file on a file
# system with 4 KiB blocks that fills its whole device, in 512-byte sectors
# of the device, in the order of the file's offsets (FIEMAP, by filefrag)
file_extents() {
	filefrag -e -b4096 "$1" | awk -F'[:. ]+' '/^ *[0-9]+:/ { print $5 * 8, ($6 - $5 + 1) * 8 }'
}

# range_sum DEV MIB_OFFSET MIB_COUNT -> MD5 of that range, read direct
range_sum() {
	dd if="$1" bs=1M skip="$2" count="$3" iflag=direct status=none | md5sum
}

# device_sum DEV [START COUNT]... -> MD5 of the device's bytes, leaving out
# the given ranges of sectors (sorted, not overlapping).  MD5, as every
# checksum of the cases: they look for accidental differences, not forged
# ones, and MD5 costs less than half of SHA-256 in a VM without KVM.
device_sum() {
	local dev=$1 pos=0 start count
	shift
	{
		while [ $# -ge 2 ]; do
			start=$1 count=$2
			shift 2
			[ "$start" -le "$pos" ] ||
				dd if="$dev" bs=1M iflag=direct,skip_bytes,count_bytes \
					skip=$((pos * 512)) count=$(((start - pos) * 512)) status=none
			pos=$((start + count))
		done
		dd if="$dev" bs=1M iflag=direct,skip_bytes skip=$((pos * 512)) status=none
	} | md5sum | cut -d' ' -f1
}
