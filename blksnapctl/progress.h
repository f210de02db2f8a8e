/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The progress line of a long copy: bytes done of the total, rate and time
 * left, redrawn at most twice a second, on stderr when it is a terminal and
 * never otherwise.
 */
#ifndef BLKSNAPCTL_PROGRESS_H
#define BLKSNAPCTL_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

struct progress {
	const char *what;
	uint64_t total;
	uint64_t done;
	uint64_t start_usec;
	uint64_t last_usec;
	bool tty;
	bool drawn;
};

void progress_begin(struct progress *p, const char *what, uint64_t total);
void progress_update(struct progress *p, uint64_t done);
/* Clear the line (the caller then says how it ended). */
void progress_end(struct progress *p);

#endif /* BLKSNAPCTL_PROGRESS_H */
