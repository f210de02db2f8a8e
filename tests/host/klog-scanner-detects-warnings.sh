#!/bin/sh
# check-klog, which decides whether a VM run's kernel log is clean, fails on
# each kind of kernel report (WARNING, lockdep, hung task, a stray call
# trace, ...) and passes on a clean log, out-of-tree module taint and a
# requested sysrq task dump included, and on a report a case allows; with
# --first it marks only a log's first offence.
set -eu
src=${BLKSNAP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
check_klog=$src/tests/vm/check-klog
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

# A clean boot, with the lines a run always has.
cat >"$tmp/clean" <<'LOG'
[    0.000000] Linux version 6.1.0-56-amd64 (debian-kernel@lists.debian.org)
[    2.120437] Run /init as init process
[    4.542870] run-vm: command starts
[    4.601000] blksnap: loading out-of-tree module taints kernel.
[    4.602000] blksnap: module verification failed: signature and/or required key missing - tainting kernel
[    5.000000] sysrq: Show Blocked State
[    5.000100] task:kworker/0:1     state:D stack:0     pid:12    ppid:2      flags:0x00004000
[    5.000200] Call Trace:
[    5.000300]  <TASK>
[    5.000400]  __schedule+0x2d1/0x8a0
[    5.000500]  </TASK>
[    6.675502] run-vm: command exited with status 0
LOG

report() { # report NAME LINE...: the clean log with these lines in the middle
	{
		head -n 4 "$tmp/clean"
		shift
		printf '%s\n' "$@"
		tail -n 1 "$tmp/clean"
	} >"$tmp/$1"
}
report warning warning \
	'[    4.7] ------------[ cut here ]------------' \
	'[    4.7] WARNING: CPU: 1 PID: 140 at kmod/tracker.c:42 tracker_put+0x3e/0x50 [blksnap]' \
	'[    4.7] Modules linked in: blksnap(OE) virtio_blk' \
	'[    4.7] Call Trace:' \
	'[    4.7] ---[ end trace 0000000000000000 ]---'
report rcu-suspicious rcu-suspicious \
	'[    4.7] WARNING: suspicious RCU usage'
report lockdep lockdep \
	'[    4.7] ======================================================' \
	'[    4.7] WARNING: possible circular locking dependency detected' \
	'[    4.7] 6.1.0-56-amd64 #1 Tainted: G           OE'
report lockdep-recursive lockdep-recursive \
	'[    4.7] WARNING: possible recursive locking detected'
report hung-task hung-task \
	'[  125.1] INFO: task kworker/u4:2:77 blocked for more than 61 seconds.' \
	'[  125.1]       Tainted: G           OE      6.1.0-56-amd64 #1'
report stray-call-trace stray-call-trace \
	'[    4.7] kworker/0:2: page allocation failure: order:5, mode:0x40c00(GFP_NOIO|__GFP_COMP)' \
	'[    4.7] CPU: 0 PID: 51 Comm: kworker/0:2 Tainted: G           OE' \
	'[    4.7] Call Trace:' \
	'[    4.7]  <TASK>'
report null-deref null-deref \
	'[    4.7] BUG: kernel NULL pointer dereference, address: 0000000000000008' \
	'[    4.7] Oops: 0000 [#1] PREEMPT SMP NOPTI'
report soft-lockup soft-lockup \
	'[   30.1] watchdog: BUG: soft lockup - CPU#1 stuck for 23s! [fio:201]'
report rcu-stall rcu-stall \
	'[   30.1] rcu: INFO: rcu_preempt self-detected stall on CPU'
report panic panic \
	'[    4.7] Kernel panic - not syncing: Fatal exception'

expect() { # expect STATUS [--allow ERE] FILE...
	want=$1
	shift
	what="check-klog $(echo "$*" | sed "s|$tmp/||g")"
	got=0
	"$check_klog" "$@" >"$tmp/out" 2>&1 || got=$?
	if [ "$got" != "$want" ]; then
		echo "FAIL: $what exited $got, not $want:"
		sed 's/^/    /' "$tmp/out"
		failures=$((failures + 1))
	elif [ "$want" = 1 ] && ! grep -q '^>' "$tmp/out"; then
		echo "FAIL: $what marked no offending line:"
		sed 's/^/    /' "$tmp/out"
		failures=$((failures + 1))
	else
		echo "ok: $what -> $got"
	fi
}

expect 0 "$tmp/clean"
for kind in warning rcu-suspicious lockdep lockdep-recursive hung-task stray-call-trace \
	null-deref soft-lockup rcu-stall panic; do
	expect 1 "$tmp/$kind"
done
# A report the case provokes on purpose, and its call trace, are allowed.
expect 0 --allow 'WARNING: CPU: [0-9]+ PID: [0-9]+ at kmod/tracker\.c' "$tmp/warning"
# ... but only that one.
expect 1 --allow 'WARNING: CPU: [0-9]+ PID: [0-9]+ at kmod/tracker\.c' "$tmp/lockdep"
# Several files: one bad makes the whole check fail.
expect 1 "$tmp/clean" "$tmp/hung-task"
expect 2 "$tmp/no-such-log"

# --first marks only the log's first offence: the WARNING of a log that has
# a lockdep report after it, not the lockdep line.
cat "$tmp/warning" >"$tmp/two"
sed -n '5,7p' "$tmp/lockdep" >>"$tmp/two"
expect 1 --first "$tmp/two"
marked=$(grep '^>' "$tmp/out" || :)
case $marked in
*"WARNING: CPU: 1 PID: 140"*)
	if [ "$(printf '%s\n' "$marked" | wc -l)" = 1 ]; then
		echo "ok: --first marks the first offence alone"
	else
		echo "FAIL: --first marked more than one line:"
		printf '%s\n' "$marked" | sed 's/^/    /'
		failures=$((failures + 1))
	fi ;;
*)
	echo "FAIL: --first did not mark the WARNING:"
	sed 's/^/    /' "$tmp/out"
	failures=$((failures + 1)) ;;
esac

[ "$failures" = 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "check-klog: all kinds of reports detected, clean logs pass"
