# shellcheck shell=bash
# Helpers for the blksnapctl tests, on the host (tests/host/blksnapctl-*.sh)
# and in the VM (tests/cases/blksnapctl-*.sh): the binary, a scratch
# directory removed at exit, device images, extents files, and checks of a
# chain with qemu-img.  Source tests/lib/common.sh first.

CTL=$BLKSNAP_BUILD/blksnapctl/blksnapctl
[ -x "$CTL" ] || fail "no $CTL: build first (scripts/build)"

# A scratch directory, removed at exit (after the case's own cleanup).
WORK=$(mktemp -d "${TMPDIR:-/tmp}/blksnapctl-test.XXXXXX")
cleanup_hooks=()
run_cleanup() {
	local h
	for h in "${cleanup_hooks[@]}"; do eval "$h" || :; done
	rm -rf "$WORK"
}
trap run_cleanup EXIT
on_exit() { cleanup_hooks=("$*" "${cleanup_hooks[@]}"); }

# Two generation ids, for the cases.
# shellcheck disable=SC2034
GEN1=6c1f2a8e-0d4b-4c52-9a61-3e0f7b2d9c11 GEN2=0b9e7d1a-55c2-4f0e-8d3b-a1c2e3f40566

# write_random FILE OFFSET LENGTH (bytes, multiples of 4096)
write_random() {
	head -c "$3" /dev/urandom | dd of="$1" bs=4096 seek=$(($2 / 4096)) conv=notrunc status=none
}

# write_zero FILE OFFSET LENGTH
write_zero() {
	dd if=/dev/zero of="$1" bs=4096 seek=$(($2 / 4096)) count=$(($3 / 4096)) conv=notrunc status=none
}

# extents_file OUT [OFFSET LENGTH]...: what GetChangedExtents returns, LE u64 pairs
extents_file() {
	local out=$1
	shift
	perl -e 'print pack("Q<*", @ARGV)' "$@" >"$out"
}

# backup_image NAME IMAGE GENERATION SNAP DIR [EXTENTS-FILE] [more args]
backup_image() {
	local name=$1 img=$2 gen=$3 snap=$4 dir=$5
	shift 5
	local ext=()
	if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then ext=(--extents-file "$1"); shift; fi
	"$CTL" backup "$name" --from-image "$img" --generation "$gen" --snap-number "$snap" \
		--to "$dir" "${ext[@]}" "$@"
}

sum() { sha256sum <"$1" | cut -d' ' -f1; }

# assert_restores CHAIN N EXPECTED-FILE: backup N restores byte for byte
assert_restores() {
	rm -f "$WORK/restored"
	"$CTL" restore "$1@$2" --to "$WORK/restored" >/dev/null 2>&1 ||
		fail "restore $1@$2 failed: $("$CTL" restore "$1@$2" --to "$WORK/restored" 2>&1)"
	cmp "$3" "$WORK/restored" || fail "backup $2 of $1 does not restore $3 byte for byte"
	echo "ok: backup $2 of $1 restores byte for byte"
}

# assert_chain_sound CHAIN: qemu-img check of every image, the last image's
# backing chain is the manifest's, verify passes
assert_chain_sound() {
	local chain=$1 img images n i out
	images=$(jq -r '.backups[].image' "$chain/chain.json")
	for img in $images; do
		qemu-img check -q -f qcow2 "$chain/$img" || fail "qemu-img check $chain/$img"
	done
	out=$("$CTL" verify "$chain" 2>&1) || fail "verify $chain: $out"
	n=$(jq '.backups | length' "$chain/chain.json")
	# the backing chain of the last image, as qemu-img sees it, back to the last full
	i=$((n - 1))
	local names=() got
	while [ "$i" -ge 0 ]; do
		names+=("$(jq -r ".backups[$i].image" "$chain/chain.json")")
		[ "$(jq -r ".backups[$i].kind" "$chain/chain.json")" = full ] && break
		i=$((i - 1))
	done
	got=$(qemu-img info --backing-chain --output=json "$chain/${names[0]}" | jq -r '.[].filename' |
		xargs -n1 basename | tr '\n' ' ')
	assert_eq "backing chain of $chain/${names[0]}" "${names[*]} " "$got"
	echo "ok: $chain: qemu-img check, verify and the backing chain agree ($n backups)"
}

# assert_chain_kept CHAIN MANIFEST: after a failed backup, the manifest of
# CHAIN is still MANIFEST (its text before), the directory holds its images
# and no partial one, the chain is sound and no snapshot is left (VM only)
assert_chain_kept() {
	local chain=$1 want
	assert_eq "the manifest of $chain" "$2" "$(cat "$chain/chain.json")"
	want="$(jq -r '.backups[] | .image, .extents_file // empty' <<<"$2" | sort | tr '\n' ' ')chain.json"
	assert_eq "files of $chain" "$want" "$(ls "$chain" | tr '\n' ' ' | sed 's/ $//')"
	assert_chain_sound "$chain"
	assert_no_snapshot
}

# allocated IMAGE -> "start+length" of the ranges the image itself (depth 0)
# holds data for, one a line
allocated() {
	qemu-img map --output=json "$1" | jq -r '.[] | select(.depth == 0 and .data) | "\(.start)+\(.length)"'
}

# --- through the service (VM only; source tests/lib/dbus-env.sh first) -----

# ctl_service_start: the module, a system bus, polkitd with the example
# rules, blksnapd; $BACKUP_USER (in blksnap-backup) and $OTHER_USER exist.
# The EXIT trap stops them and removes $WORK.
ctl_service_start() {
	load_module
	dbus_env_start
	trap ctl_service_exit EXIT
	blksnapd_start
	install_backup_rules
}
ctl_service_exit() {
	local rc=$?
	(exit "$rc")
	# (it returns the case's status: under set -e, not a reason to skip
	# the cleanup hooks)
	dbus_env_stop || :
	run_cleanup
	return "$rc"
}

# ctl_as USER ARGS...: blksnapctl as USER (no root, no capability)
ctl_as() {
	local user=$1
	shift
	as_user "$user" "$CTL" "$@"
}

# ctl_bg USER LOG ARGS...: blksnapctl ARGS as USER in the background, its
# output in LOG; sets ctl_job (to wait for) and ctl_pid (blksnapctl itself,
# to signal: the shell of an asynchronous command ignores SIGINT)
ctl_bg() {
	local user=$1 log=$2
	shift 2
	rm -f /tmp/ctl.pid
	# shellcheck disable=SC2016 # $$ is the shell that execs blksnapctl
	as_user "$user" sh -c 'echo $$ >/tmp/ctl.pid; exec "$0" "$@"' "$CTL" "$@" >"$log" 2>&1 &
	# shellcheck disable=SC2034 # the case waits for it
	ctl_job=$!
	until [ -s /tmp/ctl.pid ]; do sleep 0.05; done
	ctl_pid=$(cat /tmp/ctl.pid)
}

# wait_partial CHAIN [FIND-SIZE]: until the backup of ctl_bg writes a
# partial image in CHAIN (of FIND-SIZE, as find -size says: +1M); fails if
# blksnapctl ends first
wait_partial() {
	until [ -n "$(find "$1" -name '*.partial' ${2:+-size "$2"} 2>/dev/null)" ]; do
		kill -0 "$ctl_pid" 2>/dev/null || fail "the backup ended before its partial image was seen"
		sleep 0.05
	done
}

# user_dir USER PATH: an empty directory PATH owned by USER
user_dir() {
	mkdir -p "$2"
	chown "$1:" "$2"
}

# assert_no_snapshot: neither the kernel nor the service has a snapshot
assert_no_snapshot() {
	assert_eq "snapshots in the kernel" "" "$(nl snapshot-list)"
	assert_eq "snapshots of the service" "[]" "$("$CTL" status --json | jq -c .snapshots)"
}

# fs_sums DIR: MD5 of every regular file under DIR, sorted by name
fs_sums() {
	(cd "$1" && find . -type f ! -path './lost+found/*' -print0 | sort -z | xargs -0r md5sum)
}
