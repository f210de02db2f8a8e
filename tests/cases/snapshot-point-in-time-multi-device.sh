#!/bin/bash
# disks: 128M 128M 128M 512M
# timeout: 1500
#
# A snapshot of three devices taken while four threads write random 4 KiB
# blocks of all three (O_DIRECT, each write logged with its submit and
# completion times) is one instant of all of them: every block of every
# image is whole and in its place; it holds every write completed before
# the take began and none submitted after the take returned; and no device
# is caught later than another (what the images hold is closed under
# "completed before submitted").  The images stay byte-identical while the
# originals are overwritten, and read right while copy-on-write runs.  The
# verifier can fail: handed the originals as if they were the images, it
# reports the writes made after the take; handed the images of three
# one-device snapshots taken a second apart, it reports that they are not
# one instant.
. "$BLKSNAP_SRC/tests/lib/common.sh"

PIT=$BLKSNAP_BUILD/tests/pit-writer
origs=("$DISK1" "$DISK2" "$DISK3")
storage=$DISK4
writer=

pit() {
	"$PIT" "$@"
}

# A writer left running when an assertion fails would hold the devices.
stop_writer() {
	if [ -n "$writer" ]; then
		kill -TERM "$writer" 2>/dev/null || :
		wait "$writer" 2>/dev/null || :
	fi
}
trap stop_writer EXIT

# start_writer LOG: random writes to the originals until stop_writer_ok
# ($! is the writer itself, not a subshell: no function in between)
start_writer() {
	"$PIT" run --log "$1" "${origs[@]}" >"$1.out" &
	writer=$!
}

stop_writer_ok() { # LOG
	kill -0 "$writer" 2>/dev/null || fail "the writer died early: $(cat "$1.out")"
	local rc=0
	kill -TERM "$writer"
	wait "$writer" || rc=$?
	[ "$rc" = 0 ] || fail "the writer failed (exit status $rc): $(cat "$1.out")"
	writer=
	echo "writer: $(cat "$1.out")"
}

# summary NAME REPORT -> field NAME of the verifier's "blocks=" and "image:" lines
summary() {
	field "$1" "$(printf '%s\n' "$2" | grep -E '^(blocks=|image:)' | tr '\n' ' ')"
}

load_module

step "arrange: track the three originals; a record of seq 0 in every block"
for d in "${origs[@]}"; do
	nl attach "$d" >/dev/null
done
pit init "${origs[@]}"

step "create a snapshot of the three; the fourth disk is its storage"
info=$(nl snapshot-create "${origs[@]}")
id=$(snap_field snapshot "$info")
assert_eq "state after create" created "$(snap_field state "$info")"
info=$(nl snapshot-append "$id" "$storage:0+$(sectors "$storage")")
assert_eq "storage_total" "$(sectors "$storage")" "$(snap_field storage_total "$info")"

step "act: take it while four threads write random blocks of all three"
start_writer /tmp/take.log
sleep 2
t0=$(pit now)
taken=$(nl snapshot-take "$id")
t1=$(pit now)
sleep 3
stop_writer_ok /tmp/take.log
echo "take: $(((t1 - t0) / 1000)) us"
assert_eq "state after take" "taken error=0" "$(snap_state "$id")"

images=() pairs=() selves=()
for d in "${origs[@]}"; do
	img=$(snap_image "$d" "$taken")
	assert_eq "numbers of $img" "$(snap_device_field image_dev "$d" "$taken")" "$(devnum "$img")"
	images+=("$img")
	pairs+=("$d=$img")
	selves+=("$d=$d")
done

step "assert: the images are one instant between t0 and t1"
rc=0
report=$(pit verify --log /tmp/take.log --t0 "$t0" --t1 "$t1" "${pairs[@]}") || rc=$?
echo "$report"
assert_eq "verify exit status on the images" 0 "$rc"
assert_eq "violations" 0 "$(field violations "$(grep '^violations=' <<<"$report")")"
assert_eq "blocks checked" $((3 * 32768)) "$(summary blocks "$report")"
# The test means something only if writes ran on both sides of the take,
# and the images hold writes made before it.
[ "$(summary before "$report")" -gt 0 ] || fail "no write completed before the take"
[ "$(summary after "$report")" -gt 0 ] || fail "no write submitted after the take"
[ "$(summary from_before "$report")" -gt 0 ] || fail "the images hold no write"

step "assert: the verifier fails on the originals, which hold the later writes"
rc=0
bad=$(pit verify --log /tmp/take.log --t0 "$t0" --t1 "$t1" "${selves[@]}") || rc=$?
printf '%s\n' "$bad" | sed -n '1,3p;/^violations=/p'
assert_eq "verify exit status on the originals" 1 "$rc"
assert_match "a write after the take is found" \
	'^violation: dev [0-9]+ block [0-9]+: seq [0-9]+ was submitted .* after the take returned' "$bad"
[ "$(field violations "$(grep '^violations=' <<<"$bad")")" -gt 0 ] || fail "no violations counted"

step "assert: the images do not change while the originals are overwritten"
hashes=$(pit hash "${images[@]}")
echo "$hashes"
start_writer /tmp/again.log
sleep 2
# Read every image block while copy-on-write races with the reads.
rc=0
again=$(pit verify --log /tmp/take.log --t0 "$t0" --t1 "$t1" "${pairs[@]}") || rc=$?
assert_eq "verify exit status under copy-on-write" 0 "$rc"
assert_eq "what the images hold, under copy-on-write" \
	"$(grep '^image:' <<<"$report")" "$(grep '^image:' <<<"$again")"
stop_writer_ok /tmp/again.log
assert_eq "image hashes after overwriting the originals" "$hashes" "$(pit hash "${images[@]}")"
[ "$(pit hash "${origs[@]}" | cut -d' ' -f1)" != "$(cut -d' ' -f1 <<<"$hashes")" ] ||
	fail "the originals hash like the images"
info=$(nl snapshot-get "$id")
echo "$(snap_field storage_used "$info") of $(snap_field storage_total "$info") sectors of storage used"
[ "$(snap_field storage_used "$info")" -gt 0 ] || fail "copy-on-write used no storage"
assert_eq "state after the overwrites" "taken error=0" "$(snap_state "$id")"

step "destroy the snapshot; its images go"
nl snapshot-destroy "$id"
for img in "${images[@]}"; do
	[ ! -e "$img" ] || fail "$img outlived its snapshot"
done

step "assert: three one-device snapshots taken a second apart are not one instant"
pit init "${origs[@]}" >/dev/null
part=$(($(sectors "$storage") / 3 / 2048 * 2048))
ids=() pairs=()
for i in 0 1 2; do
	info=$(nl snapshot-create "${origs[i]}")
	ids+=("$(snap_field snapshot "$info")")
	nl snapshot-append "${ids[i]}" "$storage:$((i * part))+$part" >/dev/null
done
start_writer /tmp/apart.log
sleep 3
t0=$(pit now)
for i in 0 1 2; do
	[ "$i" = 0 ] || sleep 1
	info=$(nl snapshot-take "${ids[i]}")
	pairs+=("${origs[i]}=$(snap_image "${origs[i]}" "$info")")
done
t1=$(pit now)
stop_writer_ok /tmp/apart.log
rc=0
bad=$(pit verify --log /tmp/apart.log --t0 "$t0" --t1 "$t1" "${pairs[@]}") || rc=$?
printf '%s\n' "$bad" | sed -n '1,3p;/^violations=/p'
assert_eq "verify exit status on images a second apart" 1 "$rc"
assert_match "the images are found to be of different instants" \
	'^violation: dev [0-9]+ block [0-9]+: holds seq .* not one instant$' "$bad"
for id in "${ids[@]}"; do
	nl snapshot-destroy "$id"
done

step "detach; every object is gone"
for d in "${origs[@]}"; do
	nl detach "$d"
done
unload_module
