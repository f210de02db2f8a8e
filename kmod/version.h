/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __BLKSNAP_VERSION_H
#define __BLKSNAP_VERSION_H

/* Reported by the "version" op; major changes break the interface. */
#define BLKSNAP_VERSION_MAJOR	1
#define BLKSNAP_VERSION_MINOR	0
#define BLKSNAP_VERSION_PATCH	0
#define BLKSNAP_VERSION_STR	"1.0.0"

#endif /* __BLKSNAP_VERSION_H */
