#!/bin/sh
# stale-int3, which lets run-tests boot a case again when the emulator (not
# the kernel, not the module) killed its VM, matches only an int3 Oops whose
# code dump shows no int3 at the trap: the two seen under TCG (a static key
# at boot, the module's ftrace hook registered under I/O), not a real stray
# int3, not an int3 after another report, not another Oops, not a clean log.
set -eu
src=${BLKSNAP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
stale_int3=$src/tests/vm/stale-int3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

# The lines of an Oops with this first line, RIP and code dump.
oops() { # oops FILE TITLE RIP CODE
	cat >>"$1" <<LOG
[   16.383218] $2: 0000 [#1] PREEMPT SMP NOPTI
[   16.383694] CPU: 0 UID: 0 PID: 196 Comm: fio Tainted: G           OE      6.12.117+deb12-amd64 #1  Debian 6.12.117-1~deb12u1
[   16.384061] RIP: 0010:$3
[   16.384875] Code: $4
[   16.384960] RSP: 0018:ffffc9000052b9d8 EFLAGS: 00000202
[   16.386210] Call Trace:
[   16.386383]  <TASK>
[   16.386442]  blkdev_direct_IO+0x25a/0x5c0
[   16.387000] ---[ end trace 0000000000000000 ]---
[   16.387100] Kernel panic - not syncing: Fatal exception
LOG
}
log_start() { # log_start FILE: the start of every log
	printf '%s\r\n' '[    0.000000] Linux version 6.12.117+deb12-amd64' \
		'[    4.542870] run-vm: command starts' \
		'[   15.090750] blksnap: version 1.0.0 loaded' >"$1"
}
ftrace_code='66 66 2e 0f 1f 84 00 00 00 00 00 0f 1f 00 90 90 90 f3 0f 1e fa e8 <d7> 56 d0 3e 41 57 41 56 41 55'
static_key_code='00 e9 b8 fe ff ff 90 90 90 f3 0f 1e fa 41 54 55 53 66 <90> e8 41 ac f0 ff 48 03 05 a2 02'
real_code='66 66 2e 0f 1f 84 00 00 00 00 00 0f 1f 00 90 90 90 f3 0f 1e fa cc <d7> 56 d0 3e 41 57 41 56 41 55'

log_start "$tmp/ftrace"
oops "$tmp/ftrace" 'Oops: int3' 'submit_bio_noacct+0x5/0x5d0' "$ftrace_code"
log_start "$tmp/static-key"
oops "$tmp/static-key" 'Oops: int3' 'sched_clock_cpu+0x9/0x190' "$static_key_code"
log_start "$tmp/real-int3"
oops "$tmp/real-int3" 'Oops: int3' 'submit_bio_noacct+0x5/0x5d0' "$real_code"
log_start "$tmp/after-gpf"
oops "$tmp/after-gpf" 'Oops: general protection fault, probably for non-canonical address 0xdead000000000100' \
	'tracker_io_end+0x1d/0x60 [blksnap]' '48 8b 47 08 <48> 8b 10'
oops "$tmp/after-gpf" 'Oops: int3' 'submit_bio_noacct+0x5/0x5d0' "$ftrace_code"
log_start "$tmp/gpf"
oops "$tmp/gpf" 'Oops: general protection fault, probably for non-canonical address 0xdead000000000100' \
	'tracker_io_end+0x1d/0x60 [blksnap]' '48 8b 47 08 <48> 8b 10'
log_start "$tmp/clean"

expect() { # expect 0|1 LOG
	rc=0
	"$stale_int3" "$tmp/$2" >"$tmp/out" 2>&1 || rc=$?
	if [ "$rc" != "$1" ]; then
		echo "FAIL: $2: stale-int3 exited $rc, expected $1"
		sed 's/^/  /' "$tmp/out"
		failures=$((failures + 1))
	fi
}
expect 0 ftrace
grep -q 'RIP: 0010:submit_bio_noacct+0x5' "$tmp/out" ||
	{ echo "FAIL: ftrace: the RIP line is not printed"; failures=$((failures + 1)); }
grep -q 'byte before RIP is e8' "$tmp/out" ||
	{ echo "FAIL: ftrace: the byte at the trap is not named"; failures=$((failures + 1)); }
expect 0 static-key
expect 1 real-int3
expect 1 after-gpf
expect 1 gpf
expect 1 clean

[ "$failures" = 0 ] || exit 1
echo "stale-int3: 2 emulator faults matched, 4 other logs not"
