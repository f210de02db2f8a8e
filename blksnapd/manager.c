// SPDX-License-Identifier: GPL-2.0-only
/*
 * The Manager at /org/blksnap/Blksnap1: versions, TrackDevice,
 * CreateSnapshot; and the a{sv} options every method takes.
 */
#define _GNU_SOURCE
#include <netlink/netlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/genl/genl.h>
#include "blksnapd.h"

#ifndef BLKSNAPD_VERSION
#define BLKSNAPD_VERSION "unknown"
#endif

/*
 * Read an a{sv} of the keys of @opts; refuse unknown keys and wrong types
 * with InvalidArgs.  auth.no_user_interaction is understood everywhere.
 */
int options_read(sd_bus_message *m, const Option *opts, size_t n, bool *no_interaction,
		 sd_bus_error *error)
{
	int r;

	*no_interaction = false;
	r = sd_bus_message_enter_container(m, 'a', "{sv}");
	if (r < 0)
		return r;
	while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
		const Option *o = NULL;
		const char *key, *contents;
		char type;
		int b;

		r = sd_bus_message_read(m, "s", &key);
		if (r < 0)
			return r;
		r = sd_bus_message_peek_type(m, &type, &contents);
		if (r < 0)
			return r;
		if (strcmp(key, "auth.no_user_interaction") == 0) {
			if (strcmp(contents, "b") != 0)
				return bus_error_invalid(error, "Option '%s' must be a boolean (b), not '%s'.",
							 key, contents);
			r = sd_bus_message_read(m, "v", "b", &b);
			if (r < 0)
				return r;
			*no_interaction = b;
			goto next;
		}
		for (size_t i = 0; i < n; i++)
			if (strcmp(opts[i].name, key) == 0)
				o = &opts[i];
		if (!o)
			return bus_error_invalid(error, "Unknown option '%s'.", key);
		if (contents[0] != o->type || contents[1])
			return bus_error_invalid(error, "Option '%s' must be of type '%c', not '%s'.",
						 key, o->type, contents);
		switch (o->type) {
		case 'b':
			r = sd_bus_message_read(m, "v", "b", &b);
			if (r >= 0)
				*(bool *)o->ptr = b;
			break;
		case 't':
			r = sd_bus_message_read(m, "v", "t", (uint64_t *)o->ptr);
			break;
		case 's': {
			const char *s;

			r = sd_bus_message_read(m, "v", "s", &s);
			if (r >= 0) {
				free(*(char **)o->ptr);
				*(char **)o->ptr = strdup(s);
				if (!*(char **)o->ptr)
					return -ENOMEM;
			}
			break;
		}
		default:
			return -EINVAL;
		}
		if (r < 0)
			return r;
		if (o->present)
			*o->present = true;
next:
		r = sd_bus_message_exit_container(m);
		if (r < 0)
			return r;
	}
	if (r < 0)
		return r;
	return sd_bus_message_exit_container(m);
}

static int property_get_version(sd_bus *bus _unused_, const char *path _unused_,
				const char *iface _unused_, const char *prop _unused_,
				sd_bus_message *reply, void *userdata _unused_,
				sd_bus_error *error _unused_)
{
	return sd_bus_message_append(reply, "s", BLKSNAPD_VERSION);
}

static int property_get_module_version(sd_bus *bus _unused_, const char *path _unused_,
				       const char *iface _unused_, const char *prop _unused_,
				       sd_bus_message *reply, void *userdata,
				       sd_bus_error *error _unused_)
{
	Context *c = userdata;

	return sd_bus_message_append(reply, "s", c->module_version);
}

static void track_done(Job *j)
{
	_cleanup_(sd_bus_error_freep_) sd_bus_error error = SD_BUS_ERROR_NULL;
	struct nlattr *tb[BLKSNAP_A_MAX + 1];
	const char *spec = j->userdata;
	Device *d = NULL;
	int r = j->r;

	if (r < 0) {
		bus_error_nl(&error, ERR_TRACKER, r, j->extack, "Cannot track %s", spec);
		(void)sd_bus_reply_method_error(j->m, &error);
		return;
	}
	r = j->reply ? genlmsg_parse(nlmsg_hdr(j->reply), 0, tb, BLKSNAP_A_MAX, NULL) : -EPROTO;
	if (r >= 0)
		r = device_update(j->c, tb, &d);
	if (r < 0) {
		(void)sd_bus_reply_method_errorf(j->m, ERROR_PREFIX "Failed",
						 "Tracking %s: the kernel's reply was malformed.", spec);
		return;
	}
	(void)sd_bus_reply_method_return(j->m, "o", d->object_path);
}

static int method_track_device(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	Context *c = userdata;
	_cleanup_(freep) char *path = NULL, *spec_copy = NULL;
	uint64_t block_size = 0;
	bool has_block_size = false, ni;
	const Option opts[] = { { "block-size", 't', &block_size, &has_block_size } };
	uint32_t major = 0, minor = 0;
	const char *spec;
	struct nl_msg *req;
	int r;

	r = sd_bus_message_rewind(m, true);
	if (r < 0)
		return r;
	r = sd_bus_message_read(m, "s", &spec);
	if (r < 0)
		return r;
	r = options_read(m, opts, ELEMENTSOF(opts), &ni, error);
	if (r < 0)
		return r;
	if (device_parse_spec(spec, &major, &minor, &path) < 0)
		return bus_error_invalid(error, "Device '%s' is neither a /dev path nor MAJ:MIN.",
					 spec);
	if (path && (r = device_check_path(path, error)) < 0)
		return r;
	if (has_block_size && (block_size < BLKSNAP_BLOCK_SIZE_MIN ||
			       block_size > BLKSNAP_BLOCK_SIZE_MAX ||
			       (block_size & (block_size - 1))))
		return bus_error_invalid(error,
					 "Block size %" PRIu64 " is not a power of two between %u and %u.",
					 block_size, BLKSNAP_BLOCK_SIZE_MIN, BLKSNAP_BLOCK_SIZE_MAX);
	r = polkit_check(c, m, ACTION_TRACK, ni, error);
	if (r <= 0)
		return r < 0 ? r : 1;

	req = nl_request_new(c, BLKSNAP_CMD_TRACKER_ATTACH, false);
	if (!req)
		return -ENOMEM;
	if (path)
		nla_put_string(req, BLKSNAP_A_DEV_PATH, path);
	else {
		nla_put_u32(req, BLKSNAP_A_DEV_MAJOR, major);
		nla_put_u32(req, BLKSNAP_A_DEV_MINOR, minor);
	}
	if (has_block_size)
		nla_put_u32(req, BLKSNAP_A_BLOCK_SIZE, (uint32_t)block_size);
	spec_copy = strdup(spec);
	if (!spec_copy) {
		nlmsg_free(req);
		return -ENOMEM;
	}
	/* Attaching freezes the device: a worker does it. */
	r = job_start(c, req, m, track_done, TAKE_PTR(spec_copy), free, -1);
	return r < 0 ? r : 1;
}

/* ---- CreateSnapshot ------------------------------------------------------ */

typedef struct CreateArgs {
	uint64_t chunk_size, low_free, limit, initial;
	bool has_chunk, has_low_free, has_limit, has_initial, has_pool, bind;
	char *pool;
} CreateArgs;

typedef struct SnapRef {
	Context *c;
	Snapshot *s;
} SnapRef;

static int snapref_reply(struct nlmsghdr *h, struct nlattr **tb, void *userdata)
{
	SnapRef *x = userdata;

	return snapshot_update(x->c, h, tb, &x->s);
}

static int destroy_now(Context *c, const uint8_t id[ID_LEN])
{
	struct nl_msg *req = nl_request_new(c, BLKSNAP_CMD_SNAPSHOT_DESTROY, false);

	if (!req)
		return -ENOMEM;
	nla_put(req, BLKSNAP_A_SNAPSHOT_ID, ID_LEN, id);
	return nl_transact(c->nl, req, NULL, NULL, NULL);
}

/* Give a new snapshot its first storage from its pool, on the loop (no take yet). */
static int create_pool_storage(Context *c, Snapshot *s, uint64_t bytes, sd_bus_error *error)
{
	_cleanup_(freep) char *extack = NULL;
	struct nl_msg *req = NULL;
	uint64_t added = 0;
	int fd = -1, r;

	r = pool_grow_request(c, s, bytes, &req, &fd, &added);
	if (r < 0)
		return sd_bus_error_setf(error, ERROR_PREFIX "NoSpace",
					 "Cannot take %" PRIu64 " bytes of storage from pool %s: %s.",
					 bytes, s->pool->path, strerror(-r));
	r = nl_transact(c->nl, req, snapref_reply, &(SnapRef){ .c = c }, &extack);
	if (fd >= 0)
		close(fd);
	if (r < 0)
		return bus_error_nl(error, ERR_SNAPSHOT, r, extack,
				    "Cannot append storage from pool %s", s->pool->path);
	s->pool->given += added;
	return 0;
}

static int method_create_snapshot(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	Context *c = userdata;
	CreateArgs a = { 0 };
	_cleanup_(freep) char *pool_path = NULL, *extack = NULL;
	const Option opts[] = {
		{ "chunk-size", 't', &a.chunk_size, &a.has_chunk },
		{ "low-free-bytes", 't', &a.low_free, &a.has_low_free },
		{ "storage-pool", 's', &pool_path, &a.has_pool },
		{ "storage-limit", 't', &a.limit, &a.has_limit },
		{ "storage-initial", 't', &a.initial, &a.has_initial },
		{ "bind-to-caller", 'b', &a.bind, NULL },
	};
	_cleanup_(freep) Device **devs = NULL;
	size_t n = 0;
	uint64_t total_bytes = 0;
	struct nl_msg *req;
	Snapshot *s = NULL;
	Pool *pool = NULL;
	const char *p;
	bool ni;
	int r;

	r = sd_bus_message_rewind(m, true);
	if (r < 0)
		return r;
	r = sd_bus_message_enter_container(m, 'a', "o");
	if (r < 0)
		return r;
	while ((r = sd_bus_message_read(m, "o", &p)) > 0) {
		Device *d = device_find_by_path(c, p), **nd;

		if (!d)
			return sd_bus_error_setf(error, ERROR_PREFIX "NotTracked",
						 "Object %s is not a tracked device.", p);
		for (size_t i = 0; i < n; i++)
			if (devs[i] == d)
				return bus_error_invalid(error, "Device %s is listed twice.", d->path);
		nd = realloc(devs, (n + 1) * sizeof(*devs));
		if (!nd)
			return -ENOMEM;
		devs = nd;
		devs[n++] = d;
		total_bytes += d->capacity << SECTOR_SHIFT;
	}
	if (r < 0)
		return r;
	r = sd_bus_message_exit_container(m);
	if (r < 0)
		return r;
	r = options_read(m, opts, ELEMENTSOF(opts), &ni, error);
	if (r < 0)
		return r;
	if (n == 0)
		return bus_error_invalid(error, "A snapshot needs at least one device.");
	if (a.has_chunk && (a.chunk_size < BLKSNAP_CHUNK_SIZE_MIN ||
			    a.chunk_size > BLKSNAP_CHUNK_SIZE_MAX ||
			    (a.chunk_size & (a.chunk_size - 1))))
		return bus_error_invalid(error,
					 "Chunk size %" PRIu64 " is not a power of two between %u and %u.",
					 a.chunk_size, BLKSNAP_CHUNK_SIZE_MIN, BLKSNAP_CHUNK_SIZE_MAX);
	if (a.has_low_free && a.low_free % 512)
		return bus_error_invalid(error, "low-free-bytes %" PRIu64 " is not a multiple of 512.",
					 a.low_free);
	if ((a.has_limit || a.has_initial) && !a.has_pool)
		return bus_error_invalid(error, "storage-limit and storage-initial need storage-pool.");
	if (a.has_pool && pool_path[0] != '/')
		return bus_error_invalid(error, "Storage pool '%s' is not an absolute path.",
					 pool_path);
	r = polkit_check(c, m, ACTION_SNAPSHOT, ni, error);
	if (r <= 0)
		return r < 0 ? r : 1;

	if (a.has_pool) {
		/* Never more than the devices themselves, plus a chunk each. */
		uint64_t limit = a.has_limit ? a.limit : total_bytes + n * BLKSNAP_CHUNK_SIZE_MAX;
		uint64_t step = a.has_initial ? a.initial : limit / 4;

		if (step > limit)
			step = limit;
		r = pool_new(pool_path, limit, step, &pool, error);
		if (r < 0)
			return r;
	}

	req = nl_request_new(c, BLKSNAP_CMD_SNAPSHOT_CREATE, false);
	if (!req) {
		pool_free(pool);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		struct nlattr *nest = nla_nest_start(req, BLKSNAP_A_DEVICE | NLA_F_NESTED);

		nla_put_u32(req, BLKSNAP_A_DEVICE_DEV_MAJOR, devs[i]->major);
		nla_put_u32(req, BLKSNAP_A_DEVICE_DEV_MINOR, devs[i]->minor);
		nla_nest_end(req, nest);
	}
	if (a.has_chunk)
		nla_put_u32(req, BLKSNAP_A_CHUNK_SIZE, (uint32_t)a.chunk_size);
	if (a.has_low_free)
		nla_put_u64(req, BLKSNAP_A_LOW_FREE_SECTORS, a.low_free >> SECTOR_SHIFT);
	SnapRef ref = { .c = c };

	r = nl_transact(c->nl, req, snapref_reply, &ref, &extack);
	s = ref.s;
	if (r < 0) {
		pool_free(pool);
		return bus_error_nl(error, ERR_SNAPSHOT, r, extack, "Cannot create a snapshot of %s%s",
				    devs[0]->path, n > 1 ? " and the other devices" : "");
	}
	if (!s || !s->object_path) {
		pool_free(pool);
		return sd_bus_error_set(error, ERROR_PREFIX "Failed",
					"The kernel's reply to snapshot-create was malformed.");
	}
	if (a.bind) {
		s->bound_to = strdup(sd_bus_message_get_sender(m));
		if (!s->bound_to) {
			pool_free(pool);
			(void)destroy_now(c, s->id);
			return -ENOMEM;
		}
	}
	s->pool = pool;
	if (pool) {
		r = create_pool_storage(c, s, pool->step, error);
		if (r < 0) {
			pool_release(c, s);
			(void)destroy_now(c, s->id);
			return r;
		}
	}
	r = state_save(c, s);
	if (r < 0)
		log_error_errno(r, "Cannot save the state of snapshot %s: %m", s->object_path);
	return sd_bus_reply_method_return(m, "o", s->object_path);
}

const sd_bus_vtable manager_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_PROPERTY("Version", "s", property_get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("ModuleVersion", "s", property_get_module_version, 0,
			SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_METHOD_WITH_ARGS("TrackDevice",
				SD_BUS_ARGS("s", device, "a{sv}", options),
				SD_BUS_RESULT("o", tracker),
				method_track_device, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("CreateSnapshot",
				SD_BUS_ARGS("ao", devices, "a{sv}", options),
				SD_BUS_RESULT("o", snapshot),
				method_create_snapshot, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_VTABLE_END
};

int manager_register(Context *c)
{
	int r;

	r = sd_bus_add_object_manager(c->bus, NULL, ROOT_PATH);
	if (r < 0)
		return log_error_errno(r, "Cannot add the object manager: %m");
	r = sd_bus_add_object_vtable(c->bus, NULL, ROOT_PATH, MANAGER_IFACE, manager_vtable, c);
	if (r < 0)
		return log_error_errno(r, "Cannot add the manager: %m");
	return 0;
}
