/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Restoring a point of a chain: the device's state at backup N, written to a
 * block device or a file by qemu-img convert reading the image and its
 * backing chain.
 */
#ifndef BLKSNAPCTL_RESTORE_H
#define BLKSNAPCTL_RESTORE_H

#include "chain.h"

/*
 * Write backup number (-1: the latest) of chain c in dir to target: a block
 * device at least as large as the backed-up device, or a file (created, or
 * replaced once complete).  Return: 0 or -errno (said why).
 */
int restore_run(const char *dir, const struct chain *c, long number, const char *target);

#endif /* BLKSNAPCTL_RESTORE_H */
