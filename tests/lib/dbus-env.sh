# shellcheck shell=bash
# A system bus, polkit and blksnapd for the test cases of the D-Bus service.
#
# A case sources tests/lib/common.sh, then this file, then calls
# dbus_env_start: as root in the VM, it makes / writable (in RAM), installs
# the project's polkit actions, starts a real dbus-daemon on the standard
# system bus socket (/run/dbus/system_bus_socket) with a copy of Debian's
# system.conf that includes the project's bus policy, starts the real
# polkitd, and creates two users without root:
#   $BACKUP_USER  a member of the group blksnap-backup
#   $OTHER_USER   a member of no group of ours
# No logind runs in the VM, so no caller is in an "active local" session:
# polkit answers with the allow_any defaults (auth_admin for query too; root
# is always authorised), which blksnapd-polkit-group-rules-grant checks.
# Then blksnapd_start runs the daemon of the build directory.  Everything
# started here is stopped on exit (dbus_env_stop, from the EXIT trap).
#
# Only dbus_env_config (writing the bus configuration) is usable outside
# the VM; the host test of the install uses it.

DBUS_ENV_DIR=/run/blksnap-test
# The logs of the bus, polkitd and blksnapd: kept with the results.
DBUS_ENV_LOGS=${RESULTS:-/tmp}/dbus-env
BLKSNAPD=${BLKSNAPD:-${BLKSNAP_BUILD:-}/blksnapd/blksnapd}
BACKUP_USER=blksnap-op
OTHER_USER=blksnap-other
BACKUP_GROUP=blksnap-backup
# shellcheck disable=SC2034 # the names the cases use
BUS_NAME=org.blksnap.Blksnap1
# shellcheck disable=SC2034
ROOT_PATH=/org/blksnap/Blksnap1
# shellcheck disable=SC2034
IFACE=org.blksnap.Blksnap1
POLKIT_RULES=/etc/polkit-1/rules.d/50-blksnap-backup.rules
bus_pid=
polkit_pid=
blksnapd_pid=

# dbus_env_config OUT SOCKET [--as-root] INCLUDE...: write a bus
# configuration to OUT: Debian's system.conf, listening on SOCKET, without
# fork, pid file, syslog or activation helper, including /usr/share/dbus-1/
# system.d and each INCLUDE.  With --as-root the bus keeps running as root
# instead of messagebus (for a bus in a directory messagebus cannot reach).
dbus_env_config() {
	local out=$1 socket=$2 user_sed=
	shift 2
	if [ "${1:-}" = --as-root ]; then
		user_sed='/<user>messagebus<\/user>/d'
		shift
	fi
	local includes='' f
	for f in "$@"; do
		includes="$includes  <include>$f</include>\n"
	done
	sed -e "$user_sed" \
		-e '/<fork\/>/d' -e '/<pidfile>/d' -e '/<syslog\/>/d' \
		-e '/<servicehelper>/d' -e '/<standard_system_servicedirs\/>/d' \
		-e "s|<listen>.*</listen>|<listen>unix:path=$socket</listen>|" \
		-e 's|<includedir>system.d</includedir>|<includedir>/usr/share/dbus-1/system.d</includedir>|' \
		-e "s|</busconfig>|$includes</busconfig>|" \
		/usr/share/dbus-1/system.conf >"$out"
}

# has_owner NAME: NAME has an owner on the system bus.  (Not busctl status:
# it wants systemd's view of the peer and fails without systemd.)
has_owner() {
	[ "$(busctl --system --timeout=5 call org.freedesktop.DBus /org/freedesktop/DBus \
		org.freedesktop.DBus NameHasOwner s "$1" 2>/dev/null)" = "b true" ]
}

# wait_for_name NAME [SECONDS]: until NAME has an owner on the system bus
wait_for_name() {
	local end=$((SECONDS + ${2:-30}))
	while [ "$SECONDS" -lt "$end" ]; do
		has_owner "$1" && return 0
		sleep 0.1
	done
	fail "$1 did not appear on the system bus in ${2:-30} s"
}

dbus_env_start() {
	[ "$(id -u)" = 0 ] || fail "dbus_env_start: must run as root (in the VM)"
	trap dbus_env_stop EXIT
	if ! touch /.blksnap-rw 2>/dev/null; then
		mount -o remount,rw / || fail "cannot make / writable"
	fi
	rm -f /.blksnap-rw
	mkdir -p "$DBUS_ENV_DIR" "$DBUS_ENV_LOGS" /run/dbus

	step "env: polkit actions installed, users $BACKUP_USER (in $BACKUP_GROUP) and $OTHER_USER"
	install -m 0644 "$BLKSNAP_SRC/polkit/org.blksnap.Blksnap1.policy" /usr/share/polkit-1/actions/
	rm -f "$POLKIT_RULES"
	getent group "$BACKUP_GROUP" >/dev/null || groupadd --system "$BACKUP_GROUP"
	getent passwd "$BACKUP_USER" >/dev/null ||
		useradd --no-create-home --home-dir /tmp --shell /bin/sh -G "$BACKUP_GROUP" "$BACKUP_USER"
	getent passwd "$OTHER_USER" >/dev/null ||
		useradd --no-create-home --home-dir /tmp --shell /bin/sh "$OTHER_USER"

	step "env: dbus-daemon on /run/dbus/system_bus_socket"
	dbus_env_config "$DBUS_ENV_DIR/system.conf" /run/dbus/system_bus_socket \
		"$BLKSNAP_SRC/dbus/org.blksnap.Blksnap1.conf"
	dbus-daemon --config-file="$DBUS_ENV_DIR/system.conf" --nofork --nopidfile \
		--nosyslog >"$DBUS_ENV_LOGS/dbus.log" 2>&1 &
	bus_pid=$!
	export DBUS_SYSTEM_BUS_ADDRESS=unix:path=/run/dbus/system_bus_socket
	wait_for_name org.freedesktop.DBus 10

	step "env: polkitd"
	/usr/lib/polkit-1/polkitd >"$DBUS_ENV_LOGS/polkitd.log" 2>&1 &
	polkit_pid=$!
	wait_for_name org.freedesktop.PolicyKit1 60
}

dbus_env_stop() {
	local rc=$?
	blksnapd_stop 2>/dev/null || :
	for pid in $polkit_pid $bus_pid; do
		kill "$pid" 2>/dev/null || :
		wait "$pid" 2>/dev/null || :
	done
	polkit_pid='' bus_pid=''
	if [ "$rc" != 0 ]; then
		for f in "$DBUS_ENV_LOGS"/*.log; do
			[ -s "$f" ] || continue
			echo "--- last lines of $f"
			tail -n 30 "$f"
		done
	fi
	return "$rc"
}

# install_backup_rules: the example rules, as the README tells an
# administrator to install them; returns when polkitd has loaded them
# (it watches its rules directories).
install_backup_rules() {
	install -m 0644 "$BLKSNAP_SRC/polkit/50-blksnap-backup.rules.example" "$POLKIT_RULES"
	for _ in $(seq 100); do
		grep -q 'Finished loading, compiling and executing [0-9]* rules' "$DBUS_ENV_LOGS/polkitd.log" &&
			[ "$(grep -c 'Finished loading' "$DBUS_ENV_LOGS/polkitd.log")" -ge 2 ] && return 0
		sleep 0.1
	done
	fail "polkitd did not reload its rules: $(tail -n 5 "$DBUS_ENV_LOGS/polkitd.log")"
}

# as_user USER COMMAND...: run COMMAND as USER, with exactly the groups
# of USER and no capability.
as_user() {
	local user=$1 uid gid groups
	shift
	uid=$(id -u "$user") gid=$(id -g "$user")
	groups=$(id -G "$user" | tr ' ' ',')
	setpriv --reuid="$uid" --regid="$gid" --groups="$groups" --inh-caps=-all \
		--bounding-set=-all env HOME=/tmp USER="$user" LOGNAME="$user" "$@"
}

# blksnapd_start: run the daemon of the build directory; returns when it
# owns its name.  Its stdout and stderr go to $DBUS_ENV_LOGS/blksnapd.log.
blksnapd_start() {
	[ -x "$BLKSNAPD" ] || fail "no daemon $BLKSNAPD (build it first)"
	"$BLKSNAPD" >>"$DBUS_ENV_LOGS/blksnapd.log" 2>&1 &
	blksnapd_pid=$!
	wait_for_name "$BUS_NAME" 60
}

# blksnapd_stop: SIGTERM, then wait for it to exit; its exit status.
blksnapd_stop() {
	[ -n "$blksnapd_pid" ] || return 0
	local rc=0
	kill -TERM "$blksnapd_pid" 2>/dev/null || :
	wait "$blksnapd_pid" || rc=$?
	blksnapd_pid=
	return "$rc"
}

# blksnapd_kill: SIGKILL, as a crash would; returns once it is gone from the bus.
blksnapd_kill() {
	[ -n "$blksnapd_pid" ] || fail "blksnapd_kill: no daemon running"
	kill -KILL "$blksnapd_pid"
	wait "$blksnapd_pid" 2>/dev/null || :
	blksnapd_pid=
	for _ in $(seq 100); do
		has_owner "$BUS_NAME" || return 0
		sleep 0.1
	done
	fail "$BUS_NAME still owned after SIGKILL"
}

# pkcheck_as USER ACTION: pkcheck's exit status for a process of USER
# asking ACTION without interaction (0 yes, 1 no, 2 authentication needed).
pkcheck_as() {
	local rc=0
	# shellcheck disable=SC2016 # $$ is the shell of the user
	as_user "$1" sh -c 'exec pkcheck --action-id "$0" --process $$' "$2" >/dev/null 2>&1 || rc=$?
	echo "$rc"
}

# bctl ARGS...: busctl on the system bus, talking to blksnapd
bctl() {
	busctl --system "$@"
}
