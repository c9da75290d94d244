/*
 * mime: an RFC 5322 / MIME (RFC 2045-2049) message parser for reading list
 * archives. Zero-copy: headers are pointers into the caller's buffer and only
 * what is asked for is decoded. Two levels: mime_parse reads the header block
 * and the fields threading and listing need; mime_decode_body then walks the
 * MIME tree, decodes the readable text to UTF-8 and segments it.
 * Not a writer, not a validator: malformed mail parses, with defects listed.
 *
 * Typical use (the benchmark's fast path):
 *
 *	struct mime_msg *m;
 *	char err[128];
 *	if (mime_parse(raw, len, MIME_HEADERS_ONLY, &m, err, sizeof err) < 0)
 *		fail(err);            // only out of memory or a NULL argument
 *	id = mime_message_id(m, &id_len);  // never NULL (synthetic if missing)
 *	...
 *	mime_free(m);
 *
 * Ownership: every string returned by an accessor points either into raw or
 * into memory owned by the message; it is valid while both raw and the
 * message live (until mime_free) and is not NUL-terminated unless stated.
 */
#ifndef LISTDIGEST_MIME_H
#define LISTDIGEST_MIME_H

#include <stddef.h>
#include <stdint.h>

#include "segment.h"

/* Flags for mime_parse. */
#define MIME_HEADERS_ONLY 0x1u  /* do not decode the body (mime_decode_body can, later) */

#define MIME_MAX_DEPTH 32       /* nesting of multiparts and message/rfc822 */
#define MIME_MAX_PARTS 1000     /* leaves recorded per message */
#define MIME_MAX_DEFECTS 64     /* further defects are counted in one line */
#define MIME_MAX_REFS 1000      /* References kept: the first and the last 999 */
#define MIME_MAX_HEADERS 10000  /* fields kept; past it, only the first of each field read */
#define MIME_MAX_TEXT ((size_t)16 << 20)    /* bytes of readable text kept per message */
#define MIME_MAX_MESSAGE ((size_t)64 << 20) /* a larger message: headers only, body not read */

struct mime_msg;

/* One header field as it appears in raw: name without the colon, value from
 * after the colon to the end of its last line (folded, not decoded, line
 * break excluded). Both point into raw. */
struct mime_header {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};

enum mime_date_source {
	MIME_DATE_NONE,        /* no usable date anywhere */
	MIME_DATE_HEADER,      /* the Date: header */
	MIME_DATE_FROM_LINE,   /* the mbox From_ line */
	MIME_DATE_RECEIVED,    /* the topmost Received: header, after its ';' */
};

/* A leaf of the MIME tree (after mime_decode_body). Strings are
 * NUL-terminated and owned by the message. */
struct mime_part {
	const char *type;         /* lower case, e.g. "text/plain" */
	const char *charset;      /* lower case as declared, or NULL */
	const char *filename;     /* decoded UTF-8 (RFC 2231 / 2047), or NULL */
	const char *disposition;  /* lower case, e.g. "attachment", or NULL */
	const char *path;         /* IMAP-style section number, "1", "2.1" */
	size_t size;              /* bytes after transfer decoding */
};

/* An address of To or Cc (after mime_decode_body). NUL-terminated UTF-8,
 * owned by the message; name is "" when there is none. */
struct mime_address {
	const char *name;
	const char *addr;
};

/* Parses raw[0..len) (one message; a leading mbox "From " line is accepted
 * and used as from_line). Returns 0 and sets *out (free with mime_free) for
 * any input, however broken; problems are recorded as defects. Returns -1
 * with a reason in err only for a NULL argument or when memory runs out.
 * raw must outlive the message. With MIME_HEADERS_ONLY the body is not
 * touched: only the header block is scanned. */
int mime_parse(const char *raw, size_t len, unsigned flags, struct mime_msg **out,
	       char *err, size_t errlen);

/* As mime_parse, with the mbox From_ line of the message (used as the date
 * fallback; may be NULL). The line need not outlive the call. */
int mime_parse_mbox(const char *raw, size_t len, const char *from_line, size_t from_line_len,
		    unsigned flags, struct mime_msg **out, char *err, size_t errlen);

/* Walks the MIME tree, decodes the readable text to UTF-8, lists the leaves
 * and segments the text. Idempotent. Returns -1 with err only when memory
 * runs out (the message stays usable for header accessors). */
int mime_decode_body(struct mime_msg *m, char *err, size_t errlen);

/* Frees the message and everything it owns; NULL does nothing. */
void mime_free(struct mime_msg *m);

/* Header fields in order, duplicates kept. */
size_t mime_header_count(const struct mime_msg *m);
const struct mime_header *mime_header_at(const struct mime_msg *m, size_t i);
/* First field named name (case-insensitive), or NULL. */
const struct mime_header *mime_header_find(const struct mime_msg *m, const char *name);

/* Unfolds and RFC 2047-decodes one header value into a malloc'ed,
 * NUL-terminated UTF-8 string the caller frees; NULL when memory runs out.
 * *len_out (may be NULL) receives its length. */
char *mime_header_decode(const char *value, size_t len, size_t *len_out);

/* Message-ID without <>; never NULL: a missing one is replaced by
 * "synthetic.<16 hex digits>@listdigest.invalid" (a hash of raw) and
 * mime_message_id_synthetic returns 1. */
const char *mime_message_id(const struct mime_msg *m, size_t *len_out);
int mime_message_id_synthetic(const struct mime_msg *m);
/* First id of In-Reply-To, without <>, or NULL. */
const char *mime_in_reply_to(const struct mime_msg *m, size_t *len_out);
/* References ids without <>, in header order, duplicates removed. */
size_t mime_reference_count(const struct mime_msg *m);
const char *mime_reference(const struct mime_msg *m, size_t i, size_t *len_out);

/* The message's instant: *t_out seconds since the epoch (UTC), *tz_out the
 * zone as written (minutes east of UTC), *has_tz_out 0 when none was
 * written. Returns where it came from; MIME_DATE_NONE leaves the outs alone.
 * Any out-parameter may be NULL. */
enum mime_date_source mime_date(const struct mime_msg *m, int64_t *t_out, int *tz_out,
				int *has_tz_out);

/* Decoded, unfolded, blank-collapsed UTF-8 Subject; "" when missing. */
const char *mime_subject(const struct mime_msg *m, size_t *len_out);
/* From: display name ("" if none, decoded, unquoted) and address ("" if none),
 * both UTF-8 (raw 8-bit that is not UTF-8 is read as windows-1252). */
const char *mime_from_name(const struct mime_msg *m, size_t *len_out);
const char *mime_from_addr(const struct mime_msg *m, size_t *len_out);
/* The id inside List-Id's <>, or NULL. */
const char *mime_list_id(const struct mime_msg *m, size_t *len_out);

/* Defects, NUL-terminated, e.g. "bad charset \"y\" in part 1; decoded as utf-8". */
size_t mime_defect_count(const struct mime_msg *m);
const char *mime_defect(const struct mime_msg *m, size_t i);

/* After mime_decode_body (empty before): readable text (UTF-8, LF line
 * ends, NUL-terminated), its leaves, its segments (offsets into the text),
 * and the To / Cc addresses (all occurrences of each header). */
const char *mime_text(const struct mime_msg *m, size_t *len_out);
size_t mime_part_count(const struct mime_msg *m);
const struct mime_part *mime_part_at(const struct mime_msg *m, size_t i);
size_t mime_segment_count(const struct mime_msg *m);
const struct segment *mime_segment_at(const struct mime_msg *m, size_t i);
const struct mime_address *mime_to(const struct mime_msg *m, size_t *n_out);
const struct mime_address *mime_cc(const struct mime_msg *m, size_t *n_out);

#endif
