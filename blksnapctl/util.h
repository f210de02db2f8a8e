/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What every file of blksnapctl shares: systemd-style cleanup helpers,
 * attributes, logging that returns the negative errno it reports, and
 * running a helper program (qemu-img).
 */
#ifndef BLKSNAPCTL_UTIL_H
#define BLKSNAPCTL_UTIL_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define ELEMENTSOF(a)	(sizeof(a) / sizeof((a)[0]))
#define _cleanup_(f)	__attribute__((cleanup(f)))
#define _printf_(a, b)	__attribute__((format(printf, a, b)))
#define _unused_	__attribute__((unused))

#define MIN(a, b)	((a) < (b) ? (a) : (b))

static inline void freep(void *p)
{
	free(*(void **)p);
}

static inline void closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;

		close(*fd);
		errno = saved;
	}
}

static inline void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

static inline void strv_freep(char ***p)
{
	if (*p) {
		for (char **s = *p; *s; s++)
			free(*s);
		free(*p);
	}
}

/* Take ownership of *p, leaving NULL for its cleanup handler. */
#define TAKE_PTR(p) ({ __typeof__(p) _v = (p); (p) = NULL; _v; })
/* Take ownership of an fd, leaving -1 for its cleanup handler. */
#define TAKE_FD(fd) ({ int _fd = (fd); (fd) = -1; _fd; })

/* Log "blksnapctl: message" to stderr, errno set to -r for %m; return r. */
_printf_(2, 3) int log_error_errno(int r, const char *fmt, ...);
_printf_(1, 2) void log_error(const char *fmt, ...);
_printf_(1, 2) void log_info(const char *fmt, ...);

/* Set by the SIGINT/SIGTERM handler that interrupt_install() puts in place. */
extern volatile int interrupted;
void interrupt_install(void);
void interrupt_restore(void);

/*
 * Run a program (argv[0] looked up in PATH) and wait for it.  Its stdout goes
 * to *ret_out when ret_out is given (NUL-terminated, at most 16 MiB), else to
 * ours.  Return: its exit status (>= 0), or a negative errno if it could not
 * run or died of a signal (-EINTR).
 */
int run_program(char *const argv[], char **ret_out);

/* Human size: "1.5 GiB"; buf of at least 16 bytes. */
const char *format_bytes(uint64_t n, char *buf, size_t len);
/* Monotonic clock in microseconds. */
uint64_t now_usec(void);

#endif /* BLKSNAPCTL_UTIL_H */
