// SPDX-License-Identifier: GPL-2.0-only
/*
 * Storage pools and bindings: the only state the service keeps of its own.
 * A pool is a directory (files made there: their extents appended as
 * storage ranges on a block-backed file system, or the files themselves as
 * the file backend) or a block device (ranges of it handed out, none twice).
 * A binding ties a snapshot to its caller's bus connection.  Both are
 * persisted in the state directory, one file per snapshot, so a restart
 * keeps them.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <netlink/netlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include "blksnapd.h"

#define FIEMAP_BATCH 256

int pool_new(const char *path, uint64_t limit, uint64_t step, Pool **ret, sd_bus_error *error)
{
	struct stat st;
	Pool *p;

	if (stat(path, &st) < 0)
		return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
					 "Storage pool %s cannot be used: %s.", path, strerror(errno));
	if (!S_ISDIR(st.st_mode) && !S_ISBLK(st.st_mode))
		return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
					 "Storage pool %s is neither a directory nor a block device.",
					 path);
	if (step < BLKSNAP_CHUNK_SIZE_MAX)
		step = limit < BLKSNAP_CHUNK_SIZE_MAX ? limit : BLKSNAP_CHUNK_SIZE_MAX;
	if (limit < 512)
		return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
					 "Storage limit %" PRIu64 " is too small.", limit);
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->path = strdup(path);
	if (!p->path) {
		free(p);
		return -ENOMEM;
	}
	p->is_block = S_ISBLK(st.st_mode);
	p->limit = limit;
	p->step = step & ~(uint64_t)511;
	*ret = p;
	return 0;
}

void pool_free(Pool *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_files; i++)
		free(p->files[i]);
	free(p->files);
	free(p->ranges);
	free(p->path);
	free(p);
}

static int pool_add_file(Pool *p, const char *path)
{
	char **v = realloc(p->files, (p->n_files + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	p->files = v;
	v[p->n_files] = strdup(path);
	if (!v[p->n_files])
		return -ENOMEM;
	p->n_files++;
	return 0;
}

static int pool_add_range(Pool *p, uint64_t start, uint64_t len)
{
	uint64_t *v = realloc(p->ranges, (p->n_ranges + 1) * 2 * sizeof(*v));

	if (!v)
		return -ENOMEM;
	p->ranges = v;
	v[2 * p->n_ranges] = start;
	v[2 * p->n_ranges + 1] = len;
	p->n_ranges++;
	return 0;
}

static void put_storage_range(struct nl_msg *req, uint32_t major, uint32_t minor,
			      const char *path, uint64_t start, uint64_t len)
{
	struct nlattr *nest = nla_nest_start(req, BLKSNAP_A_STORAGE_RANGE | NLA_F_NESTED);

	if (path)
		nla_put_string(req, BLKSNAP_A_STORAGE_DEV_PATH, path);
	else {
		nla_put_u32(req, BLKSNAP_A_STORAGE_DEV_MAJOR, major);
		nla_put_u32(req, BLKSNAP_A_STORAGE_DEV_MINOR, minor);
	}
	nla_put_u64(req, BLKSNAP_A_STORAGE_START, start >> SECTOR_SHIFT);
	nla_put_u64(req, BLKSNAP_A_STORAGE_COUNT, len >> SECTOR_SHIFT);
	nla_nest_end(req, nest);
}

/*
 * Put the extents of @fd (@bytes long) into @req as storage ranges of its
 * file system's device.  -EOPNOTSUPP when the file cannot be used that way.
 */
static int put_file_extents(struct nl_msg *req, int fd, dev_t dev, uint64_t bytes)
{
	_cleanup_(freep) struct fiemap *fm = calloc(1, sizeof(*fm) +
						    FIEMAP_BATCH * sizeof(struct fiemap_extent));
	const uint32_t bad = FIEMAP_EXTENT_UNKNOWN | FIEMAP_EXTENT_DELALLOC |
			     FIEMAP_EXTENT_ENCODED | FIEMAP_EXTENT_DATA_ENCRYPTED |
			     FIEMAP_EXTENT_NOT_ALIGNED | FIEMAP_EXTENT_DATA_INLINE |
			     FIEMAP_EXTENT_DATA_TAIL | FIEMAP_EXTENT_SHARED;
	uint64_t pos = 0, mapped = 0;
	bool last = false;

	if (!fm)
		return -ENOMEM;
	while (!last && pos < bytes) {
		memset(fm, 0, sizeof(*fm));
		fm->fm_start = pos;
		fm->fm_length = bytes - pos;
		fm->fm_flags = FIEMAP_FLAG_SYNC;
		fm->fm_extent_count = FIEMAP_BATCH;
		if (ioctl(fd, FS_IOC_FIEMAP, fm) < 0)
			return -EOPNOTSUPP;
		if (!fm->fm_mapped_extents)
			break;
		for (uint32_t i = 0; i < fm->fm_mapped_extents; i++) {
			struct fiemap_extent *e = &fm->fm_extents[i];
			uint64_t len = e->fe_length;

			if ((e->fe_flags & bad) || e->fe_physical % 512 || len % 512)
				return -EOPNOTSUPP;
			if (e->fe_logical + len > bytes)
				len = bytes - e->fe_logical;
			put_storage_range(req, major(dev), minor(dev), NULL, e->fe_physical, len);
			mapped += len;
			pos = e->fe_logical + e->fe_length;
			if (e->fe_flags & FIEMAP_EXTENT_LAST)
				last = true;
		}
	}
	return mapped == bytes ? 0 : -EOPNOTSUPP;
}

static int cmp_u64pair(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;

	return x[0] < y[0] ? -1 : x[0] > y[0];
}

/* First fit of @bytes in the block device of @p, avoiding every pool's ranges on it. */
static int block_pool_find(Context *c, Pool *p, uint64_t bytes, uint64_t *ret_start)
{
	_cleanup_(freep) uint64_t *used = NULL;
	_cleanup_(closep) int fd = open(p->path, O_RDONLY | O_CLOEXEC);
	uint64_t size, pos = 0;
	size_t n = 0;

	if (fd < 0)
		return -errno;
	if (ioctl(fd, BLKGETSIZE64, &size) < 0)
		return -errno;
	for (Snapshot *s = c->snapshots; s; s = s->next)
		if (s->pool && s->pool->is_block && strcmp(s->pool->path, p->path) == 0)
			n += s->pool->n_ranges;
	used = calloc(n + 1, 2 * sizeof(*used));
	if (!used)
		return -ENOMEM;
	n = 0;
	for (Snapshot *s = c->snapshots; s; s = s->next)
		if (s->pool && s->pool->is_block && strcmp(s->pool->path, p->path) == 0)
			for (size_t i = 0; i < s->pool->n_ranges; i++, n++) {
				used[2 * n] = s->pool->ranges[2 * i];
				used[2 * n + 1] = s->pool->ranges[2 * i + 1];
			}
	qsort(used, n, 2 * sizeof(*used), cmp_u64pair);
	for (size_t i = 0; i <= n; i++) {
		uint64_t end = i < n ? used[2 * i] : size;

		if (end >= pos && end - pos >= bytes) {
			*ret_start = pos;
			return 0;
		}
		if (i < n && used[2 * i] + used[2 * i + 1] > pos)
			pos = used[2 * i] + used[2 * i + 1];
	}
	return -ENOSPC;
}

/*
 * Make @bytes more storage for @s from its pool and the append request
 * giving it.  *ret_fd is a storage fd to keep open until the request ran
 * (-1 if none); *ret_added what the pool gave.
 */
int pool_grow_request(Context *c, Snapshot *s, uint64_t bytes, struct nl_msg **ret_req,
		      int *ret_fd, uint64_t *ret_added)
{
	Pool *p = s->pool;
	_cleanup_(freep) char *fn = NULL;
	_cleanup_(closep) int fd = -1;
	struct nl_msg *req;
	char hex[2 * ID_LEN + 1];
	struct stat st;
	uint64_t start;
	int r;

	bytes &= ~(uint64_t)511;
	if (!bytes)
		return -EINVAL;
	req = nl_request_new(c, BLKSNAP_CMD_SNAPSHOT_APPEND_STORAGE, false);
	if (!req)
		return -ENOMEM;
	nla_put(req, BLKSNAP_A_SNAPSHOT_ID, ID_LEN, s->id);

	if (p->is_block) {
		r = block_pool_find(c, p, bytes, &start);
		if (r < 0)
			goto fail;
		r = pool_add_range(p, start, bytes);
		if (r < 0)
			goto fail;
		put_storage_range(req, 0, 0, p->path, start, bytes);
		*ret_fd = -1;
		goto done;
	}

	for (int i = 0; i < ID_LEN; i++)
		sprintf(hex + 2 * i, "%02x", s->id[i]);
	if (asprintf(&fn, "%s/blksnapd-%s-%zu.storage", p->path, hex, p->n_files) < 0) {
		fn = NULL;
		r = -ENOMEM;
		goto fail;
	}
	fd = open(fn, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		r = -errno;
		goto fail;
	}
	r = pool_add_file(p, fn);
	if (r < 0) {
		unlink(fn);
		goto fail;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto fail;
	}
	/* A file system on a block device: preallocate, give the extents. */
	if (major(st.st_dev) != 0 && fallocate(fd, 0, 0, (off_t)bytes) == 0) {
		r = put_file_extents(req, fd, st.st_dev, bytes);
		if (r >= 0) {
			*ret_fd = -1;
			goto done;
		}
		if (r != -EOPNOTSUPP)
			goto fail;
		/* Start the request again: the file goes whole, as the file backend. */
		nlmsg_free(req);
		req = nl_request_new(c, BLKSNAP_CMD_SNAPSHOT_APPEND_STORAGE, false);
		if (!req)
			return -ENOMEM;
		nla_put(req, BLKSNAP_A_SNAPSHOT_ID, ID_LEN, s->id);
		if (ftruncate(fd, 0) < 0) {
			r = -errno;
			goto fail;
		}
	}
	/* Otherwise (tmpfs...) the module writes the file and grows it itself. */
	nla_put_u32(req, BLKSNAP_A_STORAGE_FD, (uint32_t)fd);
	nla_put_u64(req, BLKSNAP_A_STORAGE_LIMIT, bytes >> SECTOR_SHIFT);
	*ret_fd = TAKE_FD(fd);
done:
	*ret_req = req;
	*ret_added = bytes;
	return 0;
fail:
	nlmsg_free(req);
	return r;
}

/* The snapshot is gone: remove the files its pool made; its ranges are free again. */
void pool_release(Context *c _unused_, Snapshot *s)
{
	if (!s->pool)
		return;
	for (size_t i = 0; i < s->pool->n_files; i++)
		if (unlink(s->pool->files[i]) < 0 && errno != ENOENT)
			log_error_errno(-errno, "Cannot remove %s: %m", s->pool->files[i]);
	s->pool->n_ranges = 0;
}

/* ---- state files ---------------------------------------------------------------- */

static char *state_path(Context *c, const uint8_t id[ID_LEN], const char *suffix)
{
	char hex[2 * ID_LEN + 1], *path;

	for (int i = 0; i < ID_LEN; i++)
		sprintf(hex + 2 * i, "%02x", id[i]);
	if (asprintf(&path, "%s/%s%s", c->state_dir, hex, suffix) < 0)
		return NULL;
	return path;
}

void state_remove(Context *c, const uint8_t id[ID_LEN])
{
	_cleanup_(freep) char *path = state_path(c, id, "");

	if (path)
		(void)unlink(path);
}

/* Write what the service keeps of @s (atomically), or remove it if nothing. */
int state_save(Context *c, Snapshot *s)
{
	_cleanup_(freep) char *path = state_path(c, s->id, ""), *tmp = state_path(c, s->id, ".tmp");
	_cleanup_(fclosep) FILE *f = NULL;
	Pool *p = s->pool;

	if (!path || !tmp)
		return -ENOMEM;
	if (!s->bound_to && !p) {
		(void)unlink(path);
		return 0;
	}
	(void)mkdir(c->state_dir, 0700);
	f = fopen(tmp, "we");
	if (!f)
		return -errno;
	if (s->bound_to)
		fprintf(f, "bound %s\n", s->bound_to);
	if (p) {
		fprintf(f, "pool %s\nblock %d\nlimit %" PRIu64 "\nstep %" PRIu64 "\ngiven %" PRIu64 "\n",
			p->path, p->is_block, p->limit, p->step, p->given);
		for (size_t i = 0; i < p->n_files; i++)
			fprintf(f, "file %s\n", p->files[i]);
		for (size_t i = 0; i < p->n_ranges; i++)
			fprintf(f, "range %" PRIu64 " %" PRIu64 "\n", p->ranges[2 * i],
				p->ranges[2 * i + 1]);
	}
	if (fflush(f) != 0 || fsync(fileno(f)) < 0) {
		int r = -errno;

		(void)unlink(tmp);
		return r;
	}
	if (rename(tmp, path) < 0)
		return -errno;
	return 0;
}

static int state_read(const char *path, char **ret_bound, Pool **ret_pool)
{
	_cleanup_(fclosep) FILE *f = fopen(path, "re");
	_cleanup_(freep) char *line = NULL;
	size_t size = 0;
	Pool *p = NULL;
	char *bound = NULL;
	ssize_t n;

	if (!f)
		return -errno;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	while ((n = getline(&line, &size, f)) > 0) {
		char *v = strchr(line, ' ');
		uint64_t a, b;
		int blk;

		if (line[n - 1] == '\n')
			line[n - 1] = '\0';
		if (!v)
			continue;
		*v++ = '\0';
		if (strcmp(line, "bound") == 0) {
			free(bound);
			bound = strdup(v);
		} else if (strcmp(line, "pool") == 0) {
			free(p->path);
			p->path = strdup(v);
		} else if (strcmp(line, "block") == 0 && sscanf(v, "%d", &blk) == 1) {
			p->is_block = blk;
		} else if (strcmp(line, "limit") == 0) {
			(void)sscanf(v, "%" SCNu64, &p->limit);
		} else if (strcmp(line, "step") == 0) {
			(void)sscanf(v, "%" SCNu64, &p->step);
		} else if (strcmp(line, "given") == 0) {
			(void)sscanf(v, "%" SCNu64, &p->given);
		} else if (strcmp(line, "file") == 0) {
			(void)pool_add_file(p, v);
		} else if (strcmp(line, "range") == 0 &&
			   sscanf(v, "%" SCNu64 " %" SCNu64, &a, &b) == 2) {
			(void)pool_add_range(p, a, b);
		}
	}
	if (!p->path) {
		pool_free(p);
		p = NULL;
	}
	*ret_bound = bound;
	*ret_pool = p;
	return 0;
}

/* Give the snapshots back what the service kept; clean up after gone ones. */
int state_load(Context *c)
{
	DIR *dir = opendir(c->state_dir);
	struct dirent *de;

	if (!dir)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(dir))) {
		_cleanup_(freep) char *path = NULL;
		uint8_t id[ID_LEN];
		char *bound = NULL;
		Pool *p = NULL;
		Snapshot *s;

		if (strlen(de->d_name) != 2 * ID_LEN || uuid_parse(de->d_name, id) < 0)
			continue;
		if (asprintf(&path, "%s/%s", c->state_dir, de->d_name) < 0)
			break;
		if (state_read(path, &bound, &p) < 0)
			continue;
		s = snapshot_find(c, id);
		if (!s) {
			/* Destroyed while the service was away: clean up after it. */
			Snapshot gone = { .pool = p };

			pool_release(c, &gone);
			pool_free(p);
			free(bound);
			(void)unlink(path);
			continue;
		}
		free(s->bound_to);
		s->bound_to = bound;
		pool_free(s->pool);
		s->pool = p;
	}
	closedir(dir);
	return 0;
}

/* ---- bindings ---------------------------------------------------------------------- */

static void binding_lost(Context *c, const char *name)
{
	for (Snapshot *s = c->snapshots; s; s = s->next) {
		if (!s->bound_to || strcmp(s->bound_to, name) != 0 || s->destroying)
			continue;
		log_info("%s left the bus: destroying its snapshot %s", name, s->object_path);
		if (snapshot_destroy_async(s, NULL) < 0)
			log_error_errno(-ENOMEM, "Cannot destroy %s", s->object_path);
	}
}

static int name_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *error _unused_)
{
	const char *name, *old, *new;

	if (sd_bus_message_read(m, "sss", &name, &old, &new) < 0 || new[0])
		return 0;
	binding_lost(userdata, name);
	return 0;
}

int bindings_watch(Context *c)
{
	return sd_bus_match_signal(c->bus, NULL, "org.freedesktop.DBus", "/org/freedesktop/DBus",
				   "org.freedesktop.DBus", "NameOwnerChanged",
				   name_owner_changed, c);
}

/* After a restart: the bound callers that left while the service was away. */
void bindings_check(Context *c)
{
	for (Snapshot *s = c->snapshots; s; s = s->next) {
		_cleanup_(sd_bus_creds_unrefp_) sd_bus_creds *creds = NULL;

		if (s->bound_to && sd_bus_get_name_creds(c->bus, s->bound_to, 0, &creds) < 0)
			binding_lost(c, s->bound_to);
	}
}
