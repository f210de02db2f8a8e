// SPDX-License-Identifier: GPL-2.0-only
/*
 * Device objects: one per tracked device, mirrored from the kernel's
 * trackers, at /org/blksnap/Blksnap1/device/MAJ_MIN.
 */
#define _GNU_SOURCE
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <netlink/netlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/genl/genl.h>
#include "blksnapd.h"

Device *device_find(Context *c, uint32_t major, uint32_t minor)
{
	for (Device *d = c->devices; d; d = d->next)
		if (d->major == major && d->minor == minor)
			return d;
	return NULL;
}

Device *device_find_by_path(Context *c, const char *object_path)
{
	for (Device *d = c->devices; d; d = d->next)
		if (strcmp(d->object_path, object_path) == 0)
			return d;
	return NULL;
}

Snapshot *device_snapshot(Device *d)
{
	for (Snapshot *s = d->c->snapshots; s; s = s->next)
		if (snapshot_device(s, d->major, d->minor))
			return s;
	return NULL;
}

/* "/dev/..." (returned in *ret_path) or "MAJ:MIN". */
int device_parse_spec(const char *spec, uint32_t *ret_major, uint32_t *ret_minor,
		      char **ret_path)
{
	unsigned long major, minor;
	char *end;

	if (spec[0] == '/') {
		if (strlen(spec) > 4095)
			return -EINVAL;
		*ret_path = strdup(spec);
		return *ret_path ? 0 : -ENOMEM;
	}
	errno = 0;
	if (spec[0] < '0' || spec[0] > '9')
		return -EINVAL;
	major = strtoul(spec, &end, 10);
	if (errno || *end != ':' || end[1] < '0' || end[1] > '9')
		return -EINVAL;
	minor = strtoul(end + 1, &end, 10);
	if (errno || *end || major > 4095 || minor > 1048575)
		return -EINVAL;
	*ret_major = (uint32_t)major;
	*ret_minor = (uint32_t)minor;
	*ret_path = NULL;
	return 0;
}

/* InvalidArgs unless @path names an existing block device. */
int device_check_path(const char *path, sd_bus_error *error)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return bus_error_invalid(error, "Device %s cannot be used: %s.", path,
					 strerror(errno));
	if (!S_ISBLK(st.st_mode))
		return bus_error_invalid(error, "%s is not a block device.", path);
	return 0;
}

/* /dev/NAME of a block device, from sysfs; "MAJ:MIN" text if unknown. */
char *device_node_path(uint32_t major, uint32_t minor)
{
	_cleanup_(fclosep) FILE *f = NULL;
	char fn[64], line[512], *path = NULL;

	snprintf(fn, sizeof(fn), "/sys/dev/block/%u:%u/uevent", major, minor);
	f = fopen(fn, "re");
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "DEVNAME=", 8) == 0) {
			line[strcspn(line, "\n")] = '\0';
			if (asprintf(&path, "/dev/%s", line + 8) < 0)
				path = NULL;
			return path;
		}
	if (asprintf(&path, "%u:%u", major, minor) < 0)
		path = NULL;
	return path;
}

static void device_free(Device *d)
{
	free(d->path);
	free(d->object_path);
	free(d);
}

void device_remove(Device *d)
{
	Context *c = d->c;

	(void)sd_bus_emit_object_removed(c->bus, d->object_path);
	LIST_REMOVE(c->devices, d);
	device_free(d);
}

void device_free_all(Context *c)
{
	while (c->devices) {
		Device *d = c->devices;

		LIST_REMOVE(c->devices, d);
		device_free(d);
	}
}

/* Add or update the device of a tracker-info message; emit what changed. */
int device_update(Context *c, struct nlattr **tb, Device **ret)
{
	uint32_t major, minor, block_size;
	uint64_t capacity, block_count;
	uint8_t gen[ID_LEN], snap;
	const char *changed[8];
	size_t n = 0;
	Device *d;

	if (nl_get_u32(tb[BLKSNAP_A_DEV_MAJOR], &major) < 0 ||
	    nl_get_u32(tb[BLKSNAP_A_DEV_MINOR], &minor) < 0 ||
	    nl_get_u32(tb[BLKSNAP_A_BLOCK_SIZE], &block_size) < 0 ||
	    nl_get_u64(tb[BLKSNAP_A_BLOCK_COUNT], &block_count) < 0 ||
	    nl_get_u64(tb[BLKSNAP_A_CAPACITY], &capacity) < 0 ||
	    nl_get_id(tb[BLKSNAP_A_GENERATION_ID], gen) < 0 ||
	    nl_get_u8(tb[BLKSNAP_A_SNAP_NUMBER], &snap) < 0)
		return -EPROTO;

	d = device_find(c, major, minor);
	if (!d) {
		d = calloc(1, sizeof(*d));
		if (!d)
			return -ENOMEM;
		*d = (Device){ .c = c, .major = major, .minor = minor, .capacity = capacity,
			       .block_size = block_size, .block_count = block_count,
			       .snap_number = snap };
		memcpy(d->generation, gen, ID_LEN);
		d->path = device_node_path(major, minor);
		if (!d->path || asprintf(&d->object_path, DEVICE_PREFIX "/%u_%u", major, minor) < 0) {
			device_free(d);
			return -ENOMEM;
		}
		LIST_PREPEND(c->devices, d);
		(void)sd_bus_emit_object_added(c->bus, d->object_path);
		*ret = d;
		return 0;
	}
	if (d->capacity != capacity)
		changed[n++] = "Size";
	if (d->block_size != block_size)
		changed[n++] = "BlockSize";
	if (d->block_count != block_count)
		changed[n++] = "BlockCount";
	if (memcmp(d->generation, gen, ID_LEN) != 0)
		changed[n++] = "GenerationId";
	if (d->snap_number != snap)
		changed[n++] = "SnapNumber";
	changed[n] = NULL;
	d->capacity = capacity;
	d->block_size = block_size;
	d->block_count = block_count;
	memcpy(d->generation, gen, ID_LEN);
	d->snap_number = snap;
	if (n)
		(void)sd_bus_emit_properties_changed_strv(c->bus, d->object_path, DEVICE_IFACE,
							  (char **)changed);
	*ret = d;
	return 0;
}

void device_emit_snapshot_changed(Context *c, Snapshot *s)
{
	for (size_t i = 0; i < s->n_devices; i++) {
		Device *d = device_find(c, s->devices[i].major, s->devices[i].minor);

		if (d)
			(void)sd_bus_emit_properties_changed(c->bus, d->object_path, DEVICE_IFACE,
							     "Snapshot", NULL);
	}
}

/* ---- properties ------------------------------------------------------------- */

#define DEVICE_GETTER(name, sig, expr) PROPERTY_GETTER(Device, d, name, sig, expr)

DEVICE_GETTER(path, "s", d->path)
DEVICE_GETTER(devnum, "t", (uint64_t)makedev(d->major, d->minor))
DEVICE_GETTER(size, "t", d->capacity << SECTOR_SHIFT)
DEVICE_GETTER(block_size, "u", d->block_size)
DEVICE_GETTER(block_count, "t", d->block_count)
DEVICE_GETTER(snap_number, "y", d->snap_number)
DEVICE_GETTER(generation, "s", uuid_format(d->generation, (char[UUID_STR_LEN]){}))

static int property_get_snapshot(sd_bus *bus _unused_, const char *path _unused_,
				 const char *iface _unused_, const char *prop _unused_,
				 sd_bus_message *reply, void *userdata,
				 sd_bus_error *error _unused_)
{
	Snapshot *s = device_snapshot(userdata);

	return sd_bus_message_append(reply, "o", s ? s->object_path : "/");
}

/* ---- methods ------------------------------------------------------------------ */

static struct nl_msg *device_request(Device *d, uint8_t cmd)
{
	struct nl_msg *req = nl_request_new(d->c, cmd, false);

	if (req) {
		nla_put_u32(req, BLKSNAP_A_DEV_MAJOR, d->major);
		nla_put_u32(req, BLKSNAP_A_DEV_MINOR, d->minor);
	}
	return req;
}

typedef struct DevCall {
	uint32_t major, minor;
	char *path;
} DevCall;

static void devcall_free(void *p)
{
	DevCall *dc = p;

	free(dc->path);
	free(dc);
}

static void untrack_done(Job *j)
{
	_cleanup_(sd_bus_error_freep_) sd_bus_error error = SD_BUS_ERROR_NULL;
	DevCall *dc = j->userdata;
	Device *d;

	if (j->r < 0) {
		bus_error_nl(&error, ERR_TRACKER, j->r, j->extack, "Cannot untrack %s", dc->path);
		(void)sd_bus_reply_method_error(j->m, &error);
		return;
	}
	d = device_find(j->c, dc->major, dc->minor);
	if (d)
		device_remove(d);
	(void)sd_bus_reply_method_return(j->m, NULL);
}

static int method_untrack(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	Device *d = userdata;
	DevCall *dc;
	struct nl_msg *req;
	int r;

	r = polkit_check_method(d->c, m, ACTION_TRACK, error);
	if (r <= 0)
		return r < 0 ? r : 1;
	dc = calloc(1, sizeof(*dc));
	if (!dc)
		return -ENOMEM;
	*dc = (DevCall){ .major = d->major, .minor = d->minor, .path = strdup(d->path) };
	req = device_request(d, BLKSNAP_CMD_TRACKER_DETACH);
	if (!req || !dc->path) {
		if (req)
			nlmsg_free(req);
		devcall_free(dc);
		return -ENOMEM;
	}
	/* Detaching freezes the device: a worker does it. */
	r = job_start(d->c, req, m, untrack_done, dc, devcall_free, -1);
	return r < 0 ? r : 1;
}

static int device_reply(_unused_ struct nlmsghdr *h, struct nlattr **tb, void *userdata)
{
	Device *d = userdata;

	return device_update(d->c, tb, &d);
}

static int method_reset(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	Device *d = userdata;
	_cleanup_(freep) char *extack = NULL;
	struct nl_msg *req;
	int r;

	r = polkit_check_method(d->c, m, ACTION_TRACK, error);
	if (r <= 0)
		return r < 0 ? r : 1;
	req = device_request(d, BLKSNAP_CMD_CBT_RESET);
	if (!req)
		return -ENOMEM;
	r = nl_transact(d->c->nl, req, device_reply, d, &extack);
	if (r < 0)
		return bus_error_nl(error, ERR_TRACKER, r, extack,
				    "Cannot reset the tracking of %s", d->path);
	return sd_bus_reply_method_return(m, NULL);
}

/* An a(tt) of byte (offset, length) pairs; *ret holds 2 * *ret_n numbers. */
int bus_message_read_ranges(sd_bus_message *m, uint64_t **ret, size_t *ret_n,
			    sd_bus_error *error)
{
	_cleanup_(freep) uint64_t *v = NULL;
	uint64_t off, len;
	size_t n = 0;
	int r;

	r = sd_bus_message_enter_container(m, 'a', "(tt)");
	if (r < 0)
		return r;
	while ((r = sd_bus_message_read(m, "(tt)", &off, &len)) > 0) {
		uint64_t *nv;

		if (len == 0 || off % 512 || len % 512 || off + len < off)
			return bus_error_invalid(error,
						 "Range %" PRIu64 "+%" PRIu64 " is empty, overflows, or is not in whole 512-byte sectors.",
						 off, len);
		nv = realloc(v, (n + 1) * 2 * sizeof(*v));
		if (!nv)
			return -ENOMEM;
		v = nv;
		v[2 * n] = off;
		v[2 * n + 1] = len;
		n++;
	}
	if (r < 0)
		return r;
	r = sd_bus_message_exit_container(m);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(v);
	*ret_n = n;
	return 0;
}

static int method_mark_dirty(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	Device *d = userdata;
	_cleanup_(freep) uint64_t *ranges = NULL;
	_cleanup_(freep) char *extack = NULL;
	struct nl_msg *req;
	size_t n;
	bool ni;
	int r;

	r = sd_bus_message_rewind(m, true);
	if (r >= 0)
		r = bus_message_read_ranges(m, &ranges, &n, error);
	if (r >= 0)
		r = OPTIONS_NONE(m, &ni, error);
	if (r < 0)
		return r;
	if (n == 0)
		return bus_error_invalid(error, "No range to mark on %s.", d->path);
	for (size_t i = 0; i < n; i++)
		if (ranges[2 * i] + ranges[2 * i + 1] > d->capacity << SECTOR_SHIFT)
			return bus_error_invalid(error,
						 "Range %" PRIu64 "+%" PRIu64 " ends past the end of %s (%" PRIu64 " bytes).",
						 ranges[2 * i], ranges[2 * i + 1], d->path,
						 d->capacity << SECTOR_SHIFT);
	r = polkit_check(d->c, m, ACTION_TRACK, ni, error);
	if (r <= 0)
		return r < 0 ? r : 1;
	req = device_request(d, BLKSNAP_CMD_CBT_MARK_DIRTY);
	if (!req)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct nlattr *nest = nla_nest_start(req, BLKSNAP_A_RANGE | NLA_F_NESTED);

		nla_put_u64(req, BLKSNAP_A_RANGE_START, ranges[2 * i] >> SECTOR_SHIFT);
		nla_put_u64(req, BLKSNAP_A_RANGE_COUNT, ranges[2 * i + 1] >> SECTOR_SHIFT);
		nla_nest_end(req, nest);
	}
	r = nl_transact(d->c->nl, req, NULL, NULL, &extack);
	if (r < 0)
		return bus_error_nl(error, ERR_TRACKER, r, extack, "Cannot mark ranges of %s dirty",
				    d->path);
	return sd_bus_reply_method_return(m, NULL);
}

const sd_bus_vtable device_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_PROPERTY("Path", "s", property_get_path, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("DeviceNumber", "t", property_get_devnum, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Size", "t", property_get_size, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
	SD_BUS_PROPERTY("BlockSize", "u", property_get_block_size, 0,
			SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
	SD_BUS_PROPERTY("BlockCount", "t", property_get_block_count, 0,
			SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
	SD_BUS_PROPERTY("GenerationId", "s", property_get_generation, 0,
			SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
	SD_BUS_PROPERTY("SnapNumber", "y", property_get_snap_number, 0,
			SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
	SD_BUS_PROPERTY("Snapshot", "o", property_get_snapshot, 0,
			SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
	SD_BUS_METHOD_WITH_ARGS("Untrack", SD_BUS_ARGS("a{sv}", options), SD_BUS_NO_RESULT,
				method_untrack, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("ResetTracking", SD_BUS_ARGS("a{sv}", options), SD_BUS_NO_RESULT,
				method_reset, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("MarkDirty", SD_BUS_ARGS("a(tt)", ranges, "a{sv}", options),
				SD_BUS_NO_RESULT, method_mark_dirty, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_VTABLE_END
};

static int device_object_find(sd_bus *bus _unused_, const char *path, const char *iface _unused_,
			      void *userdata, void **found, sd_bus_error *error _unused_)
{
	*found = device_find_by_path(userdata, path);
	return *found ? 1 : 0;
}

static int device_node_enumerator(sd_bus *bus _unused_, const char *path _unused_,
				  void *userdata, char ***nodes, sd_bus_error *error _unused_)
{
	Context *c = userdata;

	return LIST_OBJECT_PATHS(c->devices, nodes);
}

int device_register(Context *c)
{
	int r;

	r = sd_bus_add_fallback_vtable(c->bus, NULL, DEVICE_PREFIX, DEVICE_IFACE, device_vtable,
				       device_object_find, c);
	if (r < 0)
		return log_error_errno(r, "Cannot add the device objects: %m");
	r = sd_bus_add_node_enumerator(c->bus, NULL, DEVICE_PREFIX, device_node_enumerator, c);
	if (r < 0)
		return log_error_errno(r, "Cannot add the device enumerator: %m");
	return 0;
}
