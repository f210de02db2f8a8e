// SPDX-License-Identifier: GPL-2.0
/*
 * blksnapctl's connection to blksnapd: connect, call, errors, JSON.
 */
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "bus.h"

int bus_connect(sd_bus **ret)
{
	sd_bus *bus = NULL;
	int r;

	r = sd_bus_open_system(&bus);
	if (r < 0) {
		log_error_errno(r, "cannot connect to the system bus: %m");
		return -EHOSTUNREACH;
	}
	/* polkit may ask for a password only when someone can type it. */
	sd_bus_set_allow_interactive_authorization(bus, isatty(STDIN_FILENO));
	*ret = bus;
	return 0;
}

int bus_log_error(const sd_bus_error *e, int r, const char *what)
{
	static const char *const unreachable[] = {
		SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER,
		SD_BUS_ERROR_NO_REPLY, SD_BUS_ERROR_DISCONNECTED, SD_BUS_ERROR_TIMEOUT,
	};

	if (sd_bus_error_has_name(e, SD_BUS_ERROR_ACCESS_DENIED)) {
		log_error("%s: not authorized by polkit: %s", what, e->message ? e->message : "access denied");
		log_error("an administrator can grant it, e.g. by adding you to the group blksnap-backup with the example rules (blksnapctl(1))");
		return R_DENIED;
	}
	for (size_t i = 0; i < ELEMENTSOF(unreachable); i++)
		if (sd_bus_error_has_name(e, unreachable[i])) {
			log_error("%s: the blksnapd service cannot be reached: %s", what,
				  e->message ? e->message : e->name);
			return -EHOSTUNREACH;
		}
	if (sd_bus_error_is_set(e)) {
		log_error("%s: %s", what, e->message ? e->message : e->name);
		return r < 0 ? r : -EIO;
	}
	if (r == -ECONNRESET || r == -ENOTCONN || r == -ECONNREFUSED) {
		log_error_errno(r, "%s: the bus connection failed: %m", what);
		return -EHOSTUNREACH;
	}
	return log_error_errno(r < 0 ? r : -EIO, "%s: %m", what);
}

int bus_new_call(sd_bus *bus, const char *path, const char *iface, const char *method,
		 sd_bus_message **ret)
{
	int r = sd_bus_message_new_method_call(bus, ret, BUS_NAME, path, iface, method);

	if (r < 0)
		return log_error_errno(r, "cannot build a call of %s: %m", method);
	return 0;
}

int bus_call(sd_bus *bus, sd_bus_message *m, const char *what, sd_bus_error *ret_error,
	     sd_bus_message **ret_reply)
{
	_cleanup_bus_error_ sd_bus_error e = SD_BUS_ERROR_NULL;
	_cleanup_bus_message_ sd_bus_message *reply = NULL;
	int r;

	/* Interactive authorization can take as long as a person types. */
	r = sd_bus_call(bus, m, 0, &e, &reply);
	if (r < 0) {
		if (ret_error && sd_bus_error_is_set(&e)) {
			/* the caller decides (GenerationChanged) */
			sd_bus_error_move(ret_error, &e);
			return r;
		}
		return bus_log_error(&e, r, what);
	}
	if (ret_reply)
		*ret_reply = TAKE_PTR(reply);
	return 0;
}

int bus_create_snapshot(sd_bus *bus, char *const *objects, size_t n, uint64_t chunk,
			const char *pool, bool bind, char **ret)
{
	_cleanup_bus_message_ sd_bus_message *m = NULL, *reply = NULL;
	const char *obj;
	char *path;
	int r;

	r = bus_new_call(bus, ROOT_PATH, IFACE_MANAGER, "CreateSnapshot", &m);
	if (r < 0)
		return r;
	r = sd_bus_message_open_container(m, 'a', "o");
	for (size_t i = 0; r >= 0 && i < n; i++)
		r = sd_bus_message_append(m, "o", objects[i]);
	if (r >= 0)
		r = sd_bus_message_close_container(m);
	if (r >= 0)
		r = sd_bus_message_open_container(m, 'a', "{sv}");
	if (r >= 0 && bind)
		r = sd_bus_message_append(m, "{sv}", "bind-to-caller", "b", 1);
	if (r >= 0 && chunk)
		r = sd_bus_message_append(m, "{sv}", "chunk-size", "t", chunk);
	if (r >= 0 && pool)
		r = sd_bus_message_append(m, "{sv}", "storage-pool", "s", pool);
	if (r >= 0)
		r = sd_bus_message_close_container(m);
	if (r < 0)
		return log_error_errno(r, "cannot build CreateSnapshot: %m");
	r = bus_call(bus, m, "cannot create the snapshot", NULL, &reply);
	if (r < 0)
		return r;
	r = sd_bus_message_read(reply, "o", &obj);
	if (r < 0)
		return log_error_errno(r, "cannot read CreateSnapshot's reply: %m");
	path = strdup(obj);
	if (!path)
		return -ENOMEM;
	*ret = path;
	return 0;
}

int bus_device_path(const char *device, char **ret)
{
	unsigned maj, min;
	char c;

	if (sscanf(device, "%u:%u%c", &maj, &min, &c) != 2) {
		struct stat st;

		if (stat(device, &st) < 0)
			return log_error_errno(-errno, "cannot find the device %s: %m", device);
		if (!S_ISBLK(st.st_mode))
			return log_error_errno(-ENOTBLK, "%s is not a block device", device);
		maj = major(st.st_rdev);
		min = minor(st.st_rdev);
	}
	if (asprintf(ret, ROOT_PATH "/device/%u_%u", maj, min) < 0)
		return -ENOMEM;
	return 0;
}

int bus_snapshot_path(const char *id, char **ret)
{
	char hex[33];
	size_t n = 0;

	if (id[0] == '/') {
		*ret = strdup(id);
		return *ret ? 0 : -ENOMEM;
	}
	for (const char *p = id; *p; p++) {
		if (*p == '-')
			continue;
		if (!strchr("0123456789abcdefABCDEF", *p) || n >= 32)
			goto bad;
		hex[n++] = *p >= 'A' && *p <= 'F' ? *p - 'A' + 'a' : *p;
	}
	if (n != 32)
		goto bad;
	hex[n] = '\0';
	if (asprintf(ret, ROOT_PATH "/snapshot/%s", hex) < 0)
		return -ENOMEM;
	return 0;
bad:
	log_error("'%s' is not a snapshot id (a UUID, as 'blksnapctl snapshot list' shows)", id);
	return -EINVAL;
}

static int read_basic(sd_bus_message *m, char type, json_object **ret)
{
	union {
		uint8_t y; int16_t n; uint16_t q; int32_t i; uint32_t u;
		int64_t x; uint64_t t; double d; int b; const char *s; int h;
	} v;
	int r = sd_bus_message_read_basic(m, type, &v);

	if (r < 0)
		return r;
	switch (type) {
	case 'y': *ret = json_object_new_int(v.y); break;
	case 'n': *ret = json_object_new_int(v.n); break;
	case 'q': *ret = json_object_new_int(v.q); break;
	case 'i': *ret = json_object_new_int(v.i); break;
	case 'h': *ret = json_object_new_int(v.h); break;
	case 'u': *ret = json_object_new_int64(v.u); break;
	case 'x': *ret = json_object_new_int64(v.x); break;
	case 't': *ret = json_object_new_uint64(v.t); break;
	case 'd': *ret = json_object_new_double(v.d); break;
	case 'b': *ret = json_object_new_boolean(v.b); break;
	default: *ret = json_object_new_string(v.s); break;	/* s o g */
	}
	return *ret ? 1 : -ENOMEM;
}

int bus_read_json(sd_bus_message *m, json_object **ret)
{
	_cleanup_json_ json_object *j = NULL;
	const char *contents;
	char type;
	int r;

	r = sd_bus_message_peek_type(m, &type, &contents);
	if (r <= 0) {
		*ret = NULL;
		return r;
	}
	if (type == SD_BUS_TYPE_VARIANT) {
		r = sd_bus_message_enter_container(m, type, contents);
		if (r < 0)
			return r;
		r = bus_read_json(m, &j);
		if (r < 0)
			return r;
		r = sd_bus_message_exit_container(m);
		if (r < 0)
			return r;
	} else if (type == SD_BUS_TYPE_ARRAY && contents[0] == '{') {
		r = sd_bus_message_enter_container(m, type, contents);
		if (r < 0)
			return r;
		j = json_object_new_object();
		if (!j)
			return -ENOMEM;
		for (;;) {
			_cleanup_json_ json_object *k = NULL, *v = NULL;
			const char *entry;

			/* At the array's end, entering with NULL contents is -ENXIO: peek. */
			r = sd_bus_message_peek_type(m, NULL, &entry);
			if (r < 0)
				return r;
			if (r == 0)
				break;
			r = sd_bus_message_enter_container(m, SD_BUS_TYPE_DICT_ENTRY, entry);
			if (r < 0)
				return r;
			r = bus_read_json(m, &k);
			if (r < 0)
				return r;
			r = bus_read_json(m, &v);
			if (r < 0)
				return r;
			json_object_object_add(j, json_object_get_string(k), TAKE_PTR(v));
			r = sd_bus_message_exit_container(m);
			if (r < 0)
				return r;
		}
		r = sd_bus_message_exit_container(m);
		if (r < 0)
			return r;
	} else if (type == SD_BUS_TYPE_ARRAY || type == SD_BUS_TYPE_STRUCT) {
		r = sd_bus_message_enter_container(m, type, contents);
		if (r < 0)
			return r;
		r = bus_read_all_json(m, &j);
		if (r < 0)
			return r;
		r = sd_bus_message_exit_container(m);
		if (r < 0)
			return r;
	} else {
		r = read_basic(m, type, &j);
		if (r < 0)
			return r;
	}
	*ret = TAKE_PTR(j);
	return 1;
}

int bus_read_all_json(sd_bus_message *m, json_object **ret)
{
	_cleanup_json_ json_object *a = json_object_new_array();
	int r;

	if (!a)
		return -ENOMEM;
	for (;;) {
		json_object *v = NULL;

		r = bus_read_json(m, &v);
		if (r < 0)
			return r;
		if (r == 0)
			break;
		json_object_array_add(a, v);
	}
	*ret = TAKE_PTR(a);
	return 0;
}

int bus_managed_objects(sd_bus *bus, json_object **ret)
{
	_cleanup_bus_message_ sd_bus_message *m = NULL, *reply = NULL;
	json_object *j = NULL;
	int r;

	r = sd_bus_message_new_method_call(bus, &m, BUS_NAME, ROOT_PATH,
					   "org.freedesktop.DBus.ObjectManager", "GetManagedObjects");
	if (r < 0)
		return r;
	r = bus_call(bus, m, "cannot list the service's objects", NULL, &reply);
	if (r < 0)
		return r;
	r = bus_read_json(reply, &j);
	if (r < 0)
		return log_error_errno(r, "cannot read the service's objects: %m");
	if (!j || !json_object_is_type(j, json_type_object)) {
		json_object_put(j);
		return log_error_errno(-EBADMSG, "the service's object list is not a dictionary");
	}
	*ret = j;
	return 0;
}
