// SPDX-License-Identifier: GPL-2.0-only
/*
 * Snapshot objects: one per kernel snapshot, at
 * /org/blksnap/Blksnap1/snapshot/UUIDHEX, with its storage, take, images,
 * changed extents, destroy, and the signals of its events.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/stat.h>
#include <netlink/netlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/genl/genl.h>
#include "blksnapd.h"

char *uuid_format(const uint8_t id[ID_LEN], char buf[UUID_STR_LEN])
{
	char *p = buf;

	for (int i = 0; i < ID_LEN; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*p++ = '-';
		p += sprintf(p, "%02x", id[i]);
	}
	return buf;
}

/* 32 hexadecimal digits, dashes allowed between bytes. */
int uuid_parse(const char *s, uint8_t ret[ID_LEN])
{
	static const char hex[] = "0123456789abcdefABCDEF";
	uint8_t v[ID_LEN];
	size_t n = 0;

	for (; *s; s++) {
		if (*s == '-')
			continue;
		if (n == ID_LEN || !s[1] || !strchr(hex, s[0]) || !strchr(hex, s[1]))
			return -EINVAL;
		sscanf(s++, "%2hhx", &v[n++]);
	}
	if (n != ID_LEN)
		return -EINVAL;
	memcpy(ret, v, ID_LEN);
	return 0;
}

const char *snapshot_state_name(uint32_t state)
{
	switch (state) {
	case BLKSNAP_SNAPSHOT_STATE_CREATED:
		return "created";
	case BLKSNAP_SNAPSHOT_STATE_TAKEN:
		return "taken";
	case BLKSNAP_SNAPSHOT_STATE_CORRUPTED:
		return "corrupted";
	}
	return "unknown";
}

Snapshot *snapshot_find(Context *c, const uint8_t id[ID_LEN])
{
	for (Snapshot *s = c->snapshots; s; s = s->next)
		if (memcmp(s->id, id, ID_LEN) == 0)
			return s;
	return NULL;
}

static Snapshot *snapshot_find_by_path(Context *c, const char *path)
{
	for (Snapshot *s = c->snapshots; s; s = s->next)
		if (strcmp(s->object_path, path) == 0)
			return s;
	return NULL;
}

SnapshotDevice *snapshot_device(Snapshot *s, uint32_t major, uint32_t minor)
{
	for (size_t i = 0; i < s->n_devices; i++)
		if (s->devices[i].major == major && s->devices[i].minor == minor)
			return &s->devices[i];
	return NULL;
}

static void snapshot_devices_free(SnapshotDevice *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].image_name);
	free(v);
}

static void snapshot_free(Snapshot *s)
{
	snapshot_devices_free(s->devices, s->n_devices);
	pool_free(s->pool);
	free(s->bound_to);
	free(s->object_path);
	free(s);
}

void snapshot_free_all(Context *c)
{
	while (c->snapshots) {
		Snapshot *s = c->snapshots;

		LIST_REMOVE(c->snapshots, s);
		snapshot_free(s);
	}
}

/* The snapshot is gone from the kernel: drop its object, pool and state. */
void snapshot_remove(Snapshot *s)
{
	Context *c = s->c;

	(void)sd_bus_emit_object_removed(c->bus, s->object_path);
	LIST_REMOVE(c->snapshots, s);
	device_emit_snapshot_changed(c, s);
	pool_release(c, s);
	state_remove(c, s->id);
	snapshot_free(s);
}

static int parse_devices(struct nlmsghdr *h, SnapshotDevice **ret, size_t *ret_n)
{
	SnapshotDevice *v = NULL;
	struct nlattr *a;
	size_t n = 0;
	int rem;

	nla_for_each_attr(a, genlmsg_attrdata(nlmsg_data(h), 0), genlmsg_attrlen(nlmsg_data(h), 0),
			  rem) {
		struct nlattr *tb[BLKSNAP_A_DEVICE_MAX + 1];
		SnapshotDevice *nv, *d;

		if (nla_type(a) != BLKSNAP_A_DEVICE)
			continue;
		if (nla_parse_nested(tb, BLKSNAP_A_DEVICE_MAX, a, NULL) < 0)
			goto fail;
		nv = realloc(v, (n + 1) * sizeof(*v));
		if (!nv)
			goto fail;
		v = nv;
		d = &v[n++];
		*d = (SnapshotDevice){ 0 };
		if (nl_get_u32(tb[BLKSNAP_A_DEVICE_DEV_MAJOR], &d->major) < 0 ||
		    nl_get_u32(tb[BLKSNAP_A_DEVICE_DEV_MINOR], &d->minor) < 0)
			goto fail;
		(void)nl_get_u8(tb[BLKSNAP_A_DEVICE_SNAP_NUMBER], &d->snap_number);
		d->has_generation = nl_get_id(tb[BLKSNAP_A_DEVICE_GENERATION_ID], d->generation) >= 0;
		(void)nl_get_u32(tb[BLKSNAP_A_DEVICE_ERROR], &d->error);
		if (tb[BLKSNAP_A_DEVICE_IMAGE_NAME]) {
			d->image_name = strndup(nla_data(tb[BLKSNAP_A_DEVICE_IMAGE_NAME]),
						(size_t)nla_len(tb[BLKSNAP_A_DEVICE_IMAGE_NAME]));
			if (!d->image_name)
				goto fail;
		}
	}
	*ret = v;
	*ret_n = n;
	return 0;
fail:
	snapshot_devices_free(v, n);
	return -EPROTO;
}

/* Add or update the snapshot of a snapshot-info message; emit what changed. */
int snapshot_update(Context *c, struct nlmsghdr *h, struct nlattr **tb, Snapshot **ret)
{
	uint8_t id[ID_LEN];
	uint32_t state, chunk_size, error;
	uint64_t low_free = 0, total, used;
	SnapshotDevice *devs;
	const char *changed[8];
	size_t n_devs, n = 0;
	Snapshot *s;
	int r;

	if (nl_get_id(tb[BLKSNAP_A_SNAPSHOT_ID], id) < 0 ||
	    nl_get_u32(tb[BLKSNAP_A_STATE], &state) < 0 ||
	    nl_get_u32(tb[BLKSNAP_A_CHUNK_SIZE], &chunk_size) < 0 ||
	    nl_get_u64(tb[BLKSNAP_A_STORAGE_TOTAL], &total) < 0 ||
	    nl_get_u64(tb[BLKSNAP_A_STORAGE_USED], &used) < 0 ||
	    nl_get_u32(tb[BLKSNAP_A_ERROR], &error) < 0)
		return -EPROTO;
	(void)nl_get_u64(tb[BLKSNAP_A_LOW_FREE_SECTORS], &low_free);
	r = parse_devices(h, &devs, &n_devs);
	if (r < 0)
		return r;

	s = snapshot_find(c, id);
	if (!s) {
		char hex[2 * ID_LEN + 1];

		s = calloc(1, sizeof(*s));
		if (!s) {
			snapshot_devices_free(devs, n_devs);
			return -ENOMEM;
		}
		for (int i = 0; i < ID_LEN; i++)
			sprintf(hex + 2 * i, "%02x", id[i]);
		*s = (Snapshot){ .c = c, .state = state, .chunk_size = chunk_size,
				 .low_free = low_free, .total = total, .used = used,
				 .error = error, .devices = devs, .n_devices = n_devs };
		memcpy(s->id, id, ID_LEN);
		if (asprintf(&s->object_path, SNAPSHOT_PREFIX "/%s", hex) < 0) {
			s->object_path = NULL;
			snapshot_free(s);
			return -ENOMEM;
		}
		LIST_PREPEND(c->snapshots, s);
		(void)sd_bus_emit_object_added(c->bus, s->object_path);
		device_emit_snapshot_changed(c, s);
		*ret = s;
		return 0;
	}
	if (s->state != state)
		changed[n++] = "State";
	if (s->total != total)
		changed[n++] = "StorageTotal";
	if (s->used != used)
		changed[n++] = "StorageUsed";
	if (s->error != error) {
		changed[n++] = "Error";
		changed[n++] = "ErrorDevice";
	}
	changed[n] = NULL;
	s->state = state;
	s->chunk_size = chunk_size;
	s->low_free = low_free;
	s->total = total;
	s->used = used;
	s->error = error;
	snapshot_devices_free(s->devices, s->n_devices);
	s->devices = devs;
	s->n_devices = n_devs;
	if (n)
		(void)sd_bus_emit_properties_changed_strv(c->bus, s->object_path, SNAPSHOT_IFACE,
							  (char **)changed);
	*ret = s;
	return 0;
}

/* ---- events ------------------------------------------------------------------ */

typedef struct GrowCall {
	uint8_t id[ID_LEN];
	uint64_t added;
} GrowCall;

static void grow_done(Job *j)
{
	GrowCall *g = j->userdata;
	Snapshot *s = snapshot_find(j->c, g->id);
	struct nlattr *tb[BLKSNAP_A_MAX + 1];

	if (!s)
		return;
	if (s->pool)
		s->pool->growing = false;
	if (j->r < 0) {
		log_error_errno(j->r, "Cannot grow the storage of %s from its pool: %m%s%s",
				s->object_path, j->extack ? ": " : "", j->extack ? j->extack : "");
		return;
	}
	if (s->pool)
		s->pool->given += g->added;
	if (j->reply && genlmsg_parse(nlmsg_hdr(j->reply), 0, tb, BLKSNAP_A_MAX, NULL) >= 0)
		(void)snapshot_update(j->c, nlmsg_hdr(j->reply), tb, &s);
	(void)state_save(j->c, s);
	(void)sd_bus_emit_signal(j->c->bus, s->object_path, SNAPSHOT_IFACE, "StorageGrown", "tt",
				 g->added, s->total << SECTOR_SHIFT);
}

static int snapshot_grow(Snapshot *s, uint64_t bytes)
{
	struct nl_msg *req = NULL;
	uint64_t added = 0;
	GrowCall *g;
	int fd = -1, r;

	r = pool_grow_request(s->c, s, bytes, &req, &fd, &added);
	if (r < 0)
		return r;
	g = calloc(1, sizeof(*g));
	if (!g) {
		nlmsg_free(req);
		if (fd >= 0)
			close(fd);
		return -ENOMEM;
	}
	memcpy(g->id, s->id, ID_LEN);
	g->added = added;
	s->pool->growing = true;
	r = job_start(s->c, req, NULL, grow_done, g, free, fd);
	if (r < 0)
		s->pool->growing = false;
	return r;
}

void snapshot_on_low_space(Snapshot *s, uint64_t wanted)
{
	Pool *p = s->pool;
	uint64_t bytes;
	int r;

	(void)sd_bus_emit_signal(s->c->bus, s->object_path, SNAPSHOT_IFACE, "LowFreeSpace", "t",
				 wanted << SECTOR_SHIFT);
	if (!p || p->growing || s->state == BLKSNAP_SNAPSHOT_STATE_CORRUPTED)
		return;
	bytes = wanted << SECTOR_SHIFT;
	if (bytes < p->step)
		bytes = p->step;
	if (bytes > p->limit - p->given)
		bytes = p->limit - p->given;
	bytes &= ~(uint64_t)(s->chunk_size - 1);
	if (bytes < s->chunk_size) {
		log_info("Snapshot %s reached its storage limit of %" PRIu64 " bytes",
			 s->object_path, p->limit);
		return;
	}
	r = snapshot_grow(s, bytes);
	if (r < 0)
		log_error_errno(r, "Cannot grow the storage of %s: %m", s->object_path);
}

void snapshot_on_corrupted(Snapshot *s, struct nlattr **tb)
{
	struct nlattr *dtb[BLKSNAP_A_DEVICE_MAX + 1];
	const char *reason, *path = "/";
	uint32_t error = 0;
	Device *d;

	(void)nl_get_u32(tb[BLKSNAP_A_ERROR], &error);
	s->has_error_device = false;
	if (tb[BLKSNAP_A_DEVICE] &&
	    nla_parse_nested(dtb, BLKSNAP_A_DEVICE_MAX, tb[BLKSNAP_A_DEVICE], NULL) >= 0 &&
	    nl_get_u32(dtb[BLKSNAP_A_DEVICE_DEV_MAJOR], &s->error_major) >= 0 &&
	    nl_get_u32(dtb[BLKSNAP_A_DEVICE_DEV_MINOR], &s->error_minor) >= 0) {
		s->has_error_device = true;
		d = device_find(s->c, s->error_major, s->error_minor);
		if (d)
			path = d->object_path;
	}
	reason = error == ENOSPC ? "the difference storage overflowed" :
		 error == EIO ? "an I/O error on the difference storage" : strerror((int)error);
	if (s->error != error || s->state != BLKSNAP_SNAPSHOT_STATE_CORRUPTED) {
		s->error = error;
		s->state = BLKSNAP_SNAPSHOT_STATE_CORRUPTED;
		(void)sd_bus_emit_properties_changed(s->c->bus, s->object_path, SNAPSHOT_IFACE,
						     "State", "Error", "ErrorDevice", NULL);
	}
	(void)sd_bus_emit_signal(s->c->bus, s->object_path, SNAPSHOT_IFACE, "Corrupted", "osi",
				 path, reason, (int32_t)error);
}

/* ---- methods -------------------------------------------------------------------- */

static struct nl_msg *snapshot_request(Snapshot *s, uint8_t cmd)
{
	struct nl_msg *req = nl_request_new(s->c, cmd, false);

	if (req)
		nla_put(req, BLKSNAP_A_SNAPSHOT_ID, ID_LEN, s->id);
	return req;
}

typedef struct SnapCall {
	uint8_t id[ID_LEN];
	char *what;
} SnapCall;

static void snapcall_free(void *p)
{
	SnapCall *sc = p;

	free(sc->what);
	free(sc);
}

static SnapCall *snapcall_new(Snapshot *s, const char *fmt, ...) _printf_(2, 3);
static SnapCall *snapcall_new(Snapshot *s, const char *fmt, ...)
{
	SnapCall *sc = calloc(1, sizeof(*sc));
	va_list ap;
	int n;

	if (!sc)
		return NULL;
	memcpy(sc->id, s->id, ID_LEN);
	va_start(ap, fmt);
	n = vasprintf(&sc->what, fmt, ap);
	va_end(ap);
	if (n < 0) {
		free(sc);
		return NULL;
	}
	return sc;
}

/* Done: update the object from the reply, answer the call with nothing. */
static void snapshot_update_done(Job *j)
{
	_cleanup_(sd_bus_error_freep_) sd_bus_error error = SD_BUS_ERROR_NULL;
	SnapCall *sc = j->userdata;
	struct nlattr *tb[BLKSNAP_A_MAX + 1];
	Snapshot *s;

	if (j->r < 0) {
		bus_error_nl(&error, ERR_SNAPSHOT, j->r, j->extack, "%s", sc->what);
		if (j->m)
			(void)sd_bus_reply_method_error(j->m, &error);
		return;
	}
	if (j->reply && genlmsg_parse(nlmsg_hdr(j->reply), 0, tb, BLKSNAP_A_MAX, NULL) >= 0)
		(void)snapshot_update(j->c, nlmsg_hdr(j->reply), tb, &s);
	if (j->m)
		(void)sd_bus_reply_method_return(j->m, NULL);
}

static int snapshot_start(Snapshot *s, sd_bus_message *m, struct nl_msg *req, SnapCall *sc,
			  int fd)
{
	if (!req || !sc) {
		if (req)
			nlmsg_free(req);
		if (sc)
			snapcall_free(sc);
		if (fd >= 0)
			close(fd);
		return -ENOMEM;
	}
	return job_start(s->c, req, m, snapshot_update_done, sc, snapcall_free, fd);
}

static int method_add_storage_ranges(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	Snapshot *s = userdata;
	_cleanup_(freep) uint64_t *ranges = NULL;
	_cleanup_(freep) char *path = NULL;
	uint32_t major = 0, minor = 0;
	struct nl_msg *req;
	const char *spec;
	size_t n;
	bool ni;
	int r;

	r = sd_bus_message_rewind(m, true);
	if (r >= 0)
		r = sd_bus_message_read(m, "s", &spec);
	if (r >= 0)
		r = bus_message_read_ranges(m, &ranges, &n, error);
	if (r >= 0)
		r = OPTIONS_NONE(m, &ni, error);
	if (r < 0)
		return r;
	if (device_parse_spec(spec, &major, &minor, &path) < 0)
		return bus_error_invalid(error, "Device '%s' is neither a /dev path nor MAJ:MIN.",
					 spec);
	if (path && (r = device_check_path(path, error)) < 0)
		return r;
	if (n == 0)
		return bus_error_invalid(error, "No storage range given for %s.", spec);
	r = polkit_check(s->c, m, ACTION_SNAPSHOT, ni, error);
	if (r <= 0)
		return r < 0 ? r : 1;
	req = snapshot_request(s, BLKSNAP_CMD_SNAPSHOT_APPEND_STORAGE);
	for (size_t i = 0; req && i < n; i++) {
		struct nlattr *nest = nla_nest_start(req, BLKSNAP_A_STORAGE_RANGE | NLA_F_NESTED);

		if (path)
			nla_put_string(req, BLKSNAP_A_STORAGE_DEV_PATH, path);
		else {
			nla_put_u32(req, BLKSNAP_A_STORAGE_DEV_MAJOR, major);
			nla_put_u32(req, BLKSNAP_A_STORAGE_DEV_MINOR, minor);
		}
		nla_put_u64(req, BLKSNAP_A_STORAGE_START, ranges[2 * i] >> SECTOR_SHIFT);
		nla_put_u64(req, BLKSNAP_A_STORAGE_COUNT, ranges[2 * i + 1] >> SECTOR_SHIFT);
		nla_nest_end(req, nest);
	}
	r = snapshot_start(s, m, req,
			   snapcall_new(s, "Cannot add storage ranges of %s to snapshot %s", spec,
					s->object_path), -1);
	return r < 0 ? r : 1;
}

static int method_add_storage_file(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	Snapshot *s = userdata;
	struct nl_msg *req;
	struct stat st;
	uint64_t limit;
	int fd, flags, r;
	bool ni;

	r = sd_bus_message_rewind(m, true);
	if (r >= 0)
		r = sd_bus_message_read(m, "ht", &fd, &limit);
	if (r >= 0)
		r = OPTIONS_NONE(m, &ni, error);
	if (r < 0)
		return r;
	if (fstat(fd, &st) < 0)
		return bus_error_invalid(error, "The storage file descriptor cannot be examined: %s.",
					 strerror(errno));
	if (!S_ISREG(st.st_mode))
		return bus_error_invalid(error, "The storage file descriptor is not a regular file.");
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || (flags & O_ACCMODE) == O_RDONLY)
		return bus_error_invalid(error, "The storage file is not open for writing.");
	if (limit < 512 || limit % 512)
		return bus_error_invalid(error,
					 "Storage limit %" PRIu64 " is not a positive multiple of 512 bytes.",
					 limit);
	r = polkit_check(s->c, m, ACTION_SNAPSHOT, ni, error);
	if (r <= 0)
		return r < 0 ? r : 1;
	fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return -errno;
	req = snapshot_request(s, BLKSNAP_CMD_SNAPSHOT_APPEND_STORAGE);
	if (req) {
		nla_put_u32(req, BLKSNAP_A_STORAGE_FD, (uint32_t)fd);
		nla_put_u64(req, BLKSNAP_A_STORAGE_LIMIT, limit >> SECTOR_SHIFT);
	}
	r = snapshot_start(s, m, req,
			   snapcall_new(s, "Cannot add a storage file to snapshot %s",
					s->object_path), fd);
	return r < 0 ? r : 1;
}

static int method_take(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	Snapshot *s = userdata;
	int r;

	r = polkit_check_method(s->c, m, ACTION_SNAPSHOT, error);
	if (r <= 0)
		return r < 0 ? r : 1;
	/* Freezing file systems may take long: a worker takes it. */
	r = snapshot_start(s, m, snapshot_request(s, BLKSNAP_CMD_SNAPSHOT_TAKE),
			   snapcall_new(s, "Cannot take snapshot %s", s->object_path), -1);
	return r < 0 ? r : 1;
}

static void destroy_done(Job *j)
{
	_cleanup_(sd_bus_error_freep_) sd_bus_error error = SD_BUS_ERROR_NULL;
	SnapCall *sc = j->userdata;
	Snapshot *s = snapshot_find(j->c, sc->id);

	if (s)
		s->destroying = false;
	if (j->r < 0 && j->r != -ENOENT) {
		bus_error_nl(&error, ERR_SNAPSHOT, j->r, j->extack, "%s", sc->what);
		if (j->m)
			(void)sd_bus_reply_method_error(j->m, &error);
		else
			log_error_errno(j->r, "%s: %m%s%s", sc->what, j->extack ? ": " : "",
					j->extack ? j->extack : "");
		return;
	}
	if (j->r == -ENOENT && j->m) {
		bus_error_nl(&error, ERR_SNAPSHOT, j->r, j->extack, "%s", sc->what);
		(void)sd_bus_reply_method_error(j->m, &error);
	} else if (j->m) {
		(void)sd_bus_reply_method_return(j->m, NULL);
	}
	if (s)
		snapshot_remove(s);
}

int snapshot_destroy_async(Snapshot *s, sd_bus_message *m)
{
	int r;

	r = snapshot_start(s, m, snapshot_request(s, BLKSNAP_CMD_SNAPSHOT_DESTROY),
			   snapcall_new(s, "Cannot destroy snapshot %s", s->object_path), -1);
	if (r < 0)
		return r;
	s->destroying = true;
	return 0;
}

static int method_destroy(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	Snapshot *s = userdata;
	SnapCall *sc;
	int r;

	r = polkit_check_method(s->c, m, ACTION_SNAPSHOT, error);
	if (r <= 0)
		return r < 0 ? r : 1;
	sc = snapcall_new(s, "Cannot destroy snapshot %s", s->object_path);
	if (!sc)
		return -ENOMEM;
	/* Stopping copy-on-write waits for the copies in flight: a worker does it. */
	r = job_start(s->c, snapshot_request(s, BLKSNAP_CMD_SNAPSHOT_DESTROY), m, destroy_done, sc,
		      snapcall_free, -1);
	if (r < 0)
		return r;
	s->destroying = true;
	return 1;
}

static int method_get_images(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	_cleanup_(sd_bus_message_unrefp_) sd_bus_message *reply = NULL;
	Snapshot *s = userdata;
	int r;

	r = polkit_check_method(s->c, m, ACTION_QUERY, error);
	if (r <= 0)
		return r < 0 ? r : 1;
	r = sd_bus_message_new_method_return(m, &reply);
	if (r >= 0)
		r = sd_bus_message_open_container(reply, 'a', "(osst)");
	for (size_t i = 0; r >= 0 && i < s->n_devices; i++) {
		SnapshotDevice *sd = &s->devices[i];
		Device *d = device_find(s->c, sd->major, sd->minor);
		_cleanup_(freep) char *image = NULL;
		char gen[UUID_STR_LEN] = "";

		if (!d || !sd->image_name)
			continue;
		if (asprintf(&image, "/dev/%s", sd->image_name) < 0)
			return -ENOMEM;
		if (sd->has_generation)
			uuid_format(sd->generation, gen);
		r = sd_bus_message_append(reply, "(osst)", d->object_path, image, gen,
					  (uint64_t)sd->snap_number);
	}
	if (r >= 0)
		r = sd_bus_message_close_container(reply);
	if (r < 0)
		return r;
	return sd_bus_send(NULL, reply, NULL);
}

/* The taken snapshot's device named by @path, or an error. */
static int snapshot_taken_device(Snapshot *s, const char *path, Device **ret_d,
				 SnapshotDevice **ret_sd, sd_bus_error *error)
{
	Device *d = device_find_by_path(s->c, path);
	SnapshotDevice *sd = d ? snapshot_device(s, d->major, d->minor) : NULL;

	if (!sd)
		return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
					 "Object %s is not a device of snapshot %s.", path,
					 s->object_path);
	if (s->state == BLKSNAP_SNAPSHOT_STATE_CORRUPTED)
		return sd_bus_error_setf(error, ERROR_PREFIX "Corrupted",
					 "Snapshot %s is corrupted (%s): its images cannot be read.",
					 s->object_path, strerror((int)s->error));
	if (s->state != BLKSNAP_SNAPSHOT_STATE_TAKEN || !sd->image_name)
		return sd_bus_error_setf(error, ERROR_PREFIX "InvalidState",
					 "Snapshot %s is not taken yet: %s has no image.",
					 s->object_path, d->path);
	*ret_d = d;
	*ret_sd = sd;
	return 0;
}

static int method_open_image(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	Snapshot *s = userdata;
	bool writable = false, ni;
	const Option opts[] = { { "writable", 'b', &writable, NULL } };
	_cleanup_(closep) int fd = -1;
	_cleanup_(freep) char *image = NULL;
	SnapshotDevice *sd;
	const char *path;
	Device *d;
	int r;

	r = sd_bus_message_rewind(m, true);
	if (r >= 0)
		r = sd_bus_message_read(m, "o", &path);
	if (r >= 0)
		r = options_read(m, opts, ELEMENTSOF(opts), &ni, error);
	if (r < 0)
		return r;
	r = snapshot_taken_device(s, path, &d, &sd, error);
	if (r < 0)
		return r;
	r = polkit_check(s->c, m, ACTION_READ, ni, error);
	if (r <= 0)
		return r < 0 ? r : 1;
	if (asprintf(&image, "/dev/%s", sd->image_name) < 0)
		return -ENOMEM;
	fd = open(image, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return sd_bus_error_setf(error, ERROR_PREFIX "Failed",
					 "Cannot open the image %s of %s: %s.", image, d->path,
					 strerror(errno));
	return sd_bus_reply_method_return(m, "h", fd);
}

static int method_get_changed_extents(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	Snapshot *s = userdata;
	_cleanup_(closep) int fd = -1;
	uint8_t gen[ID_LEN], snap;
	char frozen[UUID_STR_LEN];
	const char *path, *gen_s;
	SnapshotDevice *sd;
	Device *d;
	bool ni;
	int r;

	r = sd_bus_message_rewind(m, true);
	if (r >= 0)
		r = sd_bus_message_read(m, "osy", &path, &gen_s, &snap);
	if (r >= 0)
		r = OPTIONS_NONE(m, &ni, error);
	if (r < 0)
		return r;
	if (uuid_parse(gen_s, gen) < 0)
		return bus_error_invalid(error, "Generation id '%s' is not a UUID.", gen_s);
	r = snapshot_taken_device(s, path, &d, &sd, error);
	if (r < 0)
		return r;
	r = polkit_check(s->c, m, ACTION_READ, ni, error);
	if (r <= 0)
		return r < 0 ? r : 1;
	if (!sd->has_generation || memcmp(sd->generation, gen, ID_LEN) != 0)
		return sd_bus_error_setf(error, ERROR_PREFIX "GenerationChanged",
					 "The change map of %s is of generation %s, not %s: a full backup is needed.",
					 d->path, uuid_format(sd->generation, frozen), gen_s);
	if (snap > sd->snap_number)
		return bus_error_invalid(error,
					 "Snap number %u is newer than the one snapshot %s froze for %s (%u).",
					 snap, s->object_path, d->path, sd->snap_number);
	r = extents_memfd(s->c, s, d, snap, &fd, error);
	if (r < 0)
		return r;
	return sd_bus_reply_method_return(m, "h", fd);
}

/* ---- properties -------------------------------------------------------------------- */

#define SNAPSHOT_GETTER(name, sig, expr) PROPERTY_GETTER(Snapshot, s, name, sig, expr)

SNAPSHOT_GETTER(state, "s", snapshot_state_name(s->state))
SNAPSHOT_GETTER(chunk_size, "t", (uint64_t)s->chunk_size)
SNAPSHOT_GETTER(total, "t", s->total << SECTOR_SHIFT)
SNAPSHOT_GETTER(error, "s", s->error ? strerror((int)s->error) : "")
SNAPSHOT_GETTER(bound, "b", (int)!!s->bound_to)
SNAPSHOT_GETTER(id, "s", uuid_format(s->id, (char[UUID_STR_LEN]){}))

static int used_reply(struct nlmsghdr *h _unused_, struct nlattr **tb, void *userdata)
{
	return nl_get_u64(tb[BLKSNAP_A_STORAGE_USED], userdata);
}

/* Storage in use changes with every copy: read it from the kernel. */
static int property_get_used(sd_bus *bus _unused_, const char *path _unused_,
			     const char *iface _unused_, const char *prop _unused_,
			     sd_bus_message *reply, void *userdata, sd_bus_error *error _unused_)
{
	Snapshot *s = userdata;
	struct nl_msg *req = snapshot_request(s, BLKSNAP_CMD_SNAPSHOT_GET);
	uint64_t used = s->used;

	if (req && nl_transact(s->c->nl, req, used_reply, &used, NULL) >= 0)
		s->used = used;
	return sd_bus_message_append(reply, "t", s->used << SECTOR_SHIFT);
}

static int property_get_devices(sd_bus *bus _unused_, const char *path _unused_,
				const char *iface _unused_, const char *prop _unused_,
				sd_bus_message *reply, void *userdata, sd_bus_error *error _unused_)
{
	Snapshot *s = userdata;
	int r;

	r = sd_bus_message_open_container(reply, 'a', "o");
	for (size_t i = 0; r >= 0 && i < s->n_devices; i++) {
		Device *d = device_find(s->c, s->devices[i].major, s->devices[i].minor);

		if (d)
			r = sd_bus_message_append(reply, "o", d->object_path);
	}
	if (r < 0)
		return r;
	return sd_bus_message_close_container(reply);
}

static int property_get_error_device(sd_bus *bus _unused_, const char *path _unused_,
				     const char *iface _unused_, const char *prop _unused_,
				     sd_bus_message *reply, void *userdata,
				     sd_bus_error *error _unused_)
{
	Snapshot *s = userdata;
	Device *d = NULL;

	if (s->has_error_device)
		d = device_find(s->c, s->error_major, s->error_minor);
	for (size_t i = 0; !d && s->error && i < s->n_devices; i++)
		if (s->devices[i].error)
			d = device_find(s->c, s->devices[i].major, s->devices[i].minor);
	return sd_bus_message_append(reply, "o", d ? d->object_path : "/");
}

const sd_bus_vtable snapshot_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_PROPERTY("Id", "s", property_get_id, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("State", "s", property_get_state, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
	SD_BUS_PROPERTY("Devices", "ao", property_get_devices, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("ChunkSize", "t", property_get_chunk_size, 0,
			SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("StorageTotal", "t", property_get_total, 0,
			SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
	SD_BUS_PROPERTY("StorageUsed", "t", property_get_used, 0,
			SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
	SD_BUS_PROPERTY("Error", "s", property_get_error, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
	SD_BUS_PROPERTY("ErrorDevice", "o", property_get_error_device, 0,
			SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
	SD_BUS_PROPERTY("BoundToCaller", "b", property_get_bound, 0,
			SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_METHOD_WITH_ARGS("AddStorageRanges",
				SD_BUS_ARGS("s", device, "a(tt)", ranges, "a{sv}", options),
				SD_BUS_NO_RESULT, method_add_storage_ranges,
				SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("AddStorageFile",
				SD_BUS_ARGS("h", fd, "t", limit, "a{sv}", options),
				SD_BUS_NO_RESULT, method_add_storage_file,
				SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("Take", SD_BUS_ARGS("a{sv}", options), SD_BUS_NO_RESULT,
				method_take, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("GetImages", SD_BUS_ARGS("a{sv}", options),
				SD_BUS_RESULT("a(osst)", images), method_get_images,
				SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("OpenImage", SD_BUS_ARGS("o", device, "a{sv}", options),
				SD_BUS_RESULT("h", fd), method_open_image,
				SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("GetChangedExtents",
				SD_BUS_ARGS("o", device, "s", generation_id, "y", snap_number,
					    "a{sv}", options),
				SD_BUS_RESULT("h", extents), method_get_changed_extents,
				SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("Destroy", SD_BUS_ARGS("a{sv}", options), SD_BUS_NO_RESULT,
				method_destroy, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_SIGNAL_WITH_ARGS("LowFreeSpace", SD_BUS_ARGS("t", wanted), 0),
	SD_BUS_SIGNAL_WITH_ARGS("StorageGrown", SD_BUS_ARGS("t", added, "t", total), 0),
	/* Not SD_BUS_ARGS: "errno" is a macro, and the name must stay "errno". */
	SD_BUS_SIGNAL_WITH_NAMES("Corrupted", "osi",
				 SD_BUS_PARAM(device) SD_BUS_PARAM(reason) "errno\0", 0),
	SD_BUS_VTABLE_END
};

static int snapshot_object_find(sd_bus *bus _unused_, const char *path,
				const char *iface _unused_, void *userdata, void **found,
				sd_bus_error *error _unused_)
{
	*found = snapshot_find_by_path(userdata, path);
	return *found ? 1 : 0;
}

static int snapshot_node_enumerator(sd_bus *bus _unused_, const char *path _unused_,
				    void *userdata, char ***nodes, sd_bus_error *error _unused_)
{
	Context *c = userdata;

	return LIST_OBJECT_PATHS(c->snapshots, nodes);
}

int snapshot_register(Context *c)
{
	int r;

	r = sd_bus_add_fallback_vtable(c->bus, NULL, SNAPSHOT_PREFIX, SNAPSHOT_IFACE,
				       snapshot_vtable, snapshot_object_find, c);
	if (r < 0)
		return log_error_errno(r, "Cannot add the snapshot objects: %m");
	r = sd_bus_add_node_enumerator(c->bus, NULL, SNAPSHOT_PREFIX, snapshot_node_enumerator, c);
	if (r < 0)
		return log_error_errno(r, "Cannot add the snapshot enumerator: %m");
	return 0;
}
