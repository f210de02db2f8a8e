/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __BLKSNAP_SNAPIMAGE_H
#define __BLKSNAP_SNAPIMAGE_H

#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>

struct diff_area;

/**
 * struct snapimage - the snapshot image of one device, a block device
 * @disk: the gendisk, /dev/blksnap-image<N>
 * @da: the device's copy-on-write state (a reference is held)
 * @minor: N, also the minor number
 * @buf: one chunk, for the worker's I/O
 * @lock: protects @queue, @open_count, @dying
 * @queue: bios waiting for the worker: writes, and clones of reads of
 *	chunks stored in files
 * @work: serves the bios, one at a time
 * @inflight: clones of reads not ended yet; atomic, the destroy waits for
 *	it to fall to 0 (wait_var_event())
 * @open_count: opens of the device
 * @dying: destroy claimed the image: no more opens
 * @added: the disk was added (and must be deleted)
 */
struct snapimage {
	struct gendisk *disk;
	struct diff_area *da;
	int minor;
	void *buf;
	spinlock_t lock; /* protects @queue, @open_count, @dying */
	struct bio_list queue;
	struct work_struct work;
	atomic_t inflight;
	unsigned int open_count;
	bool dying;
	bool added;
};

int snapimage_init(void);
void snapimage_exit(void);
struct snapimage *snapimage_create(struct diff_area *da, unsigned int lbs,
				   unsigned int pbs);
int snapimage_add(struct snapimage *image);
int snapimage_claim(struct snapimage *image);
void snapimage_unclaim(struct snapimage *image);
void snapimage_destroy(struct snapimage *image);
bool snapimage_is_image(dev_t dev);

#endif /* __BLKSNAP_SNAPIMAGE_H */
