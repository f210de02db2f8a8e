/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The differences between the kernel APIs that blksnap builds against
 * (Debian 12: 6.1 and 6.12) live here and nowhere else.  Kbuild finds
 * which API the kernel has (BLKSNAP_HAVE_* defines) by looking at its
 * headers, so no version numbers are compared.
 */
#ifndef __BLKSNAP_COMPAT_H
#define __BLKSNAP_COMPAT_H

#include <linux/blkdev.h>
#include <net/genetlink.h>

/**
 * struct blksnap_bdev - an open reference to a block device
 * @bdev: the device
 * @handle: what the kernel's open call returned, for the matching close
 */
struct blksnap_bdev {
	struct block_device *bdev;
#ifdef BLKSNAP_HAVE_BDEV_FILE
	struct file *handle;
#endif
};

/**
 * blksnap_bdev_open() - open a block device by number for reading
 * @dev: device number
 * @ref: filled with the open reference on success
 *
 * Context: process context, may sleep.
 * Return: 0 or a negative errno (-ENXIO, -ENODEV: no such device).
 */
static inline int blksnap_bdev_open(dev_t dev, struct blksnap_bdev *ref)
{
#ifdef BLKSNAP_HAVE_BDEV_FILE
	struct file *file = bdev_file_open_by_dev(dev, BLK_OPEN_READ, NULL, NULL);

	if (IS_ERR(file))
		return PTR_ERR(file);
	ref->handle = file;
	ref->bdev = file_bdev(file);
#else
	struct block_device *bdev = blkdev_get_by_dev(dev, FMODE_READ, NULL);

	if (IS_ERR(bdev))
		return PTR_ERR(bdev);
	ref->bdev = bdev;
#endif
	return 0;
}

/**
 * blksnap_bdev_close() - drop a reference taken by blksnap_bdev_open()
 * @ref: the reference
 *
 * Context: process context, may sleep.
 */
static inline void blksnap_bdev_close(struct blksnap_bdev *ref)
{
#ifdef BLKSNAP_HAVE_BDEV_FILE
	fput(ref->handle);
#else
	blkdev_put(ref->bdev, FMODE_READ);
#endif
	ref->bdev = NULL;
}

/* The attributes of a dump request, parsed by the genetlink core. */
#ifdef BLKSNAP_HAVE_GENL_INFO_DUMP
#define blksnap_dump_attrs(cb)	(genl_info_dump(cb)->attrs)
#else
#define blksnap_dump_attrs(cb)	(genl_dumpit_info(cb)->attrs)
#endif

/* Redirect a function hooked through ftrace (renamed in 6.8). */
#ifdef BLKSNAP_HAVE_FTRACE_REGS_SET_IP
#define blksnap_ftrace_set_ip(fregs, ip) \
	ftrace_regs_set_instruction_pointer(fregs, ip)
#else
#define blksnap_ftrace_set_ip(fregs, ip) \
	ftrace_instruction_pointer_set(fregs, ip)
#endif

/* Only root may listen to the events group, where the kernel can say so. */
#ifdef GENL_MCAST_CAP_SYS_ADMIN
#define BLKSNAP_MCGRP_FLAGS	GENL_MCAST_CAP_SYS_ADMIN
#else
#define BLKSNAP_MCGRP_FLAGS	0
#endif

#endif /* __BLKSNAP_COMPAT_H */
