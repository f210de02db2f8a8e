/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * blksnapd: the blksnap family on the system bus.  One Context holds the
 * bus, the netlink sockets and the objects mirrored from the kernel.
 */
#ifndef BLKSNAPD_H
#define BLKSNAPD_H

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>
#include <linux/blksnap.h>

#define ELEMENTSOF(a)	(sizeof(a) / sizeof((a)[0]))
#define _cleanup_(f)	__attribute__((cleanup(f)))
#define _printf_(a, b)	__attribute__((format(printf, a, b)))
#define _unused_	__attribute__((unused))

#define SECTOR_SHIFT	9
#define UUID_STR_LEN	37
#define ID_LEN		BLKSNAP_GENERATION_ID_LEN

#define BUS_NAME	"org.blksnap.Blksnap1"
#define ROOT_PATH	"/org/blksnap/Blksnap1"
#define DEVICE_PREFIX	ROOT_PATH "/device"
#define SNAPSHOT_PREFIX	ROOT_PATH "/snapshot"
#define MANAGER_IFACE	BUS_NAME ".Manager"
#define DEVICE_IFACE	BUS_NAME ".Device"
#define SNAPSHOT_IFACE	BUS_NAME ".Snapshot"
#define ERROR_PREFIX	BUS_NAME ".Error."

#define ACTION_QUERY	BUS_NAME ".query"
#define ACTION_TRACK	BUS_NAME ".track"
#define ACTION_SNAPSHOT	BUS_NAME ".snapshot"
#define ACTION_READ	BUS_NAME ".read-data"

/* Doubly linked lists: the element has next and prev members. */
#define LIST_PREPEND(head, item) do {				\
		(item)->prev = NULL;				\
		(item)->next = (head);				\
		if (head)					\
			(head)->prev = (item);			\
		(head) = (item);				\
	} while (0)
#define LIST_REMOVE(head, item) do {				\
		if ((item)->next)				\
			(item)->next->prev = (item)->prev;	\
		if ((item)->prev)				\
			(item)->prev->next = (item)->next;	\
		else						\
			(head) = (item)->next;			\
		(item)->next = (item)->prev = NULL;		\
	} while (0)

static inline void freep(void *p)
{
	free(*(void **)p);
}

static inline void closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}

static inline void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

static inline void strv_freep(char ***p)
{
	if (*p)
		for (char **s = *p; *s; s++)
			free(*s);
	free(*p);
}

/*
 * Defines property_get_NAME(), an sd-bus property getter appending @expr
 * (of D-Bus signature @sig), computed from the object @var of type @type.
 */
#define PROPERTY_GETTER(type, var, name, sig, expr)				\
	static int property_get_##name(sd_bus *bus _unused_,			\
				       const char *path _unused_,		\
				       const char *iface _unused_,		\
				       const char *prop _unused_,		\
				       sd_bus_message *reply, void *userdata,	\
				       sd_bus_error *error _unused_)		\
	{									\
		type *var = userdata;						\
		return sd_bus_message_append(reply, sig, expr);			\
	}

/*
 * For a node enumerator: *@ret becomes a new strv of the object_path of
 * every object of the list @head (linked by ->next).  1, or -ENOMEM.
 */
#define LIST_OBJECT_PATHS(head, ret)						\
	({									\
		size_t _n = 0, _i = 0;						\
		char **_v;							\
		for (typeof(head) _o = (head); _o; _o = _o->next)		\
			_n++;							\
		_v = calloc(_n + 1, sizeof(*_v));				\
		for (typeof(head) _o = (head); _v && _o; _o = _o->next)	\
			if (!(_v[_i++] = strdup(_o->object_path))) {		\
				strv_freep(&_v);				\
				_v = NULL;					\
			}							\
		*(ret) = _v;							\
		_v ? 1 : -ENOMEM;						\
	})

static inline void sd_bus_message_unrefp_(sd_bus_message **m)
{
	sd_bus_message_unref(*m);
}

static inline void sd_bus_creds_unrefp_(sd_bus_creds **c)
{
	sd_bus_creds_unref(*c);
}

static inline void sd_bus_error_freep_(sd_bus_error *e)
{
	sd_bus_error_free(e);
}

/* Take ownership of *p, leaving NULL (or -1 for an fd) for its cleanup. */
static inline void *take_ptr_(void *p)
{
	void *v = *(void **)p;

	*(void **)p = NULL;
	return v;
}
#define TAKE_PTR(p) take_ptr_(&(p))

static inline int take_fd_(int *fd)
{
	int v = *fd;

	*fd = -1;
	return v;
}
#define TAKE_FD(fd) take_fd_(&(fd))

/* Log to stderr (the journal under systemd); return r. */
int log_full_errno(int r, const char *fmt, ...) _printf_(2, 3);
#define log_error_errno(r, ...) log_full_errno(r, __VA_ARGS__)
void log_info(const char *fmt, ...) _printf_(1, 2);

typedef struct Context Context;
typedef struct Device Device;
typedef struct Snapshot Snapshot;
typedef struct Pool Pool;
typedef struct PolkitQuery PolkitQuery;
typedef struct Job Job;

/* A tracked device, as the kernel's tracker-get describes it. */
struct Device {
	Context *c;
	Device *next, *prev;
	uint32_t major, minor;
	char *path;			/* /dev/NAME */
	char *object_path;
	uint64_t capacity;		/* sectors */
	uint32_t block_size;
	uint64_t block_count;
	uint8_t generation[ID_LEN];
	uint8_t snap_number;
	bool seen;			/* mark of a resync */
};

/* One device of a snapshot, as snapshot-get describes it. */
typedef struct SnapshotDevice {
	uint32_t major, minor;
	char *image_name;		/* NULL before the take */
	uint8_t snap_number;
	bool has_generation;
	uint8_t generation[ID_LEN];
	uint32_t error;
} SnapshotDevice;

/* A snapshot, as snapshot-get describes it, with what the service adds. */
struct Snapshot {
	Context *c;
	Snapshot *next, *prev;
	uint8_t id[ID_LEN];
	char *object_path;
	uint32_t state;
	uint32_t chunk_size;		/* bytes */
	uint64_t low_free;		/* sectors */
	uint64_t total, used;		/* sectors */
	uint32_t error;
	SnapshotDevice *devices;
	size_t n_devices;
	uint32_t error_major, error_minor;	/* of the corrupted event */
	bool has_error_device;
	/* The service's own state, persisted in the state directory. */
	char *bound_to;			/* a unique bus name, or NULL */
	Pool *pool;			/* or NULL */
	bool destroying;
	bool seen;
};

struct Context {
	sd_event *event;
	sd_bus *bus;
	struct nl_sock *nl;		/* requests made on the loop (quick ones) */
	int family;
	int events_group;
	int events_fd;
	sd_event_source *events_source;
	Device *devices;
	Snapshot *snapshots;
	PolkitQuery *polkit_queries;
	char *state_dir;
	char module_version[32];
	char *exec_path;
};

/* netlink.c */
struct nl_msg;
struct nlattr;
struct nlmsghdr;
typedef int (*nl_reply_fn)(struct nlmsghdr *h, struct nlattr **tb, void *userdata);
int nl_open(struct nl_sock **ret, int *ret_family);
int nl_events_open(Context *c);
int nl_transact(struct nl_sock *sk, struct nl_msg *req, nl_reply_fn fn, void *userdata,
		char **ret_extack);
struct nl_msg *nl_request_new(Context *c, uint8_t cmd, bool dump);
int nl_get_u32(struct nlattr *a, uint32_t *ret);
int nl_get_u64(struct nlattr *a, uint64_t *ret);
int nl_get_u8(struct nlattr *a, uint8_t *ret);
int nl_get_id(struct nlattr *a, uint8_t ret[ID_LEN]);
int nl_resync(Context *c);
int nl_get_version(Context *c);

/* job.c: a netlink request run by a worker thread, its reply on the loop. */
typedef void (*job_done_fn)(Job *j);
struct Job {
	Context *c;
	struct nl_msg *req;
	sd_bus_message *m;		/* the call to answer, or NULL */
	job_done_fn done;
	void *userdata;
	void (*free_userdata)(void *p);
	/* results */
	int r;
	char *extack;
	struct nl_msg *reply;		/* the first reply message, or NULL */
	/* machinery */
	int efd;
	sd_event_source *source;
	int fd_to_close;
};
int job_start(Context *c, struct nl_msg *req, sd_bus_message *m, job_done_fn done,
	      void *userdata, void (*free_userdata)(void *p), int fd_to_close);

/* errors.c */
enum err_ctx { ERR_TRACKER, ERR_SNAPSHOT };
int bus_error_nl(sd_bus_error *error, enum err_ctx ctx, int r, const char *extack,
		 const char *fmt, ...) _printf_(5, 6);
int bus_error_invalid(sd_bus_error *error, const char *fmt, ...) _printf_(2, 3);
void errors_register(void);
const char *bus_error_name_for(enum err_ctx ctx, int r);

/* polkit.c */
int polkit_check(Context *c, sd_bus_message *m, const char *action, bool no_interaction,
		 sd_bus_error *error);
int polkit_check_method(Context *c, sd_bus_message *m, const char *action, sd_bus_error *error);
void polkit_free_all(Context *c);

/* options (manager.c) */
typedef struct Option {
	const char *name;
	char type;		/* 'b', 't', 's' */
	void *ptr;
	bool *present;
} Option;
int options_read(sd_bus_message *m, const Option *opts, size_t n, bool *no_interaction,
		 sd_bus_error *error);
#define OPTIONS_NONE(m, ni, err) options_read(m, NULL, 0, ni, err)

/* manager.c */
extern const sd_bus_vtable manager_vtable[];
int manager_register(Context *c);

/* device.c */
extern const sd_bus_vtable device_vtable[];
int device_register(Context *c);
Device *device_find(Context *c, uint32_t major, uint32_t minor);
Device *device_find_by_path(Context *c, const char *object_path);
int device_update(Context *c, struct nlattr **tb, Device **ret);
void device_remove(Device *d);
void device_free_all(Context *c);
Snapshot *device_snapshot(Device *d);
void device_emit_snapshot_changed(Context *c, Snapshot *s);
int device_parse_spec(const char *spec, uint32_t *ret_major, uint32_t *ret_minor,
		      char **ret_path);
char *device_node_path(uint32_t major, uint32_t minor);
int device_check_path(const char *path, sd_bus_error *error);

/* snapshot.c */
extern const sd_bus_vtable snapshot_vtable[];
int snapshot_register(Context *c);
Snapshot *snapshot_find(Context *c, const uint8_t id[ID_LEN]);
int snapshot_update(Context *c, struct nlmsghdr *h, struct nlattr **tb, Snapshot **ret);
void snapshot_remove(Snapshot *s);
void snapshot_free_all(Context *c);
void snapshot_on_low_space(Snapshot *s, uint64_t wanted);
void snapshot_on_corrupted(Snapshot *s, struct nlattr **tb);
int snapshot_destroy_async(Snapshot *s, sd_bus_message *m);
SnapshotDevice *snapshot_device(Snapshot *s, uint32_t major, uint32_t minor);
const char *snapshot_state_name(uint32_t state);
char *uuid_format(const uint8_t id[ID_LEN], char buf[UUID_STR_LEN]);
int uuid_parse(const char *s, uint8_t ret[ID_LEN]);
int bus_message_read_ranges(sd_bus_message *m, uint64_t **ret, size_t *ret_n,
			    sd_bus_error *error);

/* extents.c */
int extents_memfd(Context *c, Snapshot *s, Device *d, uint8_t snap_number, int *ret_fd,
		  sd_bus_error *error);

/* pool.c */
struct Pool {
	char *path;
	bool is_block;
	uint64_t limit;			/* bytes the pool may give this snapshot */
	uint64_t step;			/* bytes given at a time */
	uint64_t given;			/* bytes given so far */
	char **files;			/* the files made in a directory pool */
	size_t n_files;
	uint64_t *ranges;		/* block pool: (start, length) byte pairs */
	size_t n_ranges;
	bool growing;
};
int pool_new(const char *path, uint64_t limit, uint64_t step, Pool **ret, sd_bus_error *error);
void pool_free(Pool *p);
static inline void pool_freep(Pool **p)
{
	pool_free(*p);
}
int pool_grow_request(Context *c, Snapshot *s, uint64_t bytes, struct nl_msg **ret_req,
		      int *ret_fd, uint64_t *ret_added);
void pool_release(Context *c, Snapshot *s);
int state_save(Context *c, Snapshot *s);
void state_remove(Context *c, const uint8_t id[ID_LEN]);
int state_load(Context *c);
void bindings_check(Context *c);
int bindings_watch(Context *c);

#endif
