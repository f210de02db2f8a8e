#!/bin/bash
# disks: 64M 64M
# timeout: 1200
# kernels: first
#
# Every bad request to blksnapd gets a named error whose message is a
# sentence naming the bad thing, and changes nothing in the kernel (its
# trackers, maps and snapshots dumped before and after): unknown device
# paths, files that are not block devices, malformed ranges, unknown option
# keys and option types, wrong object paths, wrong signatures, calls in the
# wrong state or on a destroyed snapshot, storage fds that are not regular
# files open for writing.
. "$BLKSNAP_SRC/tests/lib/common.sh"
. "$BLKSNAP_SRC/tests/lib/dbus-env.sh"
client() { /usr/bin/python3 "$BLKSNAP_SRC/tests/lib/blksnapd_client.py" "$@"; }

# state: everything the kernel has (trackers, maps, snapshots)
state() {
	local list dev
	list=$(nl list)
	printf '%s\n' "$list"
	for dev in $(sed -n 's/^dev=\([0-9:]*\) .*/\1/p' <<<"$list"); do nl map "$dev"; done
	nl snapshot-list
}
# The kernel's state after the last expect_error, which found it unchanged:
# the next one's state before (dumping it costs seconds in the VM).  Emptied
# where the case changes the kernel's state itself, then dumped afresh.
known_state=
# expect_error NAME REGEX COMMAND...: COMMAND fails; its output has the
# D-Bus error NAME with a message matching REGEX; the kernel is unchanged.
expect_error() {
	local name=$1 re=$2 out rc=0 before after
	shift 2
	before=${known_state:-$(state)}
	out=$("$@" 2>&1) || rc=$?
	[ "$rc" != 0 ] || fail "$*: succeeded: $out"
	assert_match "$*" "$name: $re" "$out"
	# The message is a sentence.
	assert_match "$*: the message" "$name: .+[.]\$" "$(printf '%s\n' "$out" | grep -F "$name")"
	after=$(state)
	assert_eq "the kernel's state after $*" "$before" "$after"
	known_state=$after
	echo "ok: $*: $(printf '%s\n' "$out" | grep -F "$name")"
}
g() { # OBJECT METHOD ARGS...: gdbus call
	local obj=$1 method=$2
	shift 2
	gdbus call --system --dest "$BUS_NAME" --object-path "$obj" --method "$IFACE.$method" "$@"
}
raw() { # OBJECT IFACE.METHOD ARGS...: dbus-send, any signature
	local obj=$1 method=$2
	shift 2
	dbus-send --system --print-reply --dest="$BUS_NAME" "$obj" "$method" "$@"
}
INVALID=org.freedesktop.DBus.Error.InvalidArgs
UNKNOWN=org.freedesktop.DBus.Error.UnknownObject

load_module
dbus_env_start
blksnapd_start
orig=$DISK1 other=$DISK2
dev=$(devnum "$orig")
dev_obj=$ROOT_PATH/device/${dev/:/_}
g "$ROOT_PATH" Manager.TrackDevice "$orig" "{}" >/dev/null
nl mark "$orig" 8+8 >/dev/null
snap=$(g "$ROOT_PATH" Manager.CreateSnapshot "['$dev_obj']" "{}" | sed -n "s/^(objectpath '\(.*\)',)$/\1/p")
[ -n "$snap" ] || fail "no snapshot"
state

step "TrackDevice: devices that are not, options that are not"
expect_error "$INVALID" ".*/dev/nonexistent.*" g "$ROOT_PATH" Manager.TrackDevice /dev/nonexistent "{}"
expect_error "$INVALID" ".*/etc/passwd.*" g "$ROOT_PATH" Manager.TrackDevice /etc/passwd "{}"
expect_error "$INVALID" ".*'vda'.*" g "$ROOT_PATH" Manager.TrackDevice vda "{}"
expect_error "$INVALID" ".*9999:0.*" g "$ROOT_PATH" Manager.TrackDevice 9999:0 "{}"
expect_error "$INVALID" "Unknown option 'blocksize'\." g "$ROOT_PATH" Manager.TrackDevice "$other" "{'blocksize': <uint64 4096>}"
expect_error "$INVALID" "Option 'block-size' must be .*" g "$ROOT_PATH" Manager.TrackDevice "$other" "{'block-size': <'4096'>}"
expect_error "$INVALID" ".*[Bb]lock size 3000.*" g "$ROOT_PATH" Manager.TrackDevice "$other" "{'block-size': <uint64 3000>}"
expect_error "org.blksnap.Blksnap1.Error.AlreadyTracked" ".*$orig.*" g "$ROOT_PATH" Manager.TrackDevice "$orig" "{}"

step "wrong signatures"
expect_error "$INVALID" ".+" raw "$ROOT_PATH" "$IFACE.Manager.TrackDevice" uint32:5
expect_error "$INVALID" ".+" raw "$ROOT_PATH" "$IFACE.Manager.TrackDevice" string:"$other"
expect_error "$INVALID" ".+" raw "$dev_obj" "$IFACE.Device.Untrack" string:x
expect_error "$INVALID" ".+" raw "$snap" "$IFACE.Snapshot.Take"

step "wrong object paths"
expect_error "$UNKNOWN" ".+" g "$ROOT_PATH/device/9999_0" Device.Untrack "{}"
expect_error "$UNKNOWN" ".+" g "$ROOT_PATH/snapshot/00000000000000000000000000000000" Snapshot.Take "{}"
expect_error "org.blksnap.Blksnap1.Error.NotTracked" ".*$ROOT_PATH/device/9999_0.*" \
	g "$ROOT_PATH" Manager.CreateSnapshot "['$ROOT_PATH/device/9999_0']" "{}"
expect_error "$INVALID" ".+" g "$ROOT_PATH" Manager.CreateSnapshot "@ao []" "{}"

step "malformed ranges"
size=$(( $(sectors "$orig") * 512 ))
expect_error "$INVALID" ".*[Rr]ange.*" g "$dev_obj" Device.MarkDirty "[(0, 0)]" "{}"
expect_error "$INVALID" ".*[Rr]ange.*" g "$dev_obj" Device.MarkDirty "[(512, 100)]" "{}"
expect_error "$INVALID" ".*[Rr]ange.*" g "$dev_obj" Device.MarkDirty "[(0, 4096), ($size, 512)]" "{}"
expect_error "$INVALID" ".*[Rr]ange.*" g "$dev_obj" Device.MarkDirty "[(18446744073709551104, 1024)]" "{}"
expect_error "$INVALID" ".*" g "$snap" Snapshot.AddStorageRanges "$other" "@a(tt) []" "{}"
expect_error "$INVALID" ".*[Rr]ange.*" g "$snap" Snapshot.AddStorageRanges "$other" "[(0, 1000)]" "{}"
expect_error "$INVALID" ".*" g "$snap" Snapshot.AddStorageRanges "$other" "[(0, $size), ($size, 1048576)]" "{}"
expect_error "$INVALID" ".*/etc/passwd.*" g "$snap" Snapshot.AddStorageRanges /etc/passwd "[(0, 1048576)]" "{}"
expect_error "$INVALID" ".*/dev/nonexistent.*" g "$snap" Snapshot.AddStorageRanges /dev/nonexistent "[(0, 1048576)]" "{}"

step "options of CreateSnapshot and OpenImage"
expect_error "$INVALID" "Unknown option 'chunk_size'\." g "$ROOT_PATH" Manager.CreateSnapshot "['$dev_obj']" "{'chunk_size': <uint64 65536>}"
expect_error "$INVALID" ".*[Cc]hunk size 1000.*" g "$ROOT_PATH" Manager.CreateSnapshot "['$dev_obj']" "{'chunk-size': <uint64 1000>}"
expect_error "$INVALID" ".*storage-pool.*" g "$ROOT_PATH" Manager.CreateSnapshot "['$dev_obj']" "{'storage-limit': <uint64 1048576>}"
expect_error "$INVALID" ".*relative.*" g "$ROOT_PATH" Manager.CreateSnapshot "['$dev_obj']" "{'storage-pool': <'relative'>}"
expect_error "org.blksnap.Blksnap1.Error.Busy" ".*" g "$ROOT_PATH" Manager.CreateSnapshot "['$dev_obj']" "{}"

step "calls in the wrong state"
expect_error "org.blksnap.Blksnap1.Error.InvalidState" ".+" g "$snap" Snapshot.OpenImage "$dev_obj" "{}"
expect_error "org.blksnap.Blksnap1.Error.InvalidState" ".+" g "$snap" Snapshot.GetChangedExtents "$dev_obj" "$(field generation "$(nl get "$orig")")" 0 "{}"

step "storage fds that are not regular files open for writing"
expect_error "$INVALID" ".*not a regular file.*" client add-file "$snap" /var/tmp 1048576 dir
expect_error "$INVALID" ".*not a regular file.*" client add-file "$snap" "$other" 1048576 rw
touch /var/tmp/ro
expect_error "$INVALID" ".*not open for writing.*" client add-file "$snap" /var/tmp/ro 1048576 ro

step "after Destroy, the snapshot's object is gone: every call is UnknownObject"
g "$snap" Snapshot.AddStorageRanges "$other" "[(0, 16777216)]" "{}" >/dev/null
g "$snap" Snapshot.Destroy "{}" >/dev/null
known_state=
assert_eq "snapshots" "" "$(nl snapshot-list)"
for call in "Snapshot.Take {}" "Snapshot.Destroy {}" "Snapshot.GetImages {}"; do
	# shellcheck disable=SC2086 # the method and its arguments
	expect_error "$UNKNOWN" ".+" g "$snap" $call
done
expect_error "$UNKNOWN" ".+" g "$snap" Snapshot.OpenImage "$dev_obj" "{}"
expect_error "$UNKNOWN" ".+" raw "$snap" org.freedesktop.DBus.Properties.Get string:"$IFACE.Snapshot" string:State

g "$dev_obj" Device.Untrack "{}" >/dev/null
blksnapd_stop || fail "blksnapd exited with status $? on SIGTERM"
unload_module
