/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Verifying a chain: every image of the manifest is there, passes
 * qemu-img check, has the size and backing image the manifest says, and
 * every extent the manifest records reads back (through qemu-nbd) with its
 * checksum.  Each damaged extent is named.
 */
#ifndef BLKSNAPCTL_VERIFY_H
#define BLKSNAPCTL_VERIFY_H

#include "chain.h"

/*
 * Return: the number of problems found (0: the chain is intact), or -errno
 * when verifying could not run.
 */
int verify_chain(const char *dir, const struct chain *c);

#endif /* BLKSNAPCTL_VERIFY_H */
