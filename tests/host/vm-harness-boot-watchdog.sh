#!/bin/sh
# run-vm's boot watchdog: a VM whose command has not started --boot-timeout
# seconds after qemu did is killed and reported as a crash (125, which
# run-tests boots once more), not left to the case's whole timeout; a boot
# that reaches its command within the limit runs it as usual.
# timeout: 240
set -eu
src=${BLKSNAP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${BLKSNAP_BUILD:-$src/build}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

# Act: a limit no boot meets (the kernel alone takes seconds to start).
rc=0
"$src/tests/vm/run-vm" --quiet --build-dir "$build" --workdir "$work/hung" \
	--timeout 200 --boot-timeout 1 -- true 2>"$work/hung.err" || rc=$?

# Assert: killed as a hung boot, before its command.
[ "$rc" = 125 ] || fail "a boot past its limit exited with $rc, not 125"
[ -f "$work/hung/boot-timeout" ] || fail "no boot-timeout file in the workdir"
grep -q 'had not started after 1 s: the boot hung' "$work/hung.err" ||
	fail "stderr does not say the boot hung: $(cat "$work/hung.err")"
! grep -q 'timeout after' "$work/hung.err" || fail "reported as the run's timeout"
! grep -q 'run-vm: command starts' "$work/hung/console.log" ||
	fail "the command started: the watchdog did not stop the boot in time"

# Act: a limit a boot meets.
rc=0
"$src/tests/vm/run-vm" --quiet --build-dir "$build" --workdir "$work/booted" \
	--timeout 200 --boot-timeout 150 -- sh -c 'exit 7' 2>"$work/booted.err" || rc=$?

# Assert: the command ran, its status is the run's, no watchdog trace.
[ "$rc" = 7 ] || fail "a boot within its limit exited with $rc, not the command's 7: $(cat "$work/booted.err")"
[ ! -f "$work/booted/boot-timeout" ] || fail "the watchdog fired on a boot that met its limit"

[ "$failures" = 0 ] || exit 1
echo "boot watchdog: a hung boot ends as 125, a good one runs its command"
