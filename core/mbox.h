/*
 * mbox reader: splits an mbox file (mboxo or mboxrd, RFC 4155), a .gz of one,
 * or a single raw message (.eml) into messages without copying them.
 * It is not a MIME parser (see mime.h) and never writes mbox files. Engine
 * only: no Lua here; errors come back as -1 and a reason in a caller buffer.
 */
#ifndef LISTDIGEST_MBOX_H
#define LISTDIGEST_MBOX_H

#include <stddef.h>

/* Default refusal threshold for inflated .gz data (a gzip bomb guard): 1 GiB,
 * as the HTTP engine's body limit. A bigger archive can be gunzipped first: a
 * plain file is mapped, not loaded. */
#ifndef MBOX_MAX_INFLATED
#define MBOX_MAX_INFLATED ((size_t)1 << 30)
#endif

/*
 * How body lines that start with "From " were quoted (RFC 4155 §2, App. A):
 *  MBOX_MBOXRD: every ^>*From  line got one more ">"; reading removes one
 *               from every ^>+From  line. Chosen when any From_ line is
 *               public-inbox's "From mboxrd@z ..." or any body line matches
 *               ^>>+From  (an mboxo writer never produces those on purpose).
 *  MBOX_MBOXO:  only ^From  was quoted; reading turns ^>From  back into
 *               ^From  and leaves ^>>From  alone. Any other mbox.
 *  MBOX_EML:    one raw RFC 5322 message with no From_ line; never split.
 * An empty input is MBOX_MBOXO with zero messages.
 *
 * From_ lines (LF or CRLF files): "From " at the start of the input, or at a
 * line start after an empty line followed by a ctime-like "d:dd" time or by
 * a header line, or, with no empty line before (MimeKit's "From - "), one
 * token plus an optional date followed by a header line. So an unquoted
 * body line "From here on, ..." does not split a message. A message's span
 * excludes its From_ line and the one empty line writers put after it.
 * Input whose first line is neither "From " nor "Name: value" is refused.
 */
enum mbox_format { MBOX_MBOXO, MBOX_MBOXRD, MBOX_EML };

struct mbox_options {
	size_t max_inflated; /* bytes; 0 = MBOX_MAX_INFLATED */
};

/* One message. Every pointer points into the box; valid until mbox_close. */
struct mbox_msg {
	const char *raw;       /* message bytes as stored (still >From-quoted) */
	size_t len;            /* excludes the From_ line and the blank separator */
	const char *from_line; /* whole From_ line, no line end; NULL for .eml */
	size_t from_len;
	int quoted;            /* 1: some line must be unquoted (mbox_unquote) */
};

struct mbox;

/*
 * Opens PATH: a regular file is memory-mapped (MAP_PRIVATE), anything else
 * (a pipe) is read into memory; gzip data (magic 1f 8b, whatever the name)
 * is inflated into one malloc'd buffer. OPTS may be NULL. On success
 * *box_out owns everything and is freed by mbox_close. On failure returns -1,
 * *box_out = NULL and ERR holds e.g. "truncated gzip stream",
 * "not an mbox file or a mail message" or strerror text (no path prefix).
 */
int mbox_open(const char *path, const struct mbox_options *opts,
              struct mbox **box_out, char *err, size_t errlen);

/*
 * Same over LEN bytes at DATA, which the box borrows: DATA must stay alive
 * and unchanged until mbox_close (unless it was gzip, which is inflated
 * into memory the box owns).
 */
int mbox_open_mem(const void *data, size_t len, const struct mbox_options *opts,
                  struct mbox **box_out, char *err, size_t errlen);

/* Unmaps/frees everything; mbox_close(NULL) does nothing. */
void mbox_close(struct mbox *box);

size_t mbox_count(const struct mbox *box);
enum mbox_format mbox_format(const struct mbox *box);
const char *mbox_format_name(enum mbox_format format); /* "mboxo", "mboxrd", "eml" */
int mbox_compressed(const struct mbox *box);           /* 1 if the input was gzip */

/* Message I (0-based), or NULL when I >= mbox_count. Owned by the box. */
const struct mbox_msg *mbox_message(const struct mbox *box, size_t i);

/*
 * Writes message I with its >From quoting removed (per the box's format)
 * to DST, which must hold mbox_message(box, i)->len bytes; returns the
 * length written (never more than len). Works whether or not ->quoted is set.
 */
size_t mbox_unquote(const struct mbox *box, size_t i, char *dst);

#endif
