/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The D-Bus side of blksnapctl: the connection to blksnapd on the system
 * bus, its object paths, its errors turned into exit codes with a sentence,
 * and message contents turned into JSON (for tables, --json and monitor).
 */
#ifndef BLKSNAPCTL_BUS_H
#define BLKSNAPCTL_BUS_H

#include <json-c/json.h>
#include <systemd/sd-bus.h>

#include "util.h"

#define BUS_NAME	"org.blksnap.Blksnap1"
#define ROOT_PATH	"/org/blksnap/Blksnap1"
#define IFACE_MANAGER	"org.blksnap.Blksnap1.Manager"
#define IFACE_DEVICE	"org.blksnap.Blksnap1.Device"
#define IFACE_SNAPSHOT	"org.blksnap.Blksnap1.Snapshot"
#define ERROR_GENERATION_CHANGED "org.blksnap.Blksnap1.Error.GenerationChanged"

/* Returned (and already reported) when polkit refused: exit status 4. */
#define R_DENIED	(-4098)

static inline void sd_bus_flush_close_unrefp_(sd_bus **b)
{
	if (*b)
		sd_bus_flush_close_unref(*b);
}
static inline void sd_bus_message_unrefp_(sd_bus_message **m)
{
	sd_bus_message_unref(*m);
}
static inline void sd_bus_slot_unrefp_(sd_bus_slot **s)
{
	sd_bus_slot_unref(*s);
}
static inline void json_object_putp(json_object **j)
{
	json_object_put(*j);
}
#define _cleanup_bus_		_cleanup_(sd_bus_flush_close_unrefp_)
#define _cleanup_bus_message_	_cleanup_(sd_bus_message_unrefp_)
#define _cleanup_bus_slot_	_cleanup_(sd_bus_slot_unrefp_)
#define _cleanup_bus_error_	_cleanup_(sd_bus_error_free)
#define _cleanup_json_		_cleanup_(json_object_putp)

/*
 * Connect to the system bus ($DBUS_SYSTEM_BUS_ADDRESS honoured); method
 * calls may ask for interactive authorization when stdin is a terminal.
 * Return: 0, or -EHOSTUNREACH (said why).
 */
int bus_connect(sd_bus **ret);

/*
 * Report a failed call of WHAT and map it to what main() turns into an exit
 * status: AccessDenied -> R_DENIED (with polkit's sentence), the service
 * or bus unreachable -> -EHOSTUNREACH, anything else -> r (or -EIO).
 */
int bus_log_error(const sd_bus_error *e, int r, const char *what);

/*
 * Call METHOD of IFACE on PATH with the message's arguments appended by the
 * caller (m from bus_new_call); the reply in *ret_reply when given.
 * Errors reported as bus_log_error does, naming WHAT.
 */
int bus_new_call(sd_bus *bus, const char *path, const char *iface, const char *method,
		 sd_bus_message **ret);
int bus_call(sd_bus *bus, sd_bus_message *m, const char *what, sd_bus_error *ret_error,
	     sd_bus_message **ret_reply);

/* The device object of DEVICE ("/dev/..." or "MAJ:MIN"); free()d by the caller. */
int bus_device_path(const char *device, char **ret);
/* The snapshot object of ID (its Id, its hex, or its object path). */
int bus_snapshot_path(const char *id, char **ret);

/*
 * CreateSnapshot of the N device objects, with chunk-size CHUNK (0: the
 * service's default), storage-pool POOL (NULL: none) and bind-to-caller
 * when BIND; *ret the new snapshot's object path (free()d by the caller),
 * untouched on failure.  Errors reported as bus_call does.
 */
int bus_create_snapshot(sd_bus *bus, char *const *objects, size_t n, uint64_t chunk,
			const char *pool, bool bind, char **ret);

/* The value the message points at (any type) as JSON; NULL for no value. */
int bus_read_json(sd_bus_message *m, json_object **ret);
/* All remaining values of the message, as a JSON array. */
int bus_read_all_json(sd_bus_message *m, json_object **ret);

/*
 * GetManagedObjects of blksnapd as {"<path>": {"<iface>": {"<prop>": value}}}.
 */
int bus_managed_objects(sd_bus *bus, json_object **ret);

#endif /* BLKSNAPCTL_BUS_H */
