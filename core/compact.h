/*
 * compact: shrinks a thread's messages before they go into an LLM prompt.
 * Input is each message's segments (segment.h) in prompt order; output is
 * each message's compacted text and a split of the thread into chunks that
 * each fit a token budget (map-reduce over a long thread). It does not
 * format headers, build prompts or count with a real tokenizer.
 *
 * Rules (why: the model should read each sentence once, and what it reads
 * should be what people said, not what git generated):
 *  - text and trailer segments are kept verbatim; signature and list-footer
 *    segments are dropped; runs of blank lines become one.
 *  - a quote block (one quote segment: attribution and '>' lines) is dropped
 *    when >= known_percent of its substantive lines are lines of a message
 *    placed earlier in the same chunk. Lines are compared normalised: leading
 *    '>' markers and whitespace stripped, inner whitespace runs collapsed
 *    (quoting depth and mailers' re-indenting differ between a quote and its
 *    source). Substantive: 3 visible characters or more ("}", "+" prove
 *    nothing); attribution lines ("... wrote:") never count. The marker
 *    "[N quoted lines omitted: they are in an earlier message above]" stands
 *    for it. When the replier's own text follows the block, its last
 *    context_lines quoted lines are kept verbatim: inline review comments
 *    mean nothing without the code they answer. A block that runs into a
 *    quoted signature or footer answers the whole message: no context.
 *  - a quote of a message not in the prompt is kept, since the reply depends
 *    on it: its attribution and its last quote_lines lines ("[N earlier
 *    quoted lines omitted]" before them), without a quoted signature/footer.
 *  - a diff becomes an excerpt costing at most diff_share % of the diff's
 *    tokens, but at least diff_min and at most diff_budget per message,
 *    chosen most telling first: file names ("diff --git a/X b/X" written
 *    "diff X") with creations, deletions and renames; every hunk header
 *    (written "@@ function": line numbers say nothing to a summary); then the
 *    hunks' changed lines round by round, up to diff_lines per hunk (context
 *    lines say least). What does not fit is counted in "[diff: N more lines
 *    omitted, in H more hunks of F more files]". The "index", "---" and
 *    "+++" lines of git diffs are dropped.
 *  - diffstat segments are kept, their column padding squeezed.
 *  - a cover letter is kept whole (text, shortlog, diffstat verbatim; only
 *    signature and footer dropped).
 *  - a message whose text plus header_tokens exceeds budget is truncated at a
 *    line (else a UTF-8 character) boundary, with "[message truncated: about
 *    N tokens omitted]".
 *  - chunks: consecutive messages, each chunk's sum of (tokens +
 *    header_tokens) <= budget; a new chunk starts when the next message does
 *    not fit. Quotes are only "known" from messages of the same chunk, so each
 *    chunk reads on its own (a message starting a chunk is compacted again
 *    with an empty set).
 */
#ifndef LISTDIGEST_COMPACT_H
#define LISTDIGEST_COMPACT_H

#include <stddef.h>

#include "segment.h"

struct compact_opts {
	size_t budget;          /* tokens per request for the thread text: 24000 */
	size_t diff_lines;      /* changed lines kept per hunk: 3 */
	size_t diff_budget;     /* tokens per message for diff excerpts: 400 */
	size_t diff_share;      /* ... and at most this % of the diffs' own tokens: 10 */
	size_t diff_min;        /* ... but may use this many whatever the share: 100 */
	size_t context_lines;   /* quoted lines kept before own text when a quote is dropped: 3 */
	size_t quote_lines;     /* lines kept of a quote of a message not in the prompt: 8 */
	size_t header_tokens;   /* reserved per message for the caller's header lines: 32 */
	unsigned known_percent; /* a quote is known at this share of known lines: 80 */
};

/* Fills o with the defaults above. The default budget leaves ~8k tokens of a
 * 32k-context model for the instructions, glossary and answer. */
void compact_opts_default(struct compact_opts *o);

/* Token estimate for budgets, deterministic and tokenizer-free: an ASCII byte
 * is 1/4 token, any other non-CJK character 1/2 token, a CJK character
 * (Han, kana, Hangul, CJK punctuation, full-width forms) 1 token, an invalid
 * byte 1/4 token; the sum is rounded up. Never counts less for a
 * concatenation than the sum of its parts' exact quarters. */
size_t compact_tokens(const char *s, size_t len);

/* One input segment: text points into the caller's memory. */
struct compact_segment {
	enum segment_kind kind;
	const char *text;
	size_t len;
};

struct compact_msg {
	const struct compact_segment *segs;
	size_t n;
	int cover;              /* a cover letter: kept whole */
};

enum {
	COMPACT_DROP_QUOTE,     /* non-blank quoted lines omitted */
	COMPACT_DROP_DIFF,      /* non-blank diff lines omitted */
	COMPACT_DROP_SIGNATURE, /* non-blank signature lines */
	COMPACT_DROP_FOOTER,    /* non-blank list-footer lines */
	COMPACT_DROP_N
};

struct compact_out {
	char *text;             /* NUL-terminated, owned by the result */
	size_t len;
	size_t tokens;          /* compact_tokens(text) */
	size_t raw_tokens;      /* compact_tokens of all its segments */
	size_t dropped[COMPACT_DROP_N];
	int truncated;
};

struct compact_chunk {
	size_t first, last;     /* 0-based, inclusive */
	size_t tokens;          /* sum of tokens + header_tokens: <= budget */
};

struct compact_result {
	struct compact_out *msgs;   /* n entries, in input order */
	size_t n;
	struct compact_chunk *chunks;
	size_t nchunks;             /* >= 1 when n >= 1 */
	size_t tokens, raw_tokens;  /* sums over msgs (text only) */
};

/* Compacts msgs[0..n) (o NULL: defaults). Returns 0 with *out set (free with
 * compact_free), or -1 with a reason in err when memory runs out. The result
 * points into nothing of the input. */
int compact_thread(const struct compact_msg *msgs, size_t n, const struct compact_opts *o,
		   struct compact_result **out, char *err, size_t errlen);

void compact_free(struct compact_result *r);

/* A set of normalised lines (see the rules above): what the prompt already
 * holds. new returns NULL when memory runs out; add returns -1 then. */
struct compact_known;
struct compact_known *compact_known_new(void);
int compact_known_add(struct compact_known *k, const char *text, size_t len);
void compact_known_free(struct compact_known *k);

/* Whether the quote block quote[0..len) is known to k by the rule above. */
int compact_quote_known(const struct compact_known *k, const char *quote, size_t len,
			unsigned percent);

#endif
