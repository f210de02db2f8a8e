// SPDX-License-Identifier: GPL-2.0
/*
 * backup DEVICE... --to DIR through blksnapd: one snapshot of all the
 * devices together (bound to this process, so the service destroys it if we
 * die), its images copied by the backup engine one after the other, the
 * snapshot destroyed at the end whatever happened.  The next image of every
 * chain is created and served before the take: from the take on, every
 * first write to the devices waits for a copy, so the snapshot lives
 * through the copies only, not through process start-ups.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <libgen.h>
#include <string.h>

#include "backup.h"
#include "bus.h"
#include "cli.h"

struct live_device {
	const char *arg;		/* as given */
	char *object;			/* its device object */
	char *name;			/* DIR/<name> */
	uint64_t size;
	char generation_id[UUID_TEXT_LEN + 1];	/* frozen with the image */
	uint32_t snap_number;
	bool imaged;			/* GetImages named it */
	struct backup_target target;
	struct backup_image image;	/* the next one, started before the take */
	int image_error;		/* starting it failed (said why): no backup */
};

struct live {
	sd_bus *bus;
	struct live_device *devs;
	int n;
	char *snapshot;			/* its object once created */
};

static void live_done(struct live *l)
{
	for (int i = 0; l->devs && i < l->n; i++) {
		backup_image_discard(&l->devs[i].target, &l->devs[i].image);
		backup_target_done(&l->devs[i].target);
		free(l->devs[i].object);
		free(l->devs[i].name);
	}
	free(l->devs);
	free(l->snapshot);
	if (l->bus)
		sd_bus_flush_close_unref(l->bus);
}

static bool is_unknown_object(const sd_bus_error *e)
{
	return sd_bus_error_has_name(e, SD_BUS_ERROR_UNKNOWN_OBJECT) ||
	       sd_bus_error_has_name(e, SD_BUS_ERROR_UNKNOWN_INTERFACE) ||
	       sd_bus_error_has_name(e, SD_BUS_ERROR_UNKNOWN_METHOD) ||
	       sd_bus_error_has_name(e, SD_BUS_ERROR_UNKNOWN_PROPERTY);
}

/*
 * The device object of d->arg, tracking the device first if the service
 * does not track it yet (its first backup is then full anyway); its name
 * and size.
 */
static int live_device_find(struct live *l, struct live_device *d)
{
	_cleanup_bus_error_ sd_bus_error e = SD_BUS_ERROR_NULL;
	_cleanup_(freep) char *path = NULL;
	char what[PATH_MAX + 64];
	int r;

	r = bus_device_path(d->arg, &d->object);
	if (r < 0)
		return r;
	r = sd_bus_get_property_string(l->bus, BUS_NAME, d->object, IFACE_DEVICE, "Path", &e, &path);
	if (r < 0 && is_unknown_object(&e)) {
		_cleanup_bus_message_ sd_bus_message *m = NULL;

		sd_bus_error_free(&e);
		r = bus_new_call(l->bus, ROOT_PATH, IFACE_MANAGER, "TrackDevice", &m);
		if (r >= 0)
			r = sd_bus_message_append(m, "sa{sv}", d->arg, 0);
		if (r < 0)
			return r;
		snprintf(what, sizeof(what), "cannot track %s", d->arg);
		r = bus_call(l->bus, m, what, NULL, NULL);
		if (r < 0)
			return r;
		log_info("%s was not tracked: its changes are tracked from now on", d->arg);
		r = sd_bus_get_property_string(l->bus, BUS_NAME, d->object, IFACE_DEVICE, "Path", &e, &path);
	}
	if (r < 0) {
		snprintf(what, sizeof(what), "cannot read the service's device %s", d->arg);
		return bus_log_error(&e, r, what);
	}
	r = sd_bus_get_property_trivial(l->bus, BUS_NAME, d->object, IFACE_DEVICE, "Size", &e, 't', &d->size);
	if (r < 0) {
		snprintf(what, sizeof(what), "cannot read the size of %s", d->arg);
		return bus_log_error(&e, r, what);
	}
	d->name = strdup(basename(path));
	return d->name ? 0 : -ENOMEM;
}

/* CreateSnapshot of every device, bound to us, storage from the pool. */
static int live_create(struct live *l, const char *pool)
{
	_cleanup_(freep) char **objects = calloc(l->n, sizeof(*objects));

	if (!objects)
		return -ENOMEM;
	for (int i = 0; i < l->n; i++)
		objects[i] = l->devs[i].object;
	return bus_create_snapshot(l->bus, objects, l->n, 0, pool, true, &l->snapshot);
}

/*
 * Without a pool: a file of the module's own backend, an unnamed file in
 * DIR that the module grows itself up to the devices' total size.
 */
static int live_storage_file(struct live *l, const char *dir)
{
	_cleanup_bus_message_ sd_bus_message *m = NULL;
	_cleanup_(closep) int fd = -1;
	uint64_t limit = 0;
	int r;

	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		return log_error_errno(-errno, "cannot create the snapshot's storage file in %s (or give --storage-pool): %m", dir);
	for (int i = 0; i < l->n; i++)
		limit += l->devs[i].size + (8u << 20);
	r = bus_new_call(l->bus, l->snapshot, IFACE_SNAPSHOT, "AddStorageFile", &m);
	if (r >= 0)
		r = sd_bus_message_append(m, "hta{sv}", fd, limit, 0);
	if (r < 0)
		return log_error_errno(r, "cannot build AddStorageFile: %m");
	return bus_call(l->bus, m, "cannot give the snapshot its storage file", NULL, NULL);
}

static int live_simple_call(struct live *l, const char *method, const char *what)
{
	_cleanup_bus_message_ sd_bus_message *m = NULL;
	int r;

	r = bus_new_call(l->bus, l->snapshot, IFACE_SNAPSHOT, method, &m);
	if (r >= 0)
		r = sd_bus_message_append(m, "a{sv}", 0);
	if (r < 0)
		return r;
	return bus_call(l->bus, m, what, NULL, NULL);
}

/* GetImages: the generation id and snap number frozen with each image. */
static int live_images(struct live *l)
{
	_cleanup_bus_message_ sd_bus_message *m = NULL, *reply = NULL;
	const char *obj, *image, *gen;
	uint64_t snap;
	int r;

	r = bus_new_call(l->bus, l->snapshot, IFACE_SNAPSHOT, "GetImages", &m);
	if (r >= 0)
		r = sd_bus_message_append(m, "a{sv}", 0);
	if (r < 0)
		return r;
	r = bus_call(l->bus, m, "cannot get the snapshot's images", NULL, &reply);
	if (r < 0)
		return r;
	r = sd_bus_message_enter_container(reply, 'a', "(osst)");
	while (r >= 0 && (r = sd_bus_message_read(reply, "(osst)", &obj, &image, &gen, &snap)) > 0)
		for (int i = 0; i < l->n; i++) {
			struct live_device *d = &l->devs[i];

			if (strcmp(obj, d->object))
				continue;
			if (!uuid_text_valid(gen) || snap > UINT32_MAX)
				return log_error_errno(-EBADMSG, "the service gave %s generation '%s' snap %" PRIu64 ", not a UUID and a snap number",
						       d->arg, gen, snap);
			memcpy(d->generation_id, gen, sizeof(d->generation_id));
			d->snap_number = snap;
			d->imaged = true;
		}
	if (r < 0)
		return log_error_errno(r, "cannot read GetImages' reply: %m");
	for (int i = 0; i < l->n; i++)
		if (!l->devs[i].imaged)
			return log_error_errno(-EBADMSG, "the snapshot has no image of %s", l->devs[i].arg);
	return 0;
}

/*
 * The extents changed since the plan's backup; GenerationChanged turns the
 * plan into a full backup, saying why.
 */
static int live_changes(struct live *l, struct live_device *d, struct backup_plan *plan,
			struct extent_list *ret)
{
	_cleanup_bus_message_ sd_bus_message *m = NULL, *reply = NULL;
	_cleanup_bus_error_ sd_bus_error e = SD_BUS_ERROR_NULL;
	char what[PATH_MAX + 64];
	int fd, r;

	if (plan->since_snap_number > UINT8_MAX)
		return log_error_errno(-ERANGE, "%s: the last backup's snap number %" PRIu32 " is not one the service knows",
				       d->name, plan->since_snap_number);
	r = bus_new_call(l->bus, l->snapshot, IFACE_SNAPSHOT, "GetChangedExtents", &m);
	if (r >= 0)
		r = sd_bus_message_append(m, "osya{sv}", d->object, plan->since_generation_id,
					  (uint8_t)plan->since_snap_number, 0);
	if (r < 0)
		return log_error_errno(r, "cannot build GetChangedExtents: %m");
	snprintf(what, sizeof(what), "cannot get the changed extents of %s", d->arg);
	r = bus_call(l->bus, m, what, &e, &reply);
	if (r < 0 && sd_bus_error_has_name(&e, ERROR_GENERATION_CHANGED)) {
		plan->full = true;
		snprintf(plan->reason, sizeof(plan->reason),
			 "the service no longer has the change history since the last backup (%s)", e.message);
		return 0;
	}
	if (r < 0)
		return sd_bus_error_is_set(&e) ? bus_log_error(&e, r, what) : r;
	r = sd_bus_message_read(reply, "h", &fd);
	if (r < 0)
		return log_error_errno(r, "cannot read GetChangedExtents' reply: %m");
	return extent_list_read_fd(fd, what, d->size, ret);
}

/* OpenImage: a read-only fd of the device's image, ours to close. */
static int live_open_image(struct live *l, struct live_device *d, int *ret)
{
	_cleanup_bus_message_ sd_bus_message *m = NULL, *reply = NULL;
	char what[PATH_MAX + 64];
	int fd, r;

	r = bus_new_call(l->bus, l->snapshot, IFACE_SNAPSHOT, "OpenImage", &m);
	if (r >= 0)
		r = sd_bus_message_append(m, "oa{sv}", d->object, 0);
	if (r < 0)
		return log_error_errno(r, "cannot build OpenImage: %m");
	snprintf(what, sizeof(what), "cannot open the image of %s", d->arg);
	r = bus_call(l->bus, m, what, NULL, &reply);
	if (r < 0)
		return r;
	r = sd_bus_message_read(reply, "h", &fd);
	if (r < 0)
		return log_error_errno(r, "cannot read OpenImage's reply: %m");
	fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);	/* the message owns its fd */
	if (fd < 0)
		return log_error_errno(-errno, "cannot keep the image's fd: %m");
	*ret = fd;
	return 0;
}

/*
 * After a failed copy: when the snapshot is corrupted (its images then fail
 * every read with EIO), say so and why, which the read error alone does not.
 */
static void live_say_if_corrupted(struct live *l)
{
	_cleanup_bus_error_ sd_bus_error e = SD_BUS_ERROR_NULL;
	_cleanup_(freep) char *state = NULL, *error = NULL;

	if (sd_bus_get_property_string(l->bus, BUS_NAME, l->snapshot, IFACE_SNAPSHOT, "State", &e, &state) < 0 ||
	    strcmp(state, "corrupted") != 0)
		return;
	(void)sd_bus_get_property_string(l->bus, BUS_NAME, l->snapshot, IFACE_SNAPSHOT, "Error", &e, &error);
	log_error("the snapshot was corrupted during the backup (%s): its difference storage could not keep the "
		  "blocks overwritten meanwhile, so its images cannot be read; give it more room (--storage-pool)",
		  error && *error ? error : "no reason given");
}

static int live_backup_device(struct live *l, struct live_device *d, bool full)
{
	_cleanup_(extent_list_done) struct extent_list changed = {};
	_cleanup_(closep) int fd = -1;
	struct backup_source src = {
		.fd = -1, .what = d->arg, .size = d->size,
		.generation_id = d->generation_id, .snap_number = d->snap_number,
	};
	struct backup_plan plan;
	int r;

	r = backup_plan(&d->target, &src, full, &plan);
	if (r < 0)
		return r;
	if (!plan.full) {
		r = live_changes(l, d, &plan, &changed);
		if (r < 0)
			return r;
	}
	if (interrupted)
		return -EINTR;
	r = live_open_image(l, d, &fd);
	if (r < 0)
		return r;
	src.fd = fd;
	r = backup_run(&d->target, &src, &plan, plan.full ? NULL : &changed, &d->image);
	if (r < 0 && r != -EINTR)
		live_say_if_corrupted(l);
	return r;
}

/*
 * Start the next image of d's chain as the plan will most likely be after
 * the take: full or incremental by the device's generation now.  Should the
 * generation change before the take, backup_run() replaces the image.
 * Without the generation the image is simply started after the take.
 */
static int live_image_start(struct live *l, struct live_device *d, bool full)
{
	_cleanup_bus_error_ sd_bus_error e = SD_BUS_ERROR_NULL;
	_cleanup_(freep) char *gen = NULL;
	struct backup_source src = { .size = d->size, .snap_number = UINT32_MAX };
	struct backup_plan plan;

	if (sd_bus_get_property_string(l->bus, BUS_NAME, d->object, IFACE_DEVICE, "GenerationId", &e, &gen) < 0)
		return 0;
	src.generation_id = gen;
	if (backup_plan(&d->target, &src, full, &plan) < 0)
		return 0;
	return backup_image_start(&d->target, d->size, plan.full, &d->image);
}

/* Everything between CreateSnapshot and Destroy. */
static int live_in_snapshot(struct live *l, const char *dir, const char *pool, bool full)
{
	int r, err = 0;

	for (int i = 0; i < l->n; i++) {
		r = backup_target_open(dir, l->devs[i].name, &l->devs[i].target);
		if (r < 0)
			return r;
	}
	if (!pool) {
		r = live_storage_file(l, dir);
		if (r < 0)
			return r;
	}
	for (int i = 0; i < l->n && !interrupted; i++) {
		struct live_device *d = &l->devs[i];

		r = live_image_start(l, d, full);
		if (r == -EINTR || interrupted)
			return -EINTR;
		if (r < 0) {
			log_error("%s: the backup failed: the partial image was removed, the chain in %s is as it was",
				  d->name, d->target.path);
			d->image_error = r;	/* the other devices' backups go on */
		}
	}
	if (interrupted)
		return -EINTR;
	for (int i = 0; i < l->n && l->devs[i].image_error; i++)
		if (i == l->n - 1)
			return l->devs[0].image_error;	/* nothing to take it for */
	r = live_simple_call(l, "Take", "cannot take the snapshot");
	if (r < 0)
		return r;
	r = live_images(l);
	if (r < 0)
		return r;
	for (int i = 0; i < l->n && !interrupted; i++) {
		r = l->devs[i].image_error ?: live_backup_device(l, &l->devs[i], full);
		if (r == -EINTR || r == R_DENIED || r == -EHOSTUNREACH)
			return r;
		if (r < 0 && !err)
			err = r;	/* said why; the other devices' backups go on */
	}
	return interrupted ? -EINTR : err;
}

int backup_live(char **devices, int n, const char *dir, const char *pool, bool full)
{
	_cleanup_(live_done) struct live l = { .n = n };
	int r, rd;

	l.devs = calloc(n, sizeof(*l.devs));
	if (!l.devs)
		return -ENOMEM;
	for (int i = 0; i < n; i++)
		l.devs[i] = (struct live_device){ .arg = devices[i],
			.target = { .dirfd = -1, .lockfd = -1 } };
	r = bus_connect(&l.bus);
	if (r < 0)
		return r;
	interrupt_install();
	for (int i = 0; i < n && r >= 0; i++) {
		r = live_device_find(&l, &l.devs[i]);
		for (int k = 0; r >= 0 && k < i; k++)
			if (!strcmp(l.devs[k].object, l.devs[i].object) || !strcmp(l.devs[k].name, l.devs[i].name))
				r = usage_error("backup: %s and %s are the same device or have the same name %s",
						l.devs[k].arg, l.devs[i].arg, l.devs[i].name);
	}
	if (r >= 0 && interrupted)
		r = -EINTR;
	/* The snapshot before any file: a caller polkit refuses creates nothing. */
	if (r >= 0)
		r = live_create(&l, pool);
	if (r >= 0) {
		r = live_in_snapshot(&l, dir, pool, full);
		/* Whatever happened: the snapshot goes (bind-to-caller covers a crash). */
		rd = live_simple_call(&l, "Destroy", "cannot destroy the snapshot");
		if (rd < 0)
			log_error("the snapshot %s is left; bound to this process, the service destroys it when we exit",
				  l.snapshot);
		else if (r < 0)
			log_info("the snapshot was destroyed");
		if (r >= 0)
			r = rd;
	}
	if (r == -EINTR || interrupted) {
		log_error("interrupted: every chain in %s is as it was before this backup", dir);
		r = -EINTR;
	}
	interrupt_restore();
	return r;
}
