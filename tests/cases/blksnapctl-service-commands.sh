#!/bin/bash
# disks: 64M 64M
# timeout: 900
# kernels: first
#
# Every service command of blksnapctl does its D-Bus operation for a member
# of blksnap-backup without root: track, status (table and JSON), snapshot
# create / storage (device ranges, and a file of the user's) / take / list /
# destroy, changes (the extents written since the first snapshot), untrack; monitor prints the service's signals
# as JSON lines; and a stopped service gives exit 5.
. "$BLKSNAP_SRC/tests/lib/common.sh"
. "$BLKSNAP_SRC/tests/lib/dbus-env.sh"
. "$BLKSNAP_SRC/tests/lib/blksnapctl.sh"

dev=$DISK1 storage=$DISK2 u=$BACKUP_USER
num=$(devnum "$dev")
ctl_service_start

step "act: monitor in the background; track with 64 KiB blocks"
# (its own pid, for SIGINT: the shell of a background job ignores SIGINT)
# shellcheck disable=SC2016
as_user "$u" sh -c 'echo $$ >/tmp/monitor.pid; exec "$0" "$@"' "$CTL" monitor --json \
	>/tmp/monitor.out 2>/tmp/monitor.err &
job=$!
until [ -s /tmp/monitor.pid ]; do sleep 0.05; done
mon=$(cat /tmp/monitor.pid)
on_exit "kill $mon 2>/dev/null"
sleep 2
out=$(ctl_as "$u" track "$dev" --block-size 65536)
assert_eq "track" "$dev is tracked: $ROOT_PATH/device/${num/:/_}" "$out"

step "assert: status shows the device, in the table and in JSON"
ctl_as "$u" status
assert_match "status header" "^blksnapd [0-9.]+, kernel module [0-9.]+$" "$(ctl_as "$u" status | head -n1)"
assert_match "status table" "^$dev +$num +64\.0 MiB +64\.0 KiB +[0-9a-f-]{36} +[0-9]+ +-$" "$(ctl_as "$u" status | grep "^$dev ")"
json=$(ctl_as "$u" status --json)
assert_eq "status --json" "$dev 67108864 65536 /" "$(jq -r '.devices[0] | "\(.Path) \(.Size) \(.BlockSize) \(.Snapshot)"' <<<"$json")"
gen=$(jq -r '.devices[0].GenerationId' <<<"$json")

step "act: snapshot create, storage, take; writes; a second snapshot"
id=$(ctl_as "$u" snapshot create "$dev" --chunk-size 65536)
assert_match "snapshot id" '^[0-9a-f-]{36}$' "$id"
ctl_as "$u" snapshot storage "$id" --range "$storage:0+33554432"
ctl_as "$u" snapshot take "$id"
list=$(ctl_as "$u" snapshot list --json)
echo "$list"
assert_eq "snapshot list --json" "$id taken 33554432 $gen 1" \
	"$(jq -r '.[0] | "\(.Id) \(.State) \(.StorageTotal) \(.Images[0][2]) \(.Images[0][3])"' <<<"$list")"
ctl_as "$u" snapshot list
ctl_as "$u" snapshot destroy "$id"
dd if=/dev/urandom of="$dev" bs=64k seek=3 count=2 oflag=direct conv=notrunc status=none
dd if=/dev/urandom of="$dev" bs=4k seek=1000 count=1 oflag=direct conv=notrunc status=none
id=$(ctl_as "$u" snapshot create "$dev")
# storage in a file the user creates (its fd goes to the service)
out=$(ctl_as "$u" snapshot storage "$id" --file /tmp/storage-file --limit 16777216)
assert_eq "snapshot storage --file" "$id: storage /tmp/storage-file, up to 16777216 bytes" "$out"
assert_eq "owner of the storage file" "$u" "$(stat -c %U /tmp/storage-file)"
ctl_as "$u" snapshot take "$id" >/dev/null
total=$(ctl_as "$u" snapshot list --json | jq -r '.[0].StorageTotal')
[ "$total" -gt 0 ] && [ "$total" -le 16777216 ] || fail "StorageTotal $total with a file of limit 16 MiB"
dd if=/dev/urandom of="$dev" bs=64k seek=512 count=16 oflag=direct conv=notrunc status=none
used=$(ctl_as "$u" snapshot list --json | jq -r '.[0].StorageUsed')
[ "$used" -ge 1048576 ] || fail "StorageUsed $used after 1 MiB written over the snapshot"
[ "$(du -B1 /tmp/storage-file | cut -f1)" -ge 1048576 ] || fail "the copies are not in /tmp/storage-file"
echo "ok: the snapshot taken with $total bytes of storage in /tmp/storage-file; $used used"

step "assert: changes since snap 1: the two extents written, in bytes"
ctl_as "$u" changes "$dev" --since "$gen:1"
assert_eq "changes --json" "196608+131072 4063232+65536" \
	"$(ctl_as "$u" changes "$dev" --since "$gen:1" --json | jq -r '[.[] | "\(.offset)+\(.length)"] | join(" ")')"
rc=0
out=$(ctl_as "$u" changes "$dev" --since "00000000-0000-4000-8000-000000000000:1" 2>&1) || rc=$?
assert_eq "exit status of changes of another generation" 1 "$rc"
assert_match "changes of another generation" "cannot get the changed extents: .+" "$out"

step "act: destroy, untrack"
ctl_as "$u" snapshot destroy "$id"
ctl_as "$u" untrack "$dev"
assert_eq "trackers in the kernel" "" "$(nl list)"
assert_no_snapshot

step "assert: monitor printed the objects' and properties' signals as JSON lines"
sleep 2
kill -INT "$mon"
wait "$job" || fail "monitor exited with status $?: $(cat /tmp/monitor.err)"
cat /tmp/monitor.out
jq -e . /tmp/monitor.out >/dev/null || fail "monitor printed something that is not JSON"
for member in InterfacesAdded PropertiesChanged InterfacesRemoved; do
	grep -q "\"member\":\"$member\"" /tmp/monitor.out || fail "monitor did not print $member"
done
assert_match "the device's InterfacesAdded" "\"args\":\\[\"$ROOT_PATH/device/${num/:/_}\"" \
	"$(grep InterfacesAdded /tmp/monitor.out | head -n1)"

step "assert: without the service, exit 5"
blksnapd_stop
rc=0
out=$(ctl_as "$u" status 2>&1) || rc=$?
assert_eq "exit status of status without blksnapd" 5 "$rc"
assert_match "status without blksnapd" "cannot be reached" "$out"
