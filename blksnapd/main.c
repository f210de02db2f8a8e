// SPDX-License-Identifier: GPL-2.0-only
/*
 * blksnapd: puts the blksnap generic netlink family on the system bus as
 * org.blksnap.Blksnap1, behind polkit.  The context, the loop, the name.
 *
 *   blksnapd [--state-dir DIR]
 *
 * DIR (default $BLKSNAPD_STATE_DIR, else /run/blksnapd) keeps the pools and
 * bindings across restarts.  The bus is the system bus
 * ($DBUS_SYSTEM_BUS_ADDRESS when set).
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <signal.h>
#include <sys/stat.h>
#include <netlink/netlink.h>
#include "blksnapd.h"

static void context_free(Context *c)
{
	if (!c)
		return;
	polkit_free_all(c);
	snapshot_free_all(c);
	device_free_all(c);
	sd_event_source_disable_unref(c->events_source);
	if (c->events_fd >= 0)
		close(c->events_fd);
	if (c->nl)
		nl_socket_free(c->nl);
	sd_bus_flush_close_unref(c->bus);
	sd_event_unref(c->event);
	free(c->state_dir);
	free(c);
}

static void context_freep(Context **c)
{
	context_free(*c);
}

static int context_new(const char *state_dir, Context **ret)
{
	_cleanup_(context_freep) Context *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->events_fd = -1;
	c->family = -1;
	c->state_dir = strdup(state_dir);
	if (!c->state_dir)
		return -ENOMEM;
	*ret = TAKE_PTR(c);
	return 0;
}

static int parse_argv(int argc, char *argv[], const char **ret_state_dir)
{
	static const struct option options[] = {
		{ "state-dir", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *dir = getenv("BLKSNAPD_STATE_DIR");
	int c;

	if (!dir || !*dir)
		dir = "/run/blksnapd";
	while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
		switch (c) {
		case 's':
			dir = optarg;
			break;
		case 'h':
			printf("Usage: %s [--state-dir DIR]\n"
			       "The blksnap D-Bus service (" BUS_NAME " on the system bus).\n",
			       program_invocation_short_name);
			return 0;
		default:
			return -EINVAL;
		}
	if (optind < argc || dir[0] != '/')
		return log_error_errno(-EINVAL, "Usage: blksnapd [--state-dir /ABSOLUTE/DIR]");
	*ret_state_dir = dir;
	return 1;
}

static int run(int argc, char *argv[])
{
	_cleanup_(context_freep) Context *c = NULL;
	const char *state_dir = NULL;
	sigset_t ss;
	int r;

	r = parse_argv(argc, argv, &state_dir);
	if (r <= 0)
		return r;
	errors_register();
	r = context_new(state_dir, &c);
	if (r < 0)
		return log_error_errno(r, "Out of memory");
	if (mkdir(c->state_dir, 0700) < 0 && errno != EEXIST)
		return log_error_errno(-errno, "Cannot create %s: %m", c->state_dir);

	r = sd_event_default(&c->event);
	if (r < 0)
		return log_error_errno(r, "Cannot allocate the event loop: %m");
	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	(void)sd_event_add_signal(c->event, NULL, SIGTERM, NULL, NULL);
	(void)sd_event_add_signal(c->event, NULL, SIGINT, NULL, NULL);

	r = nl_open(&c->nl, &c->family);
	if (r < 0)
		return log_error_errno(r, "Cannot reach the blksnap netlink family (is the module loaded?): %m");
	r = nl_get_version(c);
	if (r < 0)
		return log_error_errno(r, "Cannot read the module's version: %m");

	r = sd_bus_open_system(&c->bus);
	if (r < 0)
		return log_error_errno(r, "Cannot connect to the system bus: %m");
	r = sd_bus_attach_event(c->bus, c->event, 0);
	if (r < 0)
		return log_error_errno(r, "Cannot attach the bus to the loop: %m");
	r = manager_register(c);
	if (r >= 0)
		r = device_register(c);
	if (r >= 0)
		r = snapshot_register(c);
	if (r < 0)
		return r;
	r = bindings_watch(c);
	if (r < 0)
		return log_error_errno(r, "Cannot watch the bus names: %m");

	/* Join the events first, then dump: nothing falls between the two. */
	r = nl_events_open(c);
	if (r < 0)
		return r;
	r = nl_resync(c);
	if (r < 0)
		return r;
	r = state_load(c);
	if (r < 0)
		log_error_errno(r, "Cannot read the state in %s: %m", c->state_dir);
	bindings_check(c);

	r = sd_bus_request_name(c->bus, BUS_NAME, 0);
	if (r < 0)
		return log_error_errno(r, "Cannot own the name " BUS_NAME ": %m");
	log_info("Ready: module %s, %s", c->module_version, c->state_dir);

	r = sd_event_loop(c->event);
	if (r < 0)
		return log_error_errno(r, "The event loop failed: %m");
	(void)sd_bus_release_name(c->bus, BUS_NAME);
	return 0;
}

int main(int argc, char *argv[])
{
	int r = run(argc, argv);

	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
