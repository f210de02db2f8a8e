#!/bin/bash
# Every bad argument, bad input file and damaged manifest gets one clear
# sentence and the exit status --help documents (2: arguments, 1: the
# operation failed, 5: blksnapd cannot be reached), and leaves the chain as it was;
# --help and the man page document every subcommand and exit status.
. "$BLKSNAP_SRC/tests/lib/common.sh"
. "$BLKSNAP_SRC/tests/lib/blksnapctl.sh"

M=$((1 << 20))
dev=$WORK/dev.img
chain=$WORK/b/vdh
truncate -s $((4 * M)) "$dev"
write_random "$dev" 0 65536
backup_image vdh "$dev" $GEN1 1 "$WORK/b" 2>/dev/null
mkdir "$WORK/empty" "$WORK/two" "$WORK/two/a" "$WORK/two/b"
cp "$chain/chain.json" "$WORK/two/a/"
cp "$chain/chain.json" "$WORK/two/b/"
extents_file "$WORK/unsorted" 131072 4096 0 4096
extents_file "$WORK/beyond" $((4 * M - 4096)) 8192
extents_file "$WORK/empty-extent" 4096 0
printf 'odd' >"$WORK/odd"
before=$(sum "$chain/chain.json")
img=(--from-image "$dev" --generation "$GEN1")

# expect STATUS 'message text' ARGS...
expect() {
	local want=$1 msg=$2 rc=0 out
	shift 2
	out=$("$CTL" "$@" 2>&1) || rc=$?
	[ "$rc" = "$want" ] || fail "blksnapctl $*: exit $rc, not $want: $out"
	case $out in
	*"$msg"*) ;;
	*) fail "blksnapctl $*: '$msg' missing in: $out" ;;
	esac
	[ "$want" != 2 ] || case $out in *"Try 'blksnapctl --help'."*) ;; *) fail "no hint to --help: $out" ;; esac
	echo "ok: $want: blksnapctl $*"
}

step "arguments"
expect 2 "no command given"
expect 2 "unknown command 'frobnicate'" frobnicate
expect 2 "unknown option '--frob'" --frob
expect 2 "no DEVICE given" backup
expect 2 "--to DIR is missing" backup /dev/vdh
expect 2 "unknown option '--bogus'" backup /dev/vdh --to "$WORK/b" --bogus
expect 2 "option '--to' needs a value" backup /dev/vdh --to
expect 2 "needs --generation UUID and --snap-number N" backup /dev/vdh --to "$WORK/b" --from-image "$dev"
expect 2 "--generation 'nope' is not a UUID" backup vdh --to "$WORK/b" --from-image "$dev" --generation nope --snap-number 1
expect 2 "--snap-number '-1' is not a number" backup vdh --to "$WORK/b" "${img[@]}" --snap-number -1
expect 2 "--snap-number '4294967296' is not a number" backup vdh --to "$WORK/b" "${img[@]}" --snap-number 4294967296
expect 2 "--from-image backs up one DEVICE" backup vdh vdi --to "$WORK/b" "${img[@]}" --snap-number 2
expect 2 "needs --extents-file" backup vdh --to "$WORK/b" "${img[@]}" --snap-number 2
expect 2 "give one DIR[@N]" restore
expect 2 "--to DEVICE|FILE is missing" restore "$chain"
expect 2 "'x' after '@' is not a backup number" restore "$chain@x" --to "$WORK/r"
expect 2 "holds the chains of 2 devices" restore "$WORK/two" --to "$WORK/r"
expect 2 "give one DIR" verify
expect 2 "give one DIR" list a b

step "the service commands without a bus: exit 5"
for cmd in status "track /dev/vdh" "untrack 254:112" "snapshot list" "changes 254:112 --since $GEN1:1" \
	monitor "backup /dev/vdh --to $WORK/b"; do
	# shellcheck disable=SC2086
	DBUS_SYSTEM_BUS_ADDRESS=unix:path=$WORK/no-bus expect 5 "cannot connect to the system bus" $cmd
done
expect 2 "give one DEVICE" untrack
expect 2 "--since GENERATION:SNAP is missing" changes 254:112
expect 2 "is not GENERATION:SNAP" changes 254:112 --since nonsense
expect 2 "unknown subcommand 'frobnicate'" snapshot frobnicate
expect 2 "go with --from-image" backup /dev/vdh --to "$WORK/b" --snap-number 1

step "bad input"
expect 1 "cannot open $WORK/nothing" backup vdh --to "$WORK/b" --from-image "$WORK/nothing" --generation $GEN1 --snap-number 2
expect 1 "extent 1 (0+4096) is not sorted" backup vdh --to "$WORK/b" "${img[@]}" --snap-number 2 --extents-file "$WORK/unsorted"
expect 1 "extent 0 (4190208+8192) is empty or beyond the device's 4194304 bytes" backup vdh --to "$WORK/b" "${img[@]}" --snap-number 2 --extents-file "$WORK/beyond"
expect 1 "extent 0 (4096+0) is empty" backup vdh --to "$WORK/b" "${img[@]}" --snap-number 2 --extents-file "$WORK/empty-extent"
expect 1 "3 trailing bytes" backup vdh --to "$WORK/b" "${img[@]}" --snap-number 2 --extents-file "$WORK/odd"
expect 1 "'..' cannot name a directory of backups" backup .. --to "$WORK/b" "${img[@]}" --snap-number 2
head -c 1000 /dev/zero >"$WORK/odd-size"
expect 1 "has 1000 bytes, not a whole number of 512-byte sectors" backup vdh --to "$WORK/b" --from-image "$WORK/odd-size" --generation "$GEN1" --snap-number 2
expect 1 "holds no backup chain" restore "$WORK/empty" --to "$WORK/r"
expect 1 "has no backup 7: its backups are 0 to 0" restore "$chain@7" --to "$WORK/r"
expect 1 "is neither a block device nor a regular file" restore "$chain" --to "$WORK/empty"
expect 1 "holds no backup chain" verify "$WORK/empty"
assert_eq "manifest unchanged by the refused backups" "$before" "$(sum "$chain/chain.json")"
assert_eq "files of the chain" "0000.extents 0000.qcow2 chain.json" "$(ls "$chain" | tr '\n' ' ' | sed 's/ $//')"

step "damaged manifests are refused, not guessed at"
echo '{ "format": "blksnapctl-chain", ' >"$WORK/two/a/chain.json"
expect 1 "chain.json is not JSON" list "$WORK/two/a"
jq '.version = 99' "$chain/chain.json" >"$WORK/two/a/chain.json"
expect 1 "has version 99; this blksnapctl reads versions 1 to 2" verify "$WORK/two/a"
# a version 1 manifest, its extents inline, with one of them cut short
jq --slurpfile e "$chain/0000.extents" '.version = 1 | .backups[0] |=
	(del(.extents_file, .extents_count, .extents_sha256) | .extents = $e[0].extents) |
	.backups[0].extents[0][1] = 1' "$chain/chain.json" >"$WORK/two/a/chain.json"
expect 1 "\"changed_bytes\" is 4194304, the extents hold" list "$WORK/two/a"
jq '.backups[0].extents_file = "../0000.extents"' "$chain/chain.json" >"$WORK/two/a/chain.json"
expect 1 "\"extents_file\" is not a file name of the chain's directory" list "$WORK/two/a"
jq '.backups[0].extents_sha256 = "x"' "$chain/chain.json" >"$WORK/two/a/chain.json"
expect 1 "\"extents_sha256\" is not a SHA-256 in hex" list "$WORK/two/a"

step "a damaged or missing extents file: verify names it, the chain stays"
cp -a "$chain" "$WORK/c3"
printf '9' | dd of="$WORK/c3/0000.extents" bs=1 seek=100 conv=notrunc status=none
expect 3 "0000.extents: DAMAGED: backup 0's list of extents has SHA-256 " verify "$WORK/c3"
rm "$WORK/c3/0000.extents"
expect 3 "0000.extents: DAMAGED: backup 0's list of extents cannot be opened: No such file" verify "$WORK/c3"
jq '.backups[0].image = "../x"' "$chain/chain.json" >"$WORK/two/a/chain.json"
expect 1 "an image name is not a file name of the chain's directory" restore "$WORK/two/a" --to "$WORK/r"
jq '.backups[0].generation_id = "x"' "$chain/chain.json" >"$WORK/two/a/chain.json"
expect 1 "\"generation_id\" is not a lower-case UUID" backup a --to "$WORK/two" "${img[@]}" --snap-number 2

step "--help documents every subcommand and exit status"
help=$("$CTL" --help)
for word in status track untrack "snapshot create" "snapshot storage" "snapshot take" \
	"snapshot destroy" "snapshot list" changes monitor backup restore verify list \
	"  0 " "  1 " "  2 " "  3 " "  4 " "  5 " "  130 "; do
	case $help in *"$word"*) ;; *) fail "--help does not mention '$word'" ;; esac
done
echo "ok: --help documents every subcommand and exit status"
man=$(MANWIDTH=200 man -l "$BLKSNAP_SRC/blksnapctl/blksnapctl.1" 2>/dev/null)
for word in status track untrack "snapshot create" "snapshot storage" "snapshot take" \
	"snapshot destroy" "snapshot list" changes monitor backup restore verify list \
	chain.json --from-image; do
	case $man in *"$word"*) ;; *) fail "blksnapctl(1) does not mention '$word'" ;; esac
done
for code in 0 1 2 3 4 5 130; do
	grep -Eq "^ {7}$code( |\$)" <<<"$man" || fail "blksnapctl(1) does not document exit status $code"
done
echo "ok: blksnapctl(1) documents every subcommand and exit status"
echo "PASS"
