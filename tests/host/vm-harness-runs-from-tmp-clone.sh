#!/bin/sh
# The VM harness works from a copy of the repository under /tmp (where users
# clone too), although the VM mounts its own tmpfs on /tmp: a VM case run
# from there sees the copy's source and build directories at their paths.
# timeout: 240
set -eu
src=${BLKSNAP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
clone=$(mktemp -d /tmp/blksnap-clone.XXXXXX)
trap 'rm -rf "$clone"' EXIT

# Arrange: the harness and one case, copied to /tmp with an empty build dir.
(cd "$src" && git ls-files -z tests/vm tests/cases/vm-harness-scratch-disks.sh |
	xargs -0 cp --parents -t "$clone")
mkdir -p "$clone/build/vm"
# The accelerator probe's verdict, if this build has one (it saves a probe).
build=${BLKSNAP_BUILD:-$src/build}
[ ! -f "$build/vm/accel" ] || cp "$build/vm/accel" "$clone/build/vm/accel"

# Act: run the case in a VM from the copy.
rc=0
"$clone/tests/vm/run-vm" --quiet --build-dir "$clone/build" --workdir "$clone/build/run" \
	--timeout 200 --disk 64M --disk 32M -- "$clone/tests/cases/vm-harness-scratch-disks.sh" || rc=$?

# Assert: it passed, and it ran in the copy.
cat "$clone/build/run/output.log"
if [ "$rc" != 0 ]; then
	echo "FAIL: the case run from $clone exited with status $rc" >&2
	tail -n 30 "$clone/build/run/console.log" >&2 || :
	exit 1
fi
grep -q "^disks, root, /tmp, \$RESULTS and environment as promised" "$clone/build/run/output.log" ||
	{ echo "FAIL: the case did not report success" >&2; exit 1; }
# (the run's command file, not the console, where a kernel message can cut the line)
ran=$(cat "$clone/build/run/command" 2>/dev/null) || ran=
[ "$ran" = "$(cd "$clone" && pwd -P): $clone/tests/cases/vm-harness-scratch-disks.sh" ] ||
	{ echo "FAIL: the VM did not run the copy's case in the copy (it ran: '$ran')" >&2; exit 1; }
echo "a case run from $clone passed in the VM"
