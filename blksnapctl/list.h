/* SPDX-License-Identifier: GPL-2.0 */
/*
 * list: the chains of a backup directory, a table for people or JSON.
 */
#ifndef BLKSNAPCTL_LIST_H
#define BLKSNAPCTL_LIST_H

#include <stdbool.h>

/* Return: 0 or -errno (said why). */
int list_chains(char **dirs, bool json);

#endif /* BLKSNAPCTL_LIST_H */
