/*
 * Maildir listing (see maildir.h). A Maildir's file names start with the
 * delivery time, so sorting by name gives delivery order across cur/ and new/.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "maildir.h"
#include "util.h"

static int push(struct maildir_list *l, size_t *cap, const char *dir, const char *sub, const char *name)
{
	if (l->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		char **p = realloc(l->paths, ncap * sizeof *p);
		if (!p)
			return -1;
		l->paths = p;
		*cap = ncap;
	}
	size_t len = strlen(dir) + strlen(sub) + strlen(name) + 3;
	char *s = malloc(len);
	if (!s)
		return -1;
	snprintf(s, len, "%s/%s/%s", dir, sub, name);
	l->paths[l->n++] = s;
	return 0;
}

/* Sorts by the file name (after the last '/'), not by the folder. */
static int by_name(const void *a, const void *b)
{
	const char *x = strrchr(*(char *const *)a, '/') + 1;
	const char *y = strrchr(*(char *const *)b, '/') + 1;
	return strcmp(x, y);
}

int maildir_list(const char *dir, struct maildir_list **list_out, char *err, size_t errlen)
{
	static const char *const subs[] = {"cur", "new"};
	struct maildir_list *l = calloc(1, sizeof *l);
	size_t cap = 0;
	int found = 0;

	*list_out = NULL;
	if (!l)
		return util_fail(err, errlen, "out of memory");
	for (size_t i = 0; i < 2; i++) {
		char path[4096];
		DIR *d;
		struct dirent *e;

		snprintf(path, sizeof path, "%s/%s", dir, subs[i]);
		d = opendir(path);
		if (!d) {
			if (errno == ENOENT || errno == ENOTDIR)
				continue;
			maildir_free(l);
			return util_fail(err, errlen, "%s: %s", path, strerror(errno));
		}
		found = 1;
		while ((e = readdir(d))) {
			struct stat st;
			char file[4096];

			if (e->d_name[0] == '.')
				continue;
			if (snprintf(file, sizeof file, "%s/%s", path, e->d_name) >= (int)sizeof file)
				continue; /* longer than any path the system can open */
			if (stat(file, &st) != 0 || !S_ISREG(st.st_mode))
				continue;
			if (push(l, &cap, dir, subs[i], e->d_name) < 0) {
				closedir(d);
				maildir_free(l);
				return util_fail(err, errlen, "out of memory");
			}
		}
		closedir(d);
	}
	if (!found) {
		maildir_free(l);
		return util_fail(err, errlen, "not a Maildir (no cur/ or new/ folder)");
	}
	if (l->n > 1) /* qsort(NULL, 0, ...) is undefined */
		qsort(l->paths, l->n, sizeof *l->paths, by_name);
	*list_out = l;
	return 0;
}

void maildir_free(struct maildir_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		free(l->paths[i]);
	free(l->paths);
	free(l);
}
