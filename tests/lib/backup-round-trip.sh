# shellcheck shell=bash
# The backup round trip of the main job, shared by the demo's guest part
# (tests/demo/backup-demo.sh, which scripts/demo runs) and its VM case
# (tests/cases/blksnapctl-service-ext4-xfs-round-trip.sh): ext4 and xfs
# mounted on two disks with writers changing them, backups of both devices
# together by a user without root through the real service, every point
# restored to new disks and checked against the files each file system held
# at its take.  In the VM only; source tests/lib/common.sh, dbus-env.sh and
# blksnapctl.sh first, and call ctl_service_start.
#
# State lives in /tmp/rt: sums.N.FS (the files' checksums at take N),
# backup.N.log (blksnapctl's output), check.N.FS (PASS or what failed).

RT=/tmp/rt
RT_MNT=/tmp/m
RT_POOL=/tmp/pool

# rt_arrange EXT4 XFS POOLDEV BACKUPS USER: ext4 on EXT4 and xfs on XFS,
# mounted under $RT_MNT with a few files; an ext4 storage pool on POOLDEV
# mounted on $RT_POOL; BACKUPS an empty directory of USER.
rt_arrange() {
	RT_EXT4=$1 RT_XFS=$2 RT_POOLDEV=$3 RT_BACKUPS=$4 RT_USER=$5
	mkdir -p "$RT" "$RT_MNT/ext4" "$RT_MNT/xfs" "$RT_POOL" /tmp/r
	mkfs.ext4 -q -F "$RT_EXT4"
	# mkfs.xfs refuses file systems under 300 MB unless it is run by a test suite
	TEST_DIR=/tmp TEST_DEV=$RT_XFS QA_CHECK_FS=1 mkfs.xfs -q -f "$RT_XFS" >/dev/null
	mkfs.ext4 -q -F "$RT_POOLDEV"
	mount "$RT_EXT4" "$RT_MNT/ext4"
	mount "$RT_XFS" "$RT_MNT/xfs"
	mount "$RT_POOLDEV" "$RT_POOL"
	user_dir "$RT_USER" "$RT_BACKUPS"
	local fs
	for fs in ext4 xfs; do
		mkdir "$RT_MNT/$fs/dir"
		dd if=/dev/urandom of="$RT_MNT/$fs/dir/base" bs=1M count=6 status=none
	done
}

# rt_dev FS: the device of FS (ext4 or xfs); rt_name FS: its chain's name
rt_dev() { if [ "$1" = ext4 ]; then echo "$RT_EXT4"; else echo "$RT_XFS"; fi; }
rt_name() { basename "$(rt_dev "$1")"; }

# writer DIR NAME: a database-like file written at random 4 KiB blocks and
# copies of it, until $RT/stop; waits while $RT/pause exists
rt_writer() {
	local d=$1 i=0
	dd if=/dev/urandom of="$d/db" bs=1M count=4 status=none
	while [ ! -e "$RT/stop" ]; do
		if [ -e "$RT/pause" ]; then
			touch "$RT/paused.$2"
			sleep 0.1
			continue
		fi
		dd if=/dev/urandom of="$d/db" bs=4k seek=$((RANDOM % 1024)) count=1 conv=notrunc status=none
		i=$((i + 1))
		[ $((i % 40)) != 0 ] || cp "$d/db" "$d/copy-$((i / 40 % 3))"
	done
}

# rt_writers_start: a writer on each file system, stopped at exit
rt_writers_start() {
	rm -f "$RT/stop"
	rt_writer "$RT_MNT/ext4" ext4 &
	RT_W1=$!
	rt_writer "$RT_MNT/xfs" xfs &
	RT_W2=$!
	on_exit rt_writers_stop
}

rt_writers_stop() {
	touch "$RT/stop"
	[ -z "${RT_W1:-}" ] || wait "$RT_W1" "$RT_W2" 2>/dev/null || :
	RT_W1='' RT_W2=''
}

# rt_backup_point N [ARGS...]: writers paused and the file systems synced,
# the files' checksums recorded (what the take will freeze); the backup of
# both devices together starts as $RT_USER, the writers resume as soon as
# the snapshot is taken and change the files while the images are copied.
# Asserts the backup exits 0 and leaves no snapshot.
rt_backup_point() {
	local n=$1 pid rc=0 fs
	shift
	rm -f "$RT"/paused.*
	touch "$RT/pause"
	while [ ! -e "$RT/paused.ext4" ] || [ ! -e "$RT/paused.xfs" ]; do sleep 0.1; done
	sync
	for fs in ext4 xfs; do fs_sums "$RT_MNT/$fs" >"$RT/sums.$n.$fs"; done
	ctl_as "$RT_USER" backup "$RT_EXT4" "$RT_XFS" --to "$RT_BACKUPS" --storage-pool "$RT_POOL" "$@" \
		>"$RT/backup.$n.log" 2>&1 &
	pid=$!
	until nl snapshot-list | grep -q 'state=taken'; do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	rm -f "$RT/pause"
	wait "$pid" || rc=$?
	cat "$RT/backup.$n.log"
	assert_eq "exit status of backup $n" 0 "$rc"
	assert_no_snapshot
}

# rt_check_point N FS TARGET: restore backup N of FS's device to the device
# TARGET; it must pass e2fsck -fn / xfs_repair -n and hold exactly the files
# of take N.  Says what it found and records it in $RT/check.N.FS; returns
# non-zero on a mismatch (without exiting, so every point gets checked).
rt_check_point() {
	local n=$1 fs=$2 to=$3 d mopt='' why='' out
	d=$(rt_name "$fs")
	[ "$fs" = ext4 ] || mopt=-onouuid
	if ! out=$("$CTL" restore "$RT_BACKUPS/$d@$n" --to "$to" 2>&1); then
		why="restore failed: $out"
	elif ! mount $mopt "$to" /tmp/r; then
		why="the restored file system does not mount"
	else
		fs_sums /tmp/r >"$RT/restored.$n.$fs"
		umount /tmp/r
		cmp -s "$RT/sums.$n.$fs" "$RT/restored.$n.$fs" ||
			why="its files differ from take $n's: $(diff "$RT/sums.$n.$fs" "$RT/restored.$n.$fs" | grep -c '^[<>]') lines of md5sum differ"
		if [ "$fs" = ext4 ]; then
			e2fsck -fn "$to" >/dev/null 2>&1 || why="${why:+$why; }e2fsck -fn: exit status $?"
		else
			xfs_repair -n "$to" >/dev/null 2>&1 || why="${why:+$why; }xfs_repair -n: exit status $?"
		fi
	fi
	if [ -n "$why" ]; then
		echo "FAIL: $fs backup $n: $why" >&2
		echo "FAIL" >"$RT/check.$n.$fs"
		return 1
	fi
	echo "ok: $fs backup $n restores to a clean file system with the files of its take ($(wc -l <"$RT/sums.$n.$fs") files)"
	echo "PASS" >"$RT/check.$n.$fs"
}

# rt_check_all POINTS NEW_EXT4 NEW_XFS: rt_check_point for every point
# 0..POINTS-1 of both file systems (unmounted first); non-zero if any failed
rt_check_all() {
	local points=$1 n rc=0
	umount "$RT_MNT/ext4" "$RT_MNT/xfs"
	for ((n = 0; n < points; n++)); do
		rt_check_point "$n" ext4 "$2" || rc=1
		rt_check_point "$n" xfs "$3" || rc=1
	done
	return "$rc"
}

# rt_report POINTS: per device and point the kind, the image's size on
# disk, the bytes backed up, the backup's time and throughput (from
# blksnapctl's own line), and the restore check's verdict
rt_report() {
	local points=$1 fs n d json kind img changed line secs rate check
	printf '%-5s %-4s %5s  %-11s  %10s  %10s  %8s  %12s  %s\n' \
		DEV FS POINT KIND IMAGE CHANGED TIME THROUGHPUT CHECK
	for fs in ext4 xfs; do
		d=$(rt_name "$fs")
		json=$("$CTL" list "$RT_BACKUPS/$d" --json 2>/dev/null) || json='{}'
		for ((n = 0; n < points; n++)); do
			kind=$(jq -r ".[0].backups[$n].kind // \"-\"" <<<"$json" 2>/dev/null)
			img=$(jq -r ".[0].backups[$n].image_bytes // 0" <<<"$json" 2>/dev/null)
			changed=$(jq -r ".[0].backups[$n].changed_bytes // 0" <<<"$json" 2>/dev/null)
			line=$(grep -s "^blksnapctl: $d: backup $n done:" "$RT/backup.$n.log")
			secs=$(sed -n 's/.* written in \([0-9.]*\) s (.*/\1/p' <<<"$line")
			rate=$(sed -n 's/.* s (\(.*\))$/\1/p' <<<"$line")
			check=$(cat "$RT/check.$n.$fs" 2>/dev/null || echo "not checked")
			printf '%-5s %-4s %5s  %-11s  %10s  %10s  %8s  %12s  %s\n' "$d" "$fs" "$n" "${kind:--}" \
				"$(rt_human "${img:-0}")" "$(rt_human "${changed:-0}")" "${secs:--} s" "${rate:--}" "$check"
		done
	done
	echo "(IMAGE: the qcow2 file on disk; CHANGED: what the backup read, the whole device for a full one"
	echo " (zeros left unallocated); TIME, THROUGHPUT: blksnapctl's copy of that device; CHECK: the restored"
	echo " point passes fsck and holds every file as it was at the take)"
}

# rt_human BYTES: 1.5 MiB
rt_human() {
	numfmt --to=iec-i --suffix=B --format='%.1f' "$1" | sed 's/\([0-9]\)\([KMGT]\)/\1 \2/; s/\([0-9]\)B$/\1 B/'
}
