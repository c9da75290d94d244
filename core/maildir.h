/*
 * Maildir listing: the message files of a Maildir (its cur/ and new/
 * folders), sorted by name, which for Maildir names is delivery order.
 * Reading and parsing the files is the caller's; tmp/ is never read
 * (those deliveries are not finished).
 */
#ifndef LISTDIGEST_MAILDIR_H
#define LISTDIGEST_MAILDIR_H

#include <stddef.h>

struct maildir_list {
	char **paths;  /* "DIR/cur/NAME", malloc'd, sorted by NAME */
	size_t n;
};

/*
 * Lists DIR's messages. Fails (-1, reason in ERR) when DIR has neither cur/
 * nor new/, or on a read error. On success *list_out is freed with
 * maildir_free. Dot files and entries that are not regular files are skipped.
 */
int maildir_list(const char *dir, struct maildir_list **list_out, char *err, size_t errlen);

/* maildir_free(NULL) does nothing. */
void maildir_free(struct maildir_list *list);

#endif
