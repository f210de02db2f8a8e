#!/bin/bash
# `meson install` of a --prefix=/usr build puts blksnapd, its bus policy,
# activation file, systemd unit and polkit actions where Debian looks for
# them, every XML file is well-formed (the polkit policy valid against its
# DTD), dbus-daemon accepts the bus policy and lists the service as
# activatable, and systemd-analyze accepts the unit without a warning.
set -euo pipefail
src=${BLKSNAP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
tmp=$(mktemp -d "${RESULTS:-/tmp}/install.XXXXXX")
bus=
cleanup() {
	[ -z "$bus" ] || kill "$bus" 2>/dev/null || :
	rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

echo "--- arrange: a --prefix=/usr build, installed into $tmp/dest"
meson setup --prefix=/usr "$tmp/build" "$src" >"$tmp/setup.log" 2>&1 ||
	{ cat "$tmp/setup.log" >&2; fail "meson setup failed"; }
# Build what is installed (not the kernel module: it is not installed).
mapfile -t installed < <(meson introspect --targets "$tmp/build" |
	jq -r '.[] | select(.installed) | .filename[]')
targets=()
for f in "${installed[@]}"; do targets+=("${f#"$tmp/build/"}"); done
if [ "${#targets[@]}" -gt 0 ]; then
	ninja -C "$tmp/build" "${targets[@]}" >"$tmp/build.log" 2>&1 ||
		{ cat "$tmp/build.log" >&2; fail "building ${targets[*]} failed"; }
fi
meson install -C "$tmp/build" --no-rebuild --destdir "$tmp/dest" >"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log" >&2; fail "meson install failed"; }
dest=$tmp/dest

echo "--- assert: every file in its place"
expect=(
	/usr/share/dbus-1/system.d/org.blksnap.Blksnap1.conf
	/usr/share/dbus-1/system-services/org.blksnap.Blksnap1.service
	/lib/systemd/system/blksnapd.service
	/usr/share/polkit-1/actions/org.blksnap.Blksnap1.policy
	/usr/share/doc/blksnap/examples/50-blksnap-backup.rules.example
	/usr/share/doc/blksnap/README.md
	/usr/share/dbus-1/interfaces/org.blksnap.Blksnap1.xml
	/usr/libexec/blksnapd
)
for f in "${expect[@]}"; do
	[ -f "$dest$f" ] || fail "$f not installed; installed: $(cd "$dest" && find . -type f | sort | tr '\n' ' ')"
	echo "ok: $f"
done
[ -x "$dest/usr/libexec/blksnapd" ] || fail "/usr/libexec/blksnapd is not executable"
[ ! -e "$dest/usr/share/polkit-1/rules.d/50-blksnap-backup.rules" ] ||
	fail "the example rules were installed as real rules without -Dbackup-group-rules=true"

echo "--- assert: the activation file and the unit name the installed daemon"
act=$dest/usr/share/dbus-1/system-services/org.blksnap.Blksnap1.service
unit=$dest/lib/systemd/system/blksnapd.service
grep -qx 'Name=org.blksnap.Blksnap1' "$act" || fail "activation file: no Name=org.blksnap.Blksnap1"
grep -qx 'Exec=/usr/libexec/blksnapd' "$act" || fail "activation file: Exec= is not /usr/libexec/blksnapd"
grep -qx 'User=root' "$act" || fail "activation file: no User=root"
grep -qx 'SystemdService=blksnapd.service' "$act" || fail "activation file: no SystemdService=blksnapd.service"
grep -qx 'ExecStart=/usr/libexec/blksnapd' "$unit" || fail "unit: ExecStart= is not /usr/libexec/blksnapd"
if grep -q '@[a-z]*@' "$act" "$unit"; then fail "an unsubstituted @variable@ is left"; fi

echo "--- assert: the unit is the hardened Type=dbus service of the design"
for line in Type=dbus BusName=org.blksnap.Blksnap1 ProtectSystem=strict PrivateTmp=yes \
	NoNewPrivileges=yes 'CapabilityBoundingSet=CAP_SYS_ADMIN CAP_NET_ADMIN' \
	'RestrictAddressFamilies=AF_UNIX AF_NETLINK' RuntimeDirectory=blksnapd; do
	grep -qxF "$line" "$unit" || fail "unit: no line '$line'"
done
for key in PrivateNetwork PrivateDevices; do
	if grep -q "^$key=" "$unit"; then fail "unit: $key= would break the service"; fi
done
# systemd-analyze warns (and still exits 0) on unknown keys and bad values:
# any output is a failure.  ExecStart= must exist, so point it at the copy.
mkdir "$tmp/unit"
sed "s|^ExecStart=.*|ExecStart=$dest/usr/libexec/blksnapd|" "$unit" >"$tmp/unit/blksnapd.service"
out=$(systemd-analyze verify --man=no "$tmp/unit/blksnapd.service" 2>&1) ||
	fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify complains: $out"
echo "ok: systemd-analyze verify"

echo "--- assert: the XML files are well-formed, the polkit policy valid"
for f in /usr/share/dbus-1/system.d/org.blksnap.Blksnap1.conf \
	/usr/share/dbus-1/interfaces/org.blksnap.Blksnap1.xml; do
	xmllint --noout --nonet "$dest$f" || fail "$f is not well-formed XML"
done
xmllint --noout --nonet --dtdvalid /usr/share/polkit-1/policyconfig-1.dtd \
	"$dest/usr/share/polkit-1/actions/org.blksnap.Blksnap1.policy" ||
	fail "the polkit policy is not valid against policyconfig-1.dtd"
actions=$(xmllint --xpath '//action/@id' "$dest/usr/share/polkit-1/actions/org.blksnap.Blksnap1.policy" |
	sed 's/.*id="\(.*\)"/\1/' | sort | tr '\n' ' ')
[ "$actions" = "org.blksnap.Blksnap1.query org.blksnap.Blksnap1.read-data org.blksnap.Blksnap1.snapshot org.blksnap.Blksnap1.track " ] ||
	fail "polkit actions: $actions"
echo "ok: xmllint"

echo "--- assert: dbus-daemon takes the bus policy and sees the service"
# Debian's system.conf, on a socket of ours, with the installed policy.
. "$src/tests/lib/dbus-env.sh"
dbus_env_config "$tmp/bus.conf" "$tmp/bus.socket" --as-root \
	"$dest/usr/share/dbus-1/system.d/org.blksnap.Blksnap1.conf"
sed -i "s|</busconfig>|  <servicedir>$dest/usr/share/dbus-1/system-services</servicedir>\n</busconfig>|" "$tmp/bus.conf"
dbus-daemon --config-file="$tmp/bus.conf" --nofork --nopidfile --nosyslog --print-address=1 \
	>"$tmp/address" 2>"$tmp/bus.log" &
bus=$!
for _ in $(seq 50); do
	[ ! -s "$tmp/address" ] || break
	kill -0 "$bus" 2>/dev/null || fail "dbus-daemon refused the configuration: $(cat "$tmp/bus.log")"
	sleep 0.1
done
[ -s "$tmp/address" ] || fail "dbus-daemon printed no address: $(cat "$tmp/bus.log")"
names=$(busctl --address="$(head -n 1 "$tmp/address")" list --activatable --no-legend 2>&1) ||
	fail "busctl list: $names"
printf '%s\n' "$names" | grep -q '^org\.blksnap\.Blksnap1 ' ||
	fail "org.blksnap.Blksnap1 is not activatable: $names"
# Not being allowed to raise its fd limit is all it may say (as non-root).
complaints=$(grep -v 'Failed to set fd limit' "$tmp/bus.log" || :)
[ -z "$complaints" ] || fail "dbus-daemon complains: $complaints"
echo "ok: dbus-daemon lists org.blksnap.Blksnap1 as activatable"

echo "--- assert: root may own the name, nobody else"
request_name() { # COMMAND-PREFIX...: RequestName's reply or error
	"$@" dbus-send --bus="$(head -n 1 "$tmp/address")" --print-reply --dest=org.freedesktop.DBus \
		/org/freedesktop/DBus org.freedesktop.DBus.RequestName string:org.blksnap.Blksnap1 uint32:4 2>&1 || :
}
chmod 0755 "$tmp"
reply=$(request_name env)
case $reply in *"uint32 1"*) ;; *) fail "root cannot own org.blksnap.Blksnap1: $reply" ;; esac
reply=$(request_name setpriv --reuid=65534 --regid=65534 --clear-groups)
case $reply in
*"not allowed to own the service"*) ;;
*) fail "uid 65534 may own org.blksnap.Blksnap1: $reply" ;;
esac
echo "ok: the bus policy: root owns the name, uid 65534 is refused"
