/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the test tools share: systemd-style cleanup helpers and attributes.
 */
#ifndef BLKSNAP_TESTS_UTIL_H
#define BLKSNAP_TESTS_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define ELEMENTSOF(a)	(sizeof(a) / sizeof((a)[0]))
#define _cleanup_(f)	__attribute__((cleanup(f)))
#define _printf_(a, b)	__attribute__((format(printf, a, b)))
#define _unused_	__attribute__((unused))

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

#endif /* BLKSNAP_TESTS_UTIL_H */
