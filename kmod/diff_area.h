/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __BLKSNAP_DIFF_AREA_H
#define __BLKSNAP_DIFF_AREA_H

#include <linux/bio.h>
#include <linux/kref.h>
#include <linux/sizes.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>
#include "diff_storage.h"

struct snapshot;
struct cbt_map;

/* A copy reads and writes at most this much at once, in one buffer. */
#define DIFF_AREA_BATCH_BYTES	SZ_1M

/**
 * enum chunk_state - where the data of a chunk is
 * @CHUNK_NEW: on the original device, no copy started; the entry exists
 *	only while image reads of the original are in flight
 * @CHUNK_COPYING: being read from the original for its copy: writes to
 *	the original wait
 * @CHUNK_STORING: read into the copy's buffer, being written to the
 *	difference storage: writes to the original pass (once no image read
 *	of the original is in flight), image reads wait for the store
 * @CHUNK_COPIED: in the difference storage, image reads of the original
 *	still in flight (once they are done, the chunk is settled: writes to
 *	the original pass and the struct gives way to a compact entry)
 * @CHUNK_FAILED: the copy failed; the snapshot is corrupted
 */
enum chunk_state {
	CHUNK_NEW,
	CHUNK_COPYING,
	CHUNK_STORING,
	CHUNK_COPIED,
	CHUNK_FAILED,
};

/**
 * struct chunk - the copy-on-write state of one chunk of a device while
 * it is in use: copied, read from the original by the image, or waited for
 * @da: the diff area it belongs to
 * @index: the chunk's number on the device
 * @state: see &enum chunk_state; protected by the xa_lock of
 *	&diff_area.chunks
 * @readers: image reads of the original in flight; the original's writes
 *	wait until they are done.  Protected likewise.
 * @waiting: writes to the original waiting for the copy.  Protected
 *	likewise.
 * @region: where the copy is; immutable once @state is CHUNK_STORING
 * @batch: for the first chunk of a run being copied together, the
 *	number of chunks in the run
 * @work: the copy of the run that begins at this chunk, on the copy
 *	workqueue
 */
struct chunk {
	struct diff_area *da;
	unsigned long index;
	enum chunk_state state;
	unsigned int readers;
	struct bio_list waiting;
	struct diff_region region;
	unsigned int batch;
	struct work_struct work;
};

/**
 * struct diff_area - copy-on-write of one device of a taken snapshot
 * @kref: held by the snapshot, by queued work, by bios being deferred
 * @snapshot: the snapshot (a reference is held)
 * @orig: the original device
 * @cbt_map: the device's CBT map, where image writes are marked
 * @capacity: sectors of the original when the snapshot was created
 * @chunk_shift: log2 of the chunk size in sectors
 * @chunk_count: chunks of the device
 * @copied: one bit per chunk, set once the chunk is in the storage and no
 *	image read of the original is in flight: writes to it pass.  A table
 *	of pages of bits, each allocated by the first copy of a chunk in it
 *	(a 64 TiB device of 64 KiB chunks needs a 256 KiB table, and a page
 *	per 2 GiB copied).  Read without locks on the bio path; bits set
 *	under the xa_lock of @chunks.
 * @chunks: by chunk index, a &struct chunk (marked DIFF_AREA_IN_USE)
 *	for a chunk in use, or for a settled copied chunk an xarray value:
 *	its place in the storage's linear space (diff_region_pos()), 8 bytes
 *	in a node shared with its neighbours.  Its xa_lock protects the
 *	chunks' state.
 * @wq: woken on every chunk state change, when the pending count falls,
 *	and when a copy ends
 * @pending_lock: protects @pending, @ahead, @nr_ahead and @open
 * @pending: bios of the original to (re)consider, in arrival order
 * @ahead: chunk ranges [first, last] of REQ_NOWAIT writes refused with
 *	-EAGAIN, whose copies the pending work begins, so that the write
 *	passes when it is sent again (a polled write always has REQ_NOWAIT)
 * @nr_ahead: ranges in @ahead; a range that does not fit is dropped (the
 *	write, sent again, asks again)
 * @open: copies may run (the take has drained the writes from before it);
 *	until then deferred bios only gather in @pending
 * @stopped: the snapshot is being destroyed: every write passes, no copy
 *	starts; set once, read with READ_ONCE
 * @pending_count: bios deferred and not yet submitted (throttling)
 * @pending_work: considers the @pending bios
 * @copies: copies begun and not ended (see diff_area_wait_copies())
 * @free_work: frees the diff area once the last reference is gone
 * @error: errno that corrupted the snapshot, 0 before; read with READ_ONCE
 */
#define DIFF_AREA_AHEAD_MAX	16

struct diff_area {
	struct kref kref;
	struct snapshot *snapshot;
	struct block_device *orig;
	struct cbt_map *cbt_map;
	sector_t capacity;
	unsigned int chunk_shift;
	unsigned long chunk_count;
	unsigned long **copied;
	struct xarray chunks;
	wait_queue_head_t wq;
	spinlock_t pending_lock; /* see above: what it protects */
	struct bio_list pending;
	unsigned long ahead[DIFF_AREA_AHEAD_MAX][2];
	unsigned int nr_ahead;
	bool open;
	bool stopped;
	atomic_t pending_count;
	struct work_struct pending_work;
	atomic_t copies;
	struct work_struct free_work;
	int error;
};

/**
 * enum diff_area_map_to - where a piece of an image read is served from
 * @DIFF_AREA_MAP_ORIG: the original device, chunks never copied (or being
 *	copied); each holds a reader until diff_area_image_unmap()
 * @DIFF_AREA_MAP_STORAGE: a block device of the difference storage
 * @DIFF_AREA_MAP_SYNC: chunks stored in a file: read synchronously by the
 *	image's worker (diff_area_image_io())
 */
enum diff_area_map_to {
	DIFF_AREA_MAP_ORIG,
	DIFF_AREA_MAP_STORAGE,
	DIFF_AREA_MAP_SYNC,
};

/**
 * struct diff_area_map - a run of an image read with one place to go
 * @to: where, see &enum diff_area_map_to
 * @bdev: the device to read (ORIG, STORAGE); NULL for SYNC
 * @sector: the first sector to read on @bdev (ORIG, STORAGE)
 * @count: sectors of the image in the run
 * @first: the first chunk of the run
 * @last: the last chunk of the run
 */
struct diff_area_map {
	enum diff_area_map_to to;
	struct block_device *bdev;
	sector_t sector;
	sector_t count;
	unsigned long first;
	unsigned long last;
};

int diff_area_init(void);
void diff_area_exit(void);

struct diff_area *diff_area_create(struct snapshot *snapshot,
				   struct block_device *orig,
				   struct cbt_map *cbt_map, sector_t capacity,
				   unsigned int chunk_size);
size_t diff_area_batch_bytes(unsigned int chunk_size);
void diff_area_put(struct diff_area *da);
bool diff_area_get(struct diff_area *da);

struct workqueue_struct *diff_area_alloc_wq(bool io);
void diff_area_open(struct diff_area *da);
void diff_area_stop(struct diff_area *da);
void diff_area_wait_copies(struct diff_area *da);
bool diff_area_submit_bio(struct diff_area *da, struct bio *bio);
void diff_area_set_error(struct diff_area *da, int error);
int diff_area_image_io(struct diff_area *da, struct bio *bio, void *buf);
int diff_area_image_map(struct diff_area *da, sector_t sector, sector_t end,
			struct diff_area_map *map);
int diff_area_image_unmap(struct diff_area *da,
			  const struct diff_area_map *map);

#endif /* __BLKSNAP_DIFF_AREA_H */
