/*
 * segment: splits a message's readable UTF-8 text into runs of lines of one
 * kind (prose, quote, diff, diffstat, signature, trailer, list footer) so
 * summaries can skip what is not discussion. Line-based heuristics tuned on
 * kernel lists; not a patch parser (no hunks are applied or validated).
 */
#ifndef LISTDIGEST_SEGMENT_H
#define LISTDIGEST_SEGMENT_H

#include <stddef.h>

enum segment_kind {
	SEGMENT_TEXT,
	SEGMENT_QUOTE,
	SEGMENT_DIFF,
	SEGMENT_DIFFSTAT,
	SEGMENT_SIGNATURE,
	SEGMENT_TRAILER,
	SEGMENT_LIST_FOOTER,
};

/* One run of text[off .. off+len). Consecutive segments tile the input. */
struct segment {
	enum segment_kind kind;
	size_t off, len;
};

/* "text", "quote", "diff", "diffstat", "signature", "trailer", "list-footer". */
const char *segment_kind_name(enum segment_kind kind);

/* Segments text[0..len). On success returns 0 and sets *segs_out to a
 * malloc'ed array (free with segment_free; NULL when len is 0) of *n_out
 * segments whose concatenation is exactly the input. Returns -1 with a
 * reason in err only when memory runs out. */
int segment_text(const char *text, size_t len, struct segment **segs_out, size_t *n_out,
		 char *err, size_t errlen);

void segment_free(struct segment *segs);

/*
 * Parses a unified-diff hunk header "@@ -a[,b] +c[,d] @@..." (LEN bytes at
 * LINE): returns 1 and the old and new line counts, or 0 when it is not one.
 */
int segment_hunk_header(const char *line, size_t len, long *old_out, long *new_out);

#endif
