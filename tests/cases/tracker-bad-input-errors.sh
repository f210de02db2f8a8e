#!/bin/bash
# disks: 64M 72G
# timeout: 300
#
# Every bad request is refused with a precise errno and an extack message,
# and changes nothing: unknown devices, paths that are not block devices,
# double attach, untracked devices, bad block sizes, bad ranges, bad map
# slices, missing, unknown and mistyped attributes, unprivileged callers.
. "$BLKSNAP_SRC/tests/lib/common.sh"

load_module
big=$DISK2
nl attach "$DISK1" 4096 >/dev/null
before_list=$(nl list)
dd if=/dev/urandom of="$DISK1" bs=4k seek=3 count=1 oflag=direct status=none
before_map=$(nl map "$DISK1")
last=$(( $(sectors "$DISK1") - 1 ))
u64max=18446744073709551615

step "devices that do not exist or are not block devices"
expect_errno ENODEV "no block device" nl attach 240:12345
expect_errno ENOTBLK "not a block device" nl attach /dev/null
touch /tmp/regular
expect_errno ENOTBLK "not a block device" nl attach /tmp/regular
expect_errno ENOENT "cannot look up" nl attach /dev/no-such-device

step "tracked and untracked devices"
expect_errno EEXIST "already tracked" nl attach "$DISK1"
expect_errno EEXIST "already tracked" nl attach "$(devnum "$DISK1")"
for op in detach get reset; do
	expect_errno ENOENT "not tracked" nl "$op" "$big"
done
expect_errno ENOENT "not tracked" nl mark "$big" 0+8
expect_errno ENOENT "not tracked" nl map "$big"

step "block sizes"
expect_errno EINVAL "power of two" nl attach "$big" 12288
expect_errno ERANGE - nl attach "$big" 2048
expect_errno ERANGE - nl attach "$big" 2147483648
expect_errno E2BIG "block size too small" nl attach "$big" 4096
info=$(nl attach "$big")
assert_eq "default block size of a 72 GiB disk" 131072 "$(field block_size "$info")"
nl detach "$big"

step "ranges of mark-dirty"
expect_errno ERANGE "starts past the end" nl mark "$DISK1" "$((last + 1))+1"
expect_errno ERANGE "starts past the end" nl mark "$DISK1" "$u64max+2"
expect_errno ERANGE "ends past the end" nl mark "$DISK1" "$last+2"
expect_errno ERANGE "ends past the end" nl mark "$DISK1" "8+$u64max"
expect_errno ERANGE - nl mark "$DISK1" 0+0
expect_errno EINVAL - nl raw cbt-mark-dirty dev-path=str:"$DISK1"
expect_errno EINVAL - nl raw cbt-mark-dirty dev-path=str:"$DISK1" \
	range=nest:start=u64:0
expect_errno EINVAL - nl raw cbt-mark-dirty dev-path=str:"$DISK1" \
	range=nest:count=u64:8

step "map slices"
blocks=$(field block_count "$(nl get "$DISK1")")
expect_errno ERANGE "offset is past the end" nl map "$DISK1" "$blocks"
expect_errno ERANGE "length goes past the end" nl map "$DISK1" 1 "$blocks"
expect_errno ERANGE - nl map "$DISK1" 0 0

step "missing, doubled, unknown and mistyped attributes"
expect_errno EINVAL "device missing" nl raw tracker-attach
expect_errno EINVAL "device missing" nl raw tracker-attach dev-major=u32:254
expect_errno EINVAL "device missing" nl raw tracker-get dev-minor=u32:0
expect_errno EINVAL "give either" nl raw tracker-detach \
	dev-path=str:"$DISK1" dev-major=u32:254 dev-minor=u32:0
expect_errno ERANGE - nl raw tracker-attach dev-major=u32:4096 dev-minor=u32:0
expect_errno ERANGE - nl raw tracker-attach dev-major=u32:8 dev-minor=u32:1048576
expect_errno EINVAL - nl raw tracker-attach dev-major=u64:8 dev-minor=u32:0
expect_errno EINVAL - nl raw tracker-attach 99=u32:1
expect_errno EINVAL - nl raw version dev-major=u32:1
expect_errno EINVAL - nl raw tracker-attach generation-id=bin:00112233445566778899aabbccddeeff

step "callers without privileges"
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
for op in "attach $big" "detach $DISK1" "reset $DISK1" "mark $DISK1 0+8" "map $DISK1"; do
	# shellcheck disable=SC2086
	expect_errno EPERM - nobody "$NL" $op
done
# Root without CAP_SYS_ADMIN passes GENL_ADMIN_PERM (CAP_NET_ADMIN), and
# the module itself refuses.
expect_errno EPERM "CAP_SYS_ADMIN is required" \
	setpriv --bounding-set=-sys_admin --inh-caps=-sys_admin "$NL" attach "$big"
expect_errno EPERM "CAP_SYS_ADMIN is required" \
	setpriv --bounding-set=-sys_admin --inh-caps=-sys_admin "$NL" map "$DISK1"
assert_eq "version for anyone" "version=1.0.0" "$(nobody "$NL" version)"
assert_eq "list for anyone" "$before_list" "$(nobody "$NL" list)"

step "nothing changed"
assert_eq "trackers" "$before_list" "$(nl list)"
assert_eq "map" "$before_map" "$(nl map "$DISK1")"

nl detach "$DISK1"
unload_module
