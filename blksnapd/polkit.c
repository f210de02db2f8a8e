// SPDX-License-Identifier: GPL-2.0-only
/*
 * polkit: each method asks CheckAuthorization, asynchronously, for the
 * caller's bus name.  The call is put aside and dispatched again when
 * polkit answers (systemd's pattern); the handler then finds the answer.
 * polkit missing or failing means denied.  Root callers need no polkit.
 */
#define _GNU_SOURCE
#include "blksnapd.h"

struct PolkitQuery {
	Context *c;
	PolkitQuery *next, *prev;
	sd_bus_message *request;
	char *action;
	sd_bus_slot *slot;
	int result;		/* 0 pending, 1 authorised, negative: denied */
	char *why;
};

static void polkit_query_free(PolkitQuery *q)
{
	LIST_REMOVE(q->c->polkit_queries, q);
	sd_bus_slot_unref(q->slot);
	sd_bus_message_unref(q->request);
	free(q->action);
	free(q->why);
	free(q);
}

void polkit_free_all(Context *c)
{
	while (c->polkit_queries)
		polkit_query_free(c->polkit_queries);
}

static int polkit_reply(sd_bus_message *reply, void *userdata, _unused_ sd_bus_error *ret_error)
{
	PolkitQuery *q = userdata;
	const sd_bus_error *e = sd_bus_message_get_error(reply);
	int authorized = 0, challenge = 0, r;

	q->slot = sd_bus_slot_unref(q->slot);
	if (e) {
		q->result = -EACCES;
		if (asprintf(&q->why, "polkit failed (%s)", e->message ? e->message : e->name) < 0)
			q->why = NULL;
	} else {
		r = sd_bus_message_enter_container(reply, 'r', "bba{ss}");
		if (r >= 0)
			r = sd_bus_message_read(reply, "bb", &authorized, &challenge);
		q->result = r >= 0 && authorized ? 1 : -EACCES;
		if (r < 0)
			q->why = strdup("polkit's answer was malformed");
		else if (!authorized && challenge)
			q->why = strdup("authentication is required");
	}
	r = sd_bus_enqueue_for_read(q->c->bus, q->request);
	if (r < 0) {
		log_error_errno(r, "Cannot dispatch a call again after polkit: %m");
		polkit_query_free(q);
	}
	return 0;
}

static int polkit_start(Context *c, sd_bus_message *m, const char *action, bool interactive)
{
	_cleanup_(sd_bus_message_unrefp_) sd_bus_message *pm = NULL;
	PolkitQuery *q;
	int r;

	r = sd_bus_message_new_method_call(c->bus, &pm, "org.freedesktop.PolicyKit1",
					   "/org/freedesktop/PolicyKit1/Authority",
					   "org.freedesktop.PolicyKit1.Authority",
					   "CheckAuthorization");
	if (r < 0)
		return r;
	r = sd_bus_message_append(pm, "(sa{sv})sa{ss}us", "system-bus-name", 1, "name", "s",
				  sd_bus_message_get_sender(m), action, 0,
				  (uint32_t)(interactive ? 1 : 0), "");
	if (r < 0)
		return r;
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->c = c;
	q->request = sd_bus_message_ref(m);
	q->action = strdup(action);
	LIST_PREPEND(c->polkit_queries, q);
	if (!q->action) {
		polkit_query_free(q);
		return -ENOMEM;
	}
	/* Interactive authentication waits for a person: give it minutes. */
	r = sd_bus_call_async(c->bus, &q->slot, pm, polkit_reply, q,
			      interactive ? 300ULL * 1000000 : 0);
	if (r < 0) {
		polkit_query_free(q);
		return r;
	}
	return 0;
}

/*
 * Is the caller of @m authorised for @action?  1: yes, go on.  0: polkit
 * was asked; return 1 from the handler without replying, it runs again
 * with the answer.  Negative: denied, @error set.
 */
int polkit_check(Context *c, sd_bus_message *m, const char *action, bool no_interaction,
		 sd_bus_error *error)
{
	_cleanup_(sd_bus_creds_unrefp_) sd_bus_creds *creds = NULL;
	bool interactive;
	uid_t uid;
	int r;

	for (PolkitQuery *q = c->polkit_queries; q; q = q->next) {
		if (q->request != m || strcmp(q->action, action) != 0)
			continue;
		if (q->result == 0)
			return 0;
		r = q->result;
		if (r < 0)
			log_info("Denied %s to %s%s%s", action, sd_bus_message_get_sender(m),
				 q->why ? ": " : "", q->why ? q->why : "");
		if (r < 0)
			sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
					  "Not authorized for %s%s%s.", action,
					  q->why ? ": " : "", q->why ? q->why : "");
		polkit_query_free(q);
		return r;
	}

	r = sd_bus_query_sender_creds(m, SD_BUS_CREDS_EUID, &creds);
	if (r >= 0 && sd_bus_creds_get_euid(creds, &uid) >= 0 && uid == 0)
		return 1;

	interactive = !no_interaction && sd_bus_message_get_allow_interactive_authorization(m) > 0;
	r = polkit_start(c, m, action, interactive);
	if (r < 0) {
		log_error_errno(r, "Cannot ask polkit about %s: %m", action);
		sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
				  "Not authorized for %s: cannot ask polkit: %s.", action,
				  strerror(-r));
		return -EACCES;
	}
	return 0;
}

/*
 * The start of a method whose only argument is its a{sv} of options, none
 * of them known but interaction: reads them (from the start: a method runs
 * again on polkit's answer) and checks @action.  Returns as polkit_check().
 */
int polkit_check_method(Context *c, sd_bus_message *m, const char *action, sd_bus_error *error)
{
	bool ni;
	int r;

	r = sd_bus_message_rewind(m, true);
	if (r >= 0)
		r = OPTIONS_NONE(m, &ni, error);
	if (r < 0)
		return r;
	return polkit_check(c, m, action, ni, error);
}
