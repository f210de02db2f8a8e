#!/bin/bash
# disks: 64M
# timeout: 900
# kernels: first
#
# A user without root who is not in blksnap-backup is refused by polkit:
# blksnapctl backup, track and snapshot create exit 4 with polkit's sentence,
# and nothing is created: no file in the backup directory, no tracker and no
# snapshot in the kernel or the service; the same commands succeed for a
# member of blksnap-backup.
. "$BLKSNAP_SRC/tests/lib/common.sh"
. "$BLKSNAP_SRC/tests/lib/dbus-env.sh"
. "$BLKSNAP_SRC/tests/lib/blksnapctl.sh"

dev=$DISK1 B=/tmp/backups
ctl_service_start
user_dir "$OTHER_USER" "$B"
dd if=/dev/urandom of="$dev" bs=1M count=2 oflag=direct status=none

# expect_denied ARGS...: blksnapctl ARGS as $OTHER_USER exits 4 saying polkit refused
expect_denied() {
	local rc=0 out
	out=$(ctl_as "$OTHER_USER" "$@" 2>&1) || rc=$?
	echo "$out"
	assert_eq "exit status of blksnapctl $*" 4 "$rc"
	assert_match "message of blksnapctl $*" "not authorized by polkit: Not authorized for org\.blksnap\.Blksnap1\.[a-z-]+" "$out"
}
# assert_nothing: no tracker, no snapshot, no file in $B
assert_nothing() {
	assert_eq "trackers in the kernel" "" "$(nl list)"
	assert_eq "devices of the service" "[]" "$("$CTL" status --json | jq -c .devices)"
	assert_no_snapshot
	assert_eq "files in $B" "" "$(find "$B" -mindepth 1)"
}

step "act+assert: $OTHER_USER may not back up, track or snapshot an untracked device"
expect_denied backup "$dev" --to "$B"
expect_denied track "$dev"
assert_nothing

step "arrange: root tracks the device"
"$CTL" track "$dev"
before=$(nl list)

step "act+assert: $OTHER_USER may not back up or snapshot the tracked device"
expect_denied backup "$dev" --to "$B"
expect_denied snapshot create "$dev"
expect_denied untrack "$dev"
assert_eq "trackers in the kernel" "$before" "$(nl list)"
assert_no_snapshot
assert_eq "files in $B" "" "$(find "$B" -mindepth 1)"

step "assert: a member of blksnap-backup may"
user_dir "$BACKUP_USER" /tmp/ok
ctl_as "$BACKUP_USER" backup "$dev" --to /tmp/ok
assert_eq "backups of $BACKUP_USER" 1 "$(jq '.backups | length' "/tmp/ok/$(basename "$dev")/chain.json")"
ctl_as "$BACKUP_USER" untrack "$dev"
assert_nothing
