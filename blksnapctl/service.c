// SPDX-License-Identifier: GPL-2.0
/*
 * The subcommands that talk to blksnapd, one per D-Bus operation: status,
 * track, untrack, snapshot create|storage|take|destroy|list, changes,
 * monitor.  Plain tables for people, --json for scripts.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>

#include "bus.h"
#include "chain.h"
#include "cli.h"
#include "extents.h"

/* ---- small helpers -------------------------------------------------------- */

static json_object *jget(json_object *o, const char *key)
{
	json_object *v = NULL;

	return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static const char *jstr(json_object *o, const char *key)
{
	json_object *v = jget(o, key);

	return v ? json_object_get_string(v) : "";
}

static uint64_t ju64(json_object *o, const char *key)
{
	json_object *v = jget(o, key);

	return v ? json_object_get_uint64(v) : 0;
}

static void print_json(json_object *j)
{
	puts(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* "/org/blksnap/Blksnap1/device/254_16" -> "254:16" in buf */
static const char *devnum_of_path(const char *path, char *buf, size_t len)
{
	const char *p = strrchr(path, '/');

	snprintf(buf, len, "%s", p ? p + 1 : path);
	for (char *q = buf; *q; q++)
		if (*q == '_')
			*q = ':';
	return buf;
}

/* The options argument: an empty a{sv}. */
static int append_no_options(sd_bus_message *m)
{
	return sd_bus_message_append(m, "a{sv}", 0);
}

/* The service's objects split by interface: {"manager": {...}, "devices":
 * [{"object": path, props...}], "snapshots": [...]} */
static int service_state(sd_bus *bus, json_object **ret)
{
	_cleanup_json_ json_object *objs = NULL, *out = NULL;
	json_object *devs, *snaps;
	int r;

	r = bus_managed_objects(bus, &objs);
	if (r < 0)
		return r;
	out = json_object_new_object();
	devs = json_object_new_array();
	snaps = json_object_new_array();
	if (!out || !devs || !snaps) {
		json_object_put(devs);
		json_object_put(snaps);
		return -ENOMEM;
	}
	/* The ObjectManager lists the objects below it, not its own: ask. */
	{
		static const char *const props[] = { "Version", "ModuleVersion" };
		json_object *m = json_object_new_object();

		if (!m)
			return -ENOMEM;
		json_object_object_add(out, "manager", m);
		for (size_t i = 0; i < ELEMENTSOF(props); i++) {
			_cleanup_bus_error_ sd_bus_error e = SD_BUS_ERROR_NULL;
			_cleanup_(freep) char *v = NULL;

			r = sd_bus_get_property_string(bus, BUS_NAME, ROOT_PATH, IFACE_MANAGER, props[i], &e, &v);
			if (r < 0) {
				json_object_put(devs);
				json_object_put(snaps);
				return bus_log_error(&e, r, "cannot read the service's version");
			}
			json_object_object_add(m, props[i], json_object_new_string(v));
		}
	}
	json_object_object_add(out, "devices", devs);
	json_object_object_add(out, "snapshots", snaps);
	json_object_object_foreach(objs, path, ifaces) {
		json_object *p;

		if ((p = jget(ifaces, IFACE_MANAGER)))
			json_object_object_add(out, "manager", json_object_get(p));
		if ((p = jget(ifaces, IFACE_DEVICE))) {
			json_object_object_add(p, "Object", json_object_new_string(path));
			json_object_array_add(devs, json_object_get(p));
		}
		if ((p = jget(ifaces, IFACE_SNAPSHOT))) {
			json_object_object_add(p, "Object", json_object_new_string(path));
			json_object_array_add(snaps, json_object_get(p));
		}
	}
	*ret = TAKE_PTR(out);
	return 0;
}

/* The Id of the snapshot object path among snaps, or "-". */
static const char *snapshot_id(json_object *snaps, const char *path)
{
	if (!strcmp(path, "/"))
		return "-";
	for (size_t i = 0; i < json_object_array_length(snaps); i++) {
		json_object *s = json_object_array_get_idx(snaps, i);

		if (!strcmp(jstr(s, "Object"), path))
			return jstr(s, "Id");
	}
	return path;
}

static void print_snapshots(json_object *state)
{
	json_object *snaps = jget(state, "snapshots"), *devs = jget(state, "devices");
	char s1[16], s2[16], s3[16], num[32];

	if (!json_object_array_length(snaps)) {
		puts("No snapshots.");
		return;
	}
	printf("%-36s  %-9s  %-8s  %-21s  %s\n", "SNAPSHOT", "STATE", "CHUNK", "STORAGE USED/TOTAL", "DEVICES");
	for (size_t i = 0; i < json_object_array_length(snaps); i++) {
		json_object *s = json_object_array_get_idx(snaps, i), *d = jget(s, "Devices");
		char storage[48];

		snprintf(storage, sizeof(storage), "%s/%s",
			 format_bytes(ju64(s, "StorageUsed"), s2, sizeof(s2)),
			 format_bytes(ju64(s, "StorageTotal"), s3, sizeof(s3)));
		printf("%-36s  %-9s  %-8s  %-21s ", jstr(s, "Id"), jstr(s, "State"),
		       format_bytes(ju64(s, "ChunkSize"), s1, sizeof(s1)), storage);
		for (size_t k = 0; k < json_object_array_length(d); k++) {
			const char *o = json_object_get_string(json_object_array_get_idx(d, k));
			const char *name = devnum_of_path(o, num, sizeof(num));

			for (size_t n = 0; n < json_object_array_length(devs); n++)
				if (!strcmp(jstr(json_object_array_get_idx(devs, n), "Object"), o))
					name = jstr(json_object_array_get_idx(devs, n), "Path");
			printf(" %s", name);
		}
		if (json_object_get_boolean(jget(s, "BoundToCaller")))
			printf("  (bound to its creator)");
		if (jstr(s, "Error")[0])
			printf("  error: %s", jstr(s, "Error"));
		putchar('\n');
	}
}

/* ---- status ------------------------------------------------------------------- */

static int parse_json_only(int argc, char **argv, const char *cmd, bool *json)
{
	enum { O_JSON = 0x100 };
	static const struct option opts[] = {
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	int c, r;

	optind = 1;
	while ((r = next_opt(argc, argv, cmd, opts, &c)) > 0) {
		if (c == O_JSON)
			*json = true;
	}
	if (r < 0)
		return r;
	if (optind != argc)
		return usage_error("%s: unexpected argument '%s'", cmd, argv[optind]);
	return 0;
}

int cmd_status(int argc, char **argv)
{
	_cleanup_bus_ sd_bus *bus = NULL;
	_cleanup_json_ json_object *state = NULL;
	json_object *devs, *m;
	bool json = false;
	char s1[16], s2[16], num[32];
	int r;

	r = parse_json_only(argc, argv, "status", &json);
	if (r < 0)
		return r;
	r = bus_connect(&bus);
	if (r < 0)
		return r;
	r = service_state(bus, &state);
	if (r < 0)
		return r;
	if (json) {
		print_json(state);
		return 0;
	}
	m = jget(state, "manager");
	printf("blksnapd %s, kernel module %s\n\n", jstr(m, "Version"), jstr(m, "ModuleVersion"));
	devs = jget(state, "devices");
	if (!json_object_array_length(devs))
		puts("No tracked devices.");
	else
		printf("%-16s  %-8s  %-10s  %-8s  %-36s  %4s  %s\n", "DEVICE", "NUMBER", "SIZE", "BLOCK",
		       "GENERATION", "SNAP", "SNAPSHOT");
	for (size_t i = 0; i < json_object_array_length(devs); i++) {
		json_object *d = json_object_array_get_idx(devs, i);

		printf("%-16s  %-8s  %-10s  %-8s  %-36s  %4" PRIu64 "  %s\n", jstr(d, "Path"),
		       devnum_of_path(jstr(d, "Object"), num, sizeof(num)),
		       format_bytes(ju64(d, "Size"), s1, sizeof(s1)),
		       format_bytes(ju64(d, "BlockSize"), s2, sizeof(s2)), jstr(d, "GenerationId"),
		       ju64(d, "SnapNumber"), snapshot_id(jget(state, "snapshots"), jstr(d, "Snapshot")));
	}
	putchar('\n');
	print_snapshots(state);
	return 0;
}

/* ---- track, untrack -------------------------------------------------------------- */

int cmd_track(int argc, char **argv)
{
	enum { O_BLOCK = 0x100 };
	static const struct option opts[] = {
		{ "block-size", required_argument, NULL, O_BLOCK },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	_cleanup_bus_ sd_bus *bus = NULL;
	_cleanup_bus_message_ sd_bus_message *m = NULL, *reply = NULL;
	uint64_t block = 0;
	bool have_block = false;
	const char *obj;
	char what[PATH_MAX + 32];
	int c, r;

	optind = 1;
	while ((r = next_opt(argc, argv, "track", opts, &c)) > 0) {
		if (parse_u64(optarg, &block) < 0)
			return usage_error("track: --block-size '%s' is not a number of bytes", optarg);
		have_block = true;
	}
	if (r < 0)
		return r;
	if (argc - optind != 1)
		return usage_error("track: give one DEVICE");
	r = bus_connect(&bus);
	if (r < 0)
		return r;
	r = bus_new_call(bus, ROOT_PATH, IFACE_MANAGER, "TrackDevice", &m);
	if (r < 0)
		return r;
	if (have_block)
		r = sd_bus_message_append(m, "sa{sv}", argv[optind], 1, "block-size", "t", block);
	else
		r = sd_bus_message_append(m, "sa{sv}", argv[optind], 0);
	if (r < 0)
		return log_error_errno(r, "cannot build TrackDevice: %m");
	snprintf(what, sizeof(what), "cannot track %s", argv[optind]);
	r = bus_call(bus, m, what, NULL, &reply);
	if (r < 0)
		return r;
	r = sd_bus_message_read(reply, "o", &obj);
	if (r < 0)
		return log_error_errno(r, "cannot read TrackDevice's reply: %m");
	printf("%s is tracked: %s\n", argv[optind], obj);
	return 0;
}

/* Call METHOD (options only) of the device object of argv[1]. */
static int device_method(int argc, char **argv, const char *cmd, const char *method, const char *done)
{
	_cleanup_bus_ sd_bus *bus = NULL;
	_cleanup_bus_message_ sd_bus_message *m = NULL;
	_cleanup_(freep) char *path = NULL;
	char what[PATH_MAX + 32];
	int r;

	if (argc != 2 || argv[1][0] == '-')
		return usage_error("%s: give one DEVICE", cmd);
	r = bus_device_path(argv[1], &path);
	if (r < 0)
		return r;
	r = bus_connect(&bus);
	if (r < 0)
		return r;
	r = bus_new_call(bus, path, IFACE_DEVICE, method, &m);
	if (r < 0)
		return r;
	r = append_no_options(m);
	if (r < 0)
		return r;
	snprintf(what, sizeof(what), "cannot %s %s", cmd, argv[1]);
	r = bus_call(bus, m, what, NULL, NULL);
	if (r < 0)
		return r;
	printf("%s: %s\n", argv[1], done);
	return 0;
}

int cmd_untrack(int argc, char **argv)
{
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(help_text, stdout);
		return 0;
	}
	return device_method(argc, argv, "untrack", "Untrack", "no longer tracked, its change map dropped");
}

/* ---- snapshot ----------------------------------------------------------------------- */

static int snapshot_create(sd_bus *bus, int argc, char **argv)
{
	enum { O_CHUNK = 0x100, O_POOL };
	static const struct option opts[] = {
		{ "chunk-size", required_argument, NULL, O_CHUNK },
		{ "storage-pool", required_argument, NULL, O_POOL },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	_cleanup_(strv_freep) char **objects = NULL;
	_cleanup_(freep) char *obj = NULL;
	const char *pool = NULL;
	uint64_t chunk = 0;
	size_t n = 0;
	int c, r;

	optind = 1;
	while ((r = next_opt(argc, argv, "snapshot create", opts, &c)) > 0) {
		if (c == O_POOL)
			pool = optarg;
		else if (parse_u64(optarg, &chunk) < 0 || !chunk)
			return usage_error("snapshot create: --chunk-size '%s' is not a number of bytes", optarg);
	}
	if (r < 0)
		return r;
	if (optind >= argc)
		return usage_error("snapshot create: give one DEVICE or more");
	objects = calloc(argc - optind + 1, sizeof(*objects));	/* NULL-terminated */
	if (!objects)
		return -ENOMEM;
	for (int i = optind; i < argc; i++) {
		r = bus_device_path(argv[i], &objects[n++]);
		if (r < 0)
			return r;
	}
	r = bus_create_snapshot(bus, objects, n, chunk, pool, false, &obj);
	if (r < 0)
		return r;
	/* The id: what the other snapshot commands take. */
	{
		_cleanup_bus_error_ sd_bus_error e = SD_BUS_ERROR_NULL;
		_cleanup_(freep) char *id = NULL;

		r = sd_bus_get_property_string(bus, BUS_NAME, obj, IFACE_SNAPSHOT, "Id", &e, &id);
		if (r < 0)
			return bus_log_error(&e, r, "cannot read the new snapshot's Id");
		puts(id);
	}
	return 0;
}

/* snapshot storage ID (--file PATH --limit BYTES | --range DEV:OFFSET+LENGTH...) */
static int snapshot_storage(sd_bus *bus, int argc, char **argv)
{
	enum { O_FILE = 0x100, O_LIMIT, O_RANGE };
	static const struct option opts[] = {
		{ "file", required_argument, NULL, O_FILE },
		{ "limit", required_argument, NULL, O_LIMIT },
		{ "range", required_argument, NULL, O_RANGE },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	_cleanup_(freep) char *path = NULL;
	const char *file = NULL;
	char **ranges = NULL;
	_cleanup_(freep) char **ranges_mem = calloc(argc + 1, sizeof(char *));
	size_t n_ranges = 0;
	uint64_t limit = 0;
	bool have_limit = false;
	int c, r;

	if (!ranges_mem)
		return -ENOMEM;
	ranges = ranges_mem;
	optind = 1;
	while ((r = next_opt(argc, argv, "snapshot storage", opts, &c)) > 0) {
		switch (c) {
		case O_FILE: file = optarg; break;
		case O_RANGE: ranges[n_ranges++] = optarg; break;
		case O_LIMIT:
			if (parse_u64(optarg, &limit) < 0)
				return usage_error("snapshot storage: --limit '%s' is not a number of bytes", optarg);
			have_limit = true;
			break;
		}
	}
	if (r < 0)
		return r;
	if (argc - optind != 1)
		return usage_error("snapshot storage: give one snapshot ID");
	if (!!file == !!n_ranges)
		return usage_error("snapshot storage: give either --file PATH --limit BYTES or --range DEV:OFFSET+LENGTH...");
	if (file && !have_limit)
		return usage_error("snapshot storage: --file needs --limit BYTES");
	r = bus_snapshot_path(argv[optind], &path);
	if (r < 0)
		return r;

	if (file) {
		_cleanup_bus_message_ sd_bus_message *m = NULL;
		_cleanup_(closep) int fd = open(file, O_RDWR | O_CLOEXEC | O_CREAT, 0600);

		if (fd < 0)
			return log_error_errno(-errno, "cannot open %s: %m", file);
		r = bus_new_call(bus, path, IFACE_SNAPSHOT, "AddStorageFile", &m);
		if (r >= 0)
			r = sd_bus_message_append(m, "hta{sv}", fd, limit, 0);
		if (r < 0)
			return log_error_errno(r, "cannot build AddStorageFile: %m");
		r = bus_call(bus, m, "cannot give the snapshot its storage file", NULL, NULL);
		if (r < 0)
			return r;
		printf("%s: storage %s, up to %" PRIu64 " bytes\n", argv[optind], file, limit);
		return 0;
	}
	/* One call per range: DEV:OFFSET+LENGTH */
	for (size_t i = 0; i < n_ranges; i++) {
		_cleanup_bus_message_ sd_bus_message *m = NULL;
		_cleanup_(freep) char *dev = strdup(ranges[i]);
		uint64_t off, len;
		char *colon, *plus;

		if (!dev)
			return -ENOMEM;
		colon = strrchr(dev, ':');
		plus = colon ? strchr(colon, '+') : NULL;
		if (!colon || !plus)
			return usage_error("snapshot storage: --range '%s' is not DEV:OFFSET+LENGTH", ranges[i]);
		*colon = *plus = '\0';
		if (parse_u64(colon + 1, &off) < 0 || parse_u64(plus + 1, &len) < 0 || !len)
			return usage_error("snapshot storage: --range '%s': OFFSET and LENGTH are numbers of bytes, LENGTH > 0",
					   ranges[i]);
		r = bus_new_call(bus, path, IFACE_SNAPSHOT, "AddStorageRanges", &m);
		if (r >= 0)
			r = sd_bus_message_append(m, "sa(tt)a{sv}", dev, 1, off, len, 0);
		if (r < 0)
			return log_error_errno(r, "cannot build AddStorageRanges: %m");
		r = bus_call(bus, m, "cannot give the snapshot storage", NULL, NULL);
		if (r < 0)
			return r;
		printf("%s: storage %s bytes %" PRIu64 "+%" PRIu64 "\n", argv[optind], dev, off, len);
	}
	return 0;
}

/* take, destroy: a method of the snapshot with only options */
static int snapshot_method(sd_bus *bus, int argc, char **argv, const char *method, const char *done)
{
	_cleanup_bus_message_ sd_bus_message *m = NULL;
	_cleanup_(freep) char *path = NULL;
	char what[128];
	int r;

	if (argc != 2 || argv[1][0] == '-')
		return usage_error("snapshot %s: give one snapshot ID", argv[0]);
	r = bus_snapshot_path(argv[1], &path);
	if (r < 0)
		return r;
	r = bus_new_call(bus, path, IFACE_SNAPSHOT, method, &m);
	if (r >= 0)
		r = append_no_options(m);
	if (r < 0)
		return r;
	snprintf(what, sizeof(what), "cannot %s the snapshot %s", argv[0], argv[1]);
	r = bus_call(bus, m, what, NULL, NULL);
	if (r < 0)
		return r;
	printf("%s: %s\n", argv[1], done);
	return 0;
}

/* GetImages of the snapshot object as JSON [[device, image, generation, snap]...] */
static int snapshot_images(sd_bus *bus, const char *path, json_object **ret)
{
	_cleanup_bus_message_ sd_bus_message *m = NULL, *reply = NULL;
	int r;

	r = bus_new_call(bus, path, IFACE_SNAPSHOT, "GetImages", &m);
	if (r >= 0)
		r = append_no_options(m);
	if (r < 0)
		return r;
	r = bus_call(bus, m, "cannot get the snapshot's images", NULL, &reply);
	if (r < 0)
		return r;
	r = bus_read_json(reply, ret);
	return r < 0 ? log_error_errno(r, "cannot read GetImages' reply: %m") : 0;
}

static int snapshot_list(sd_bus *bus, int argc, char **argv)
{
	_cleanup_json_ json_object *state = NULL;
	json_object *snaps;
	bool json = false;
	int r;

	r = parse_json_only(argc, argv, "snapshot list", &json);
	if (r < 0)
		return r;
	r = service_state(bus, &state);
	if (r < 0)
		return r;
	snaps = jget(state, "snapshots");
	/* the images of the taken ones */
	for (size_t i = 0; i < json_object_array_length(snaps); i++) {
		json_object *s = json_object_array_get_idx(snaps, i), *images = NULL;

		if (strcmp(jstr(s, "State"), "taken"))
			continue;
		r = snapshot_images(bus, jstr(s, "Object"), &images);
		if (r < 0)
			return r;
		json_object_object_add(s, "Images", images);
	}
	if (json) {
		print_json(snaps);
		return 0;
	}
	print_snapshots(state);
	for (size_t i = 0; i < json_object_array_length(snaps); i++) {
		json_object *s = json_object_array_get_idx(snaps, i), *images = jget(s, "Images");

		for (size_t k = 0; k < json_object_array_length(images); k++) {
			json_object *im = json_object_array_get_idx(images, k);
			char num[32];

			printf("  %s: %s image %s (generation %s, snap %" PRIu64 ")\n", jstr(s, "Id"),
			       devnum_of_path(json_object_get_string(json_object_array_get_idx(im, 0)), num, sizeof(num)),
			       json_object_get_string(json_object_array_get_idx(im, 1)),
			       json_object_get_string(json_object_array_get_idx(im, 2)),
			       json_object_get_uint64(json_object_array_get_idx(im, 3)));
		}
	}
	return 0;
}

int cmd_snapshot(int argc, char **argv)
{
	_cleanup_bus_ sd_bus *bus = NULL;
	const char *sub = argc > 1 ? argv[1] : NULL;
	int r;

	if (!sub)
		return usage_error("snapshot: give create, storage, take, destroy or list");
	if (!strcmp(sub, "--help") || !strcmp(sub, "-h")) {
		fputs(help_text, stdout);
		return 0;
	}
	if (strcmp(sub, "create") && strcmp(sub, "storage") && strcmp(sub, "take") &&
	    strcmp(sub, "destroy") && strcmp(sub, "list"))
		return usage_error("snapshot: unknown subcommand '%s' (create, storage, take, destroy, list)", sub);
	r = bus_connect(&bus);
	if (r < 0)
		return r;
	if (!strcmp(sub, "create"))
		return snapshot_create(bus, argc - 1, argv + 1);
	if (!strcmp(sub, "storage"))
		return snapshot_storage(bus, argc - 1, argv + 1);
	if (!strcmp(sub, "take"))
		return snapshot_method(bus, argc - 1, argv + 1, "Take", "taken");
	if (!strcmp(sub, "destroy"))
		return snapshot_method(bus, argc - 1, argv + 1, "Destroy", "destroyed");
	return snapshot_list(bus, argc - 1, argv + 1);
}

/* ---- changes -------------------------------------------------------------------------- */

int cmd_changes(int argc, char **argv)
{
	enum { O_SINCE = 0x100, O_JSON };
	static const struct option opts[] = {
		{ "since", required_argument, NULL, O_SINCE },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	_cleanup_bus_ sd_bus *bus = NULL;
	_cleanup_bus_message_ sd_bus_message *m = NULL, *reply = NULL;
	_cleanup_bus_error_ sd_bus_error e = SD_BUS_ERROR_NULL;
	_cleanup_(extent_list_done) struct extent_list l = {};
	_cleanup_(freep) char *dev = NULL, *snap = NULL;
	char gen[UUID_TEXT_LEN + 1] = "";
	const char *since = NULL;
	uint64_t number = 0, size = 0;
	bool json = false;
	int c, r, fd;

	optind = 1;
	while ((r = next_opt(argc, argv, "changes", opts, &c)) > 0) {
		if (c == O_JSON)
			json = true;
		else
			since = optarg;
	}
	if (r < 0)
		return r;
	if (argc - optind != 1)
		return usage_error("changes: give one DEVICE");
	if (!since)
		return usage_error("changes: --since GENERATION:SNAP is missing");
	{
		const char *colon = strrchr(since, ':');

		if (!colon || (size_t)(colon - since) != UUID_TEXT_LEN ||
		    parse_u64(colon + 1, &number) < 0 || number > 255)
			return usage_error("changes: --since '%s' is not GENERATION:SNAP (a UUID and a number from 0 to 255)",
					   since);
		memcpy(gen, since, UUID_TEXT_LEN);
		if (!uuid_text_valid(gen))
			return usage_error("changes: '%s' is not a UUID in lower case", gen);
	}
	r = bus_device_path(argv[optind], &dev);
	if (r < 0)
		return r;
	r = bus_connect(&bus);
	if (r < 0)
		return r;
	{
		/* an object path: sd_bus_get_property_string() wants an "s" */
		_cleanup_bus_message_ sd_bus_message *prop = NULL;
		const char *p;

		r = sd_bus_get_property(bus, BUS_NAME, dev, IFACE_DEVICE, "Snapshot", &e, &prop, "o");
		if (r < 0)
			return bus_log_error(&e, r, "cannot find the device in the service (is it tracked?)");
		r = sd_bus_message_read(prop, "o", &p);
		if (r < 0)
			return log_error_errno(r, "cannot read the device's Snapshot property: %m");
		snap = strdup(p);
		if (!snap)
			return -ENOMEM;
	}
	if (!strcmp(snap, "/"))
		return log_error_errno(-ENOENT, "%s is in no snapshot: the changes are read from a taken snapshot's frozen map ('blksnapctl snapshot create/take')",
				       argv[optind]);
	r = sd_bus_get_property_trivial(bus, BUS_NAME, dev, IFACE_DEVICE, "Size", &e, 't', &size);
	if (r < 0)
		return bus_log_error(&e, r, "cannot read the device's size");
	r = bus_new_call(bus, snap, IFACE_SNAPSHOT, "GetChangedExtents", &m);
	if (r >= 0)
		r = sd_bus_message_append(m, "osya{sv}", dev, gen, (uint8_t)number, 0);
	if (r < 0)
		return log_error_errno(r, "cannot build GetChangedExtents: %m");
	r = bus_call(bus, m, "cannot get the changed extents", NULL, &reply);
	if (r < 0)
		return r;
	r = sd_bus_message_read(reply, "h", &fd);
	if (r < 0)
		return log_error_errno(r, "cannot read GetChangedExtents' reply: %m");
	r = extent_list_read_fd(fd, "the changed extents", size, &l);
	if (r < 0)
		return r;
	if (json) {
		_cleanup_json_ json_object *a = json_object_new_array();

		for (size_t i = 0; a && i < l.n; i++) {
			json_object *x = json_object_new_object();

			json_object_object_add(x, "offset", json_object_new_uint64(l.v[i].offset));
			json_object_object_add(x, "length", json_object_new_uint64(l.v[i].length));
			json_object_array_add(a, x);
		}
		if (!a)
			return -ENOMEM;
		print_json(a);
		return 0;
	}
	printf("%-14s  %-14s\n", "OFFSET", "LENGTH");
	for (size_t i = 0; i < l.n; i++)
		printf("%-14" PRIu64 "  %-14" PRIu64 "\n", l.v[i].offset, l.v[i].length);
	{
		char s[16];

		printf("%zu extents, %s\n", l.n, format_bytes(extent_list_bytes(&l), s, sizeof(s)));
	}
	return 0;
}

/* ---- monitor ------------------------------------------------------------------------------ */

static bool monitor_json;

static int on_signal(sd_bus_message *m, void *userdata _unused_, sd_bus_error *error _unused_)
{
	_cleanup_json_ json_object *args = NULL;
	int r;

	r = bus_read_all_json(m, &args);
	if (r < 0) {
		log_error_errno(r, "cannot read a signal: %m");
		return 0;
	}
	if (monitor_json) {
		_cleanup_json_ json_object *o = json_object_new_object();

		if (!o)
			return 0;
		json_object_object_add(o, "path", json_object_new_string(sd_bus_message_get_path(m)));
		json_object_object_add(o, "interface", json_object_new_string(sd_bus_message_get_interface(m)));
		json_object_object_add(o, "member", json_object_new_string(sd_bus_message_get_member(m)));
		json_object_object_add(o, "args", TAKE_PTR(args));
		puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	} else {
		printf("%s %s.%s %s\n", sd_bus_message_get_path(m), sd_bus_message_get_interface(m),
		       sd_bus_message_get_member(m),
		       json_object_to_json_string_ext(args, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	}
	fflush(stdout);
	return 0;
}

int cmd_monitor(int argc, char **argv)
{
	_cleanup_bus_ sd_bus *bus = NULL;
	_cleanup_bus_slot_ sd_bus_slot *slot = NULL;
	_cleanup_(freep) char *owner = NULL;
	bool json = false;
	int r;

	r = parse_json_only(argc, argv, "monitor", &json);
	if (r < 0)
		return r;
	monitor_json = json;
	r = bus_connect(&bus);
	if (r < 0)
		return r;
	/* Everything the service emits: its own signals, property and object changes. */
	r = sd_bus_match_signal(bus, &slot, BUS_NAME, NULL, NULL, NULL, on_signal, NULL);
	if (r < 0)
		return log_error_errno(r, "cannot subscribe to the service's signals: %m");
	{
		/* Is it there at all?  Say so now rather than wait silently. */
		_cleanup_bus_message_ sd_bus_message *m = NULL, *reply = NULL;

		r = sd_bus_message_new_method_call(bus, &m, "org.freedesktop.DBus", "/org/freedesktop/DBus",
						   "org.freedesktop.DBus", "GetNameOwner");
		if (r >= 0)
			r = sd_bus_message_append(m, "s", BUS_NAME);
		if (r < 0)
			return log_error_errno(r, "cannot build GetNameOwner: %m");
		r = bus_call(bus, m, "cannot monitor", NULL, &reply);
		if (r < 0)
			return r == -ENXIO ? -EHOSTUNREACH : r;
	}
	if (!json)
		fprintf(stderr, "blksnapctl: monitoring %s; Ctrl-C to stop\n", BUS_NAME);
	interrupt_install();
	while (!interrupted) {
		r = sd_bus_process(bus, NULL);
		if (r < 0) {
			interrupt_restore();
			log_error_errno(r, "the bus connection failed: %m");
			return -EHOSTUNREACH;
		}
		if (r > 0)
			continue;
		r = sd_bus_wait(bus, UINT64_MAX);
		if (r < 0 && r != -EINTR) {
			interrupt_restore();
			return log_error_errno(r, "cannot wait for signals: %m");
		}
	}
	interrupt_restore();
	return 0;	/* stopping the monitor is its normal end */
}
