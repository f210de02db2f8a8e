// SPDX-License-Identifier: GPL-2.0
/*
 * A one-line progress display for terminals.
 */
#include <inttypes.h>

#include "progress.h"
#include "util.h"

#define REDRAW_USEC	500000

void progress_begin(struct progress *p, const char *what, uint64_t total)
{
	*p = (struct progress){
		.what = what,
		.total = total,
		.start_usec = now_usec(),
		.tty = isatty(STDERR_FILENO) == 1,
	};
}

void progress_update(struct progress *p, uint64_t done)
{
	char a[16], b[16], rate[16], left[32] = "";
	uint64_t now = now_usec(), el;
	double bps;

	p->done = done;
	if (!p->tty || now - p->last_usec < REDRAW_USEC)
		return;
	p->last_usec = now;
	el = now - p->start_usec;
	bps = el ? (double)done * 1e6 / el : 0;
	if (bps > 0 && p->total > done) {
		uint64_t s = (p->total - done) / bps;

		snprintf(left, sizeof(left), ", %" PRIu64 ":%02" PRIu64 " left", s / 60, s % 60);
	}
	fprintf(stderr, "\r\033[K%s: %s of %s, %s/s%s", p->what,
		format_bytes(done, a, sizeof(a)), format_bytes(p->total, b, sizeof(b)),
		format_bytes((uint64_t)bps, rate, sizeof(rate)), left);
	p->drawn = true;
}

void progress_end(struct progress *p)
{
	if (p->drawn)
		fputs("\r\033[K", stderr);
	p->drawn = false;
}
