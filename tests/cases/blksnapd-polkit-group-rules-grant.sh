#!/bin/bash
# timeout: 600
# kernels: first
#
# The test environment of the D-Bus cases is real and polkit applies the
# project's policy: without the example rules a user gets no blksnap action
# without authenticating, with them installed a member of blksnap-backup
# gets all four and a non-member still none; root gets all four.  (No logind
# runs in the VM, so no user is an "active local" one: polkit applies the
# allow_any defaults, auth_admin for query too.)
. "$BLKSNAP_SRC/tests/lib/common.sh"
. "$BLKSNAP_SRC/tests/lib/dbus-env.sh"

actions="query track snapshot read-data"
dbus_env_start

step "assert: before the rules, every action needs authentication (pkcheck 2) for both users"
for user in "$BACKUP_USER" "$OTHER_USER"; do
	for a in $actions; do
		assert_eq "pkcheck $a for $user" 2 "$(pkcheck_as "$user" "org.blksnap.Blksnap1.$a")"
	done
done
step "assert: polkitd knows the actions with the defaults of the design"
pkaction --action-id org.blksnap.Blksnap1.query --verbose
assert_match "query defaults" 'implicit active: *yes$' "$(pkaction --action-id org.blksnap.Blksnap1.query --verbose)"
assert_match "query defaults" 'implicit any: *auth_admin$' "$(pkaction --action-id org.blksnap.Blksnap1.query --verbose)"
for a in track snapshot read-data; do
	out=$(pkaction --action-id "org.blksnap.Blksnap1.$a" --verbose)
	for kind in any inactive active; do
		assert_match "$a defaults" "implicit $kind: *auth_admin_keep\$" "$out"
	done
done

step "act: install the example rules"
install_backup_rules

step "assert: $BACKUP_USER (in $BACKUP_GROUP) is granted all, $OTHER_USER nothing more"
for a in $actions; do
	assert_eq "pkcheck $a for $BACKUP_USER" 0 "$(pkcheck_as "$BACKUP_USER" "org.blksnap.Blksnap1.$a")"
	assert_eq "pkcheck $a for $OTHER_USER" 2 "$(pkcheck_as "$OTHER_USER" "org.blksnap.Blksnap1.$a")"
	assert_eq "pkcheck $a for root" 0 "$(pkcheck --action-id "org.blksnap.Blksnap1.$a" --process $$ >/dev/null 2>&1; echo $?)"
done
step "assert: the rules grant nothing else to the group"
assert_eq "pkcheck org.freedesktop.hostname1.set-hostname for $BACKUP_USER" 2 \
	"$(pkcheck_as "$BACKUP_USER" org.freedesktop.hostname1.set-hostname)"
echo "ok: polkit decides as the policy and the rules say"
