/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __BLKSNAP_SNAPSHOT_H
#define __BLKSNAP_SNAPSHOT_H

#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mempool.h>
#include <linux/uuid.h>
#include <linux/workqueue.h>
#include "buf_cache.h"
#include "cbt_map.h"
#include "diff_storage.h"

struct diff_area;
struct snapimage;
struct tracker;

/**
 * struct snapshot_dev - one device of a snapshot
 * @tracker: its tracker, which cannot be detached while the snapshot
 *	lives
 * @dev: its device number
 * @capacity: its capacity in sectors at create
 * @da: its copy-on-write state, from the take on
 * @image: its image, from the take on
 * @frozen_map: its CBT map as the take froze it (kvmalloc), or NULL
 * @frozen: the metadata of @frozen_map
 * @error: the errno of this device's failure, 0 if none
 * @cow_state: the tracker state the take publishes (copy-on-write through
 *	@da), prepared before anything is frozen; NULL once published
 * @plain_state: the state the destroy publishes (no copy-on-write),
 *	prepared at the take so the destroy cannot fail; NULL once published
 * @old_state: a replaced state, while the take or the destroy drains it
 *
 * Changed only under snapshot_lock(), until the snapshot is freed.
 */
struct snapshot_dev {
	struct tracker *tracker;
	dev_t dev;
	sector_t capacity;
	struct diff_area *da;
	struct snapimage *image;
	u8 *frozen_map;
	struct cbt_map_info frozen;
	int error;
	struct tracker_state *cow_state;
	struct tracker_state *plain_state;
	struct tracker_state *old_state;
};

/**
 * struct snapshot - devices snapshotted together
 * @kref: held by the registry until destroy, and by each diff area
 * @link: in the registry; protected by snapshot_lock()
 * @id: the snapshot's id
 * @chunk_size: copy-on-write unit in bytes; immutable
 * @taken: the take happened; protected by snapshot_lock()
 * @destroyed: destroy happened; protected by snapshot_lock()
 * @error: the positive errno that corrupted the snapshot, 0 before; set
 *	once (cmpxchg), read with READ_ONCE
 * @error_da: the diff area whose copy failed first; set with @error
 * @storage: the difference storage
 * @buffers: chunk-sized copy buffers, from the take on; a reserve
 *	for when memory is short, over @chunk_bufs
 * @chunk_bufs: chunk-sized copy buffers kept for reuse
 * @batch_bufs: copy buffers of several chunks (diff_area_batch_bytes())
 *	kept for reuse
 * @cow_wq: considers the deferred writes of this snapshot's devices and
 *	starts their copies, from the take on (see diff_area_alloc_wq())
 * @cow_io_wq: stores and ends the copies, from the take on
 * @error_work: announces a corruption and starts new CBT generations
 * @low_space_work: asks for more storage
 * @nr_devs: number of devices
 * @devs: the devices
 */
struct snapshot {
	struct kref kref;
	struct list_head link;
	uuid_t id;
	u32 chunk_size;
	bool taken;
	bool destroyed;
	int error;
	struct diff_area *error_da;
	struct diff_storage storage;
	mempool_t *buffers;
	struct buf_cache chunk_bufs;
	struct buf_cache batch_bufs;
	struct workqueue_struct *cow_wq;
	struct workqueue_struct *cow_io_wq;
	struct work_struct error_work;
	struct work_struct low_space_work;
	unsigned int nr_devs;
	struct snapshot_dev devs[];
};

extern struct workqueue_struct *blksnap_wq;

int snapshot_init(void);
void snapshot_exit(void);

void snapshot_lock(void);
void snapshot_unlock(void);
struct snapshot *__snapshot_find(const uuid_t *id);
struct snapshot *__snapshot_next(struct snapshot *prev);

int snapshot_create(const dev_t *devs, unsigned int nr_devs, u32 chunk_size,
		    sector_t low_free, uuid_t *id, unsigned int *bad);
int snapshot_destroy(const uuid_t *id);
/**
 * enum snapshot_storage_fault - why new storage was refused
 * @SNAPSHOT_STORAGE_OK: it was not
 * @SNAPSHOT_STORAGE_IMAGE: it is on a snapshot image (-ELOOP)
 * @SNAPSHOT_STORAGE_RECURSES: writing to it reaches a device of a snapshot
 *	(-ELOOP)
 * @SNAPSHOT_STORAGE_UNKNOWN_FS: it is on a file system whose devices
 *	cannot be known (-EOPNOTSUPP)
 * @SNAPSHOT_STORAGE_SMALL: smaller than a chunk (-EINVAL)
 * @SNAPSHOT_STORAGE_BLOCK_SIZE: its device's logical blocks are larger
 *	than the snapshot's devices' (-EINVAL)
 * @SNAPSHOT_STORAGE_ALIGNMENT: not aligned to its device's logical blocks
 *	(-EINVAL)
 * @SNAPSHOT_STORAGE_OVERLAP: it overlaps storage in use (-EBUSY)
 */
enum snapshot_storage_fault {
	SNAPSHOT_STORAGE_OK,
	SNAPSHOT_STORAGE_IMAGE,
	SNAPSHOT_STORAGE_RECURSES,
	SNAPSHOT_STORAGE_UNKNOWN_FS,
	SNAPSHOT_STORAGE_SMALL,
	SNAPSHOT_STORAGE_BLOCK_SIZE,
	SNAPSHOT_STORAGE_ALIGNMENT,
	SNAPSHOT_STORAGE_OVERLAP,
};

int snapshot_append_storage(const uuid_t *id, struct list_head *ranges,
			    int *bad, enum snapshot_storage_fault *fault,
			    dev_t *where);
int snapshot_take(const uuid_t *id);

void snapshot_get(struct snapshot *snapshot);
void snapshot_put(struct snapshot *snapshot);
void *snapshot_buffer_alloc(struct snapshot *snapshot);
void snapshot_buffer_free(struct snapshot *snapshot, void *buf);
void snapshot_set_error(struct snapshot *snapshot, struct diff_area *da,
			int error);
void snapshot_low_space(struct snapshot *snapshot);
void __snapshot_device_resized(struct snapshot *snapshot,
			       struct tracker *tracker);

u32 snapshot_default_chunk_size(void);
sector_t snapshot_default_low_free(void);

#endif /* __BLKSNAP_SNAPSHOT_H */
