# shellcheck shell=bash
# Helpers for the test cases that run inside the VM (tests/cases/*.sh).
# A case sources this file, then states what it checks; any failed
# assertion ends it with a message and a non-zero status.

set -euo pipefail

: "${BLKSNAP_SRC:?}" "${BLKSNAP_BUILD:?}"
BLKSNAP_KO=${BLKSNAP_KO:-$BLKSNAP_BUILD/blksnap.ko}
NL=$BLKSNAP_BUILD/tests/blksnap-nl
OBJECTS=/sys/kernel/debug/blksnap/objects

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

step() {
	echo "--- $*"
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
