/*
 * compact: the prompt compaction rules of compact.h over segmented messages.
 * Works line by line on the caller's text and writes each message's result
 * into its own buffer; the only shared state is the set of lines already in
 * the current chunk. Not a diff parser beyond hunk headers and line counts.
 */
#include "compact.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void compact_opts_default(struct compact_opts *o)
{
	o->budget = 24000;
	o->diff_lines = 3;
	o->diff_budget = 400;
	o->context_lines = 3;
	o->quote_lines = 8;
	o->header_tokens = 32;
	o->diff_share = 10;
	o->diff_min = 100;
	o->known_percent = 80;
}

/* ---- token estimate ---------------------------------------------------- */

static int is_cjk(uint32_t c)
{
	return (c >= 0x1100 && c <= 0x11FF) ||     /* Hangul Jamo */
	       (c >= 0x2E80 && c <= 0x9FFF) ||     /* radicals, CJK punctuation, kana, Han */
	       (c >= 0xA960 && c <= 0xA97F) ||
	       (c >= 0xAC00 && c <= 0xD7AF) ||     /* Hangul syllables */
	       (c >= 0xF900 && c <= 0xFAFF) ||     /* compatibility ideographs */
	       (c >= 0xFE30 && c <= 0xFE4F) ||     /* vertical forms */
	       (c >= 0xFF00 && c <= 0xFFEF) ||     /* full-width forms */
	       (c >= 0x20000 && c <= 0x3FFFF);     /* Han extensions */
}

/* Length of the valid UTF-8 sequence at p (1..4), 0 when invalid; *cp_out
 * gets the code point. RFC 3629 §4: no overlongs, no surrogates. */
static size_t utf8_seq(const unsigned char *p, size_t left, uint32_t *cp_out)
{
	unsigned char b = p[0];
	size_t n;
	uint32_t c, min;
	if (b < 0x80) {
		*cp_out = b;
		return 1;
	} else if (b >= 0xC2 && b <= 0xDF) {
		n = 2, c = b & 0x1F, min = 0x80;
	} else if (b >= 0xE0 && b <= 0xEF) {
		n = 3, c = b & 0x0F, min = 0x800;
	} else if (b >= 0xF0 && b <= 0xF4) {
		n = 4, c = b & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (left < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (p[i] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp_out = c;
	return n;
}

/* Quarter tokens of s[0..len). */
static size_t quarters(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t q = 0;
	for (size_t i = 0; i < len;) {
		if (p[i] < 0x80) {
			q++, i++;
			continue;
		}
		uint32_t c;
		size_t n = utf8_seq(p + i, len - i, &c);
		if (n == 0) {
			q++, i++;
			continue;
		}
		q += is_cjk(c) ? 4 : 2;
		i += n;
	}
	return q;
}

size_t compact_tokens(const char *s, size_t len)
{
	return (quarters(s, len) + 3) / 4;
}

/* ---- lines ------------------------------------------------------------- */

struct line {
	const char *p;
	size_t len;   /* without the line break (and a trailing CR) */
};

/* Next line of s[*off..len); returns 0 at the end. */
static int next_line(const char *s, size_t len, size_t *off, struct line *l)
{
	if (*off >= len)
		return 0;
	const char *b = s + *off;
	const char *nl = memchr(b, '\n', len - *off);
	size_t n = nl ? (size_t)(nl - b) : len - *off;
	*off += nl ? n + 1 : n;
	if (n && b[n - 1] == '\r')
		n--;
	l->p = b;
	l->len = n;
	return 1;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

static int blank(const struct line *l)
{
	for (size_t i = 0; i < l->len; i++)
		if (!is_space(l->p[i]))
			return 0;
	return 1;
}

static int starts(const struct line *l, const char *s)
{
	size_t n = strlen(s);
	return l->len >= n && !memcmp(l->p, s, n);
}

/* Normalised form of a line, as a hash: leading '>' markers and whitespace
 * stripped (quoting depth and mailers' re-indenting differ between a quote
 * and its source), whitespace runs collapsed, trailing whitespace ignored.
 * *visible_out gets the number of non-space bytes. FNV-1a, 64 bits. */
static uint64_t norm_hash(const struct line *l, size_t *visible_out)
{
	const char *p = l->p, *e = p + l->len;
	while (p < e && (*p == '>' || is_space(*p)))
		p++;
	uint64_t h = 1469598103934665603ULL;
	size_t vis = 0;
	int space = 0;
	for (; p < e; p++) {
		if (is_space(*p)) {
			space = 1;
			continue;
		}
		if (space && vis) {
			h ^= ' ';
			h *= 1099511628211ULL;
		}
		space = 0;
		h ^= (unsigned char)*p;
		h *= 1099511628211ULL;
		vis++;
	}
	*visible_out = vis;
	return h ? h : 1;   /* 0 marks an empty slot */
}

/* The normalised text is a quoted signature separator ("-- ") or the rule
 * of underscores that opens a Mailman footer. */
static int tail_marker(const struct line *l)
{
	const char *p = l->p, *e = p + l->len;
	while (p < e && (*p == '>' || is_space(*p)))
		p++;
	while (e > p && is_space(e[-1]))
		e--;
	if (e - p == 2 && p[0] == '-' && p[1] == '-')
		return 1;
	if (e - p < 10)
		return 0;
	for (; p < e; p++)
		if (*p != '_')
			return 0;
	return 1;
}

/* ---- the set of known lines -------------------------------------------- */

struct compact_known {
	uint64_t *slot;
	size_t cap, n;      /* cap: a power of two */
};

struct compact_known *compact_known_new(void)
{
	struct compact_known *k = calloc(1, sizeof *k);
	if (!k)
		return NULL;
	k->cap = 1024;
	k->slot = calloc(k->cap, sizeof *k->slot);
	if (!k->slot) {
		free(k);
		return NULL;
	}
	return k;
}

void compact_known_free(struct compact_known *k)
{
	if (!k)
		return;
	free(k->slot);
	free(k);
}

static void known_clear(struct compact_known *k)
{
	memset(k->slot, 0, k->cap * sizeof *k->slot);
	k->n = 0;
}

static int known_has(const struct compact_known *k, uint64_t h)
{
	for (size_t i = (size_t)h & (k->cap - 1);; i = (i + 1) & (k->cap - 1)) {
		if (k->slot[i] == h)
			return 1;
		if (k->slot[i] == 0)
			return 0;
	}
}

static int known_put(struct compact_known *k, uint64_t h)
{
	if (2 * (k->n + 1) > k->cap) {
		size_t cap = 2 * k->cap;
		uint64_t *s = calloc(cap, sizeof *s);
		if (!s)
			return -1;
		for (size_t i = 0; i < k->cap; i++) {
			if (!k->slot[i])
				continue;
			size_t j = (size_t)k->slot[i] & (cap - 1);
			while (s[j])
				j = (j + 1) & (cap - 1);
			s[j] = k->slot[i];
		}
		free(k->slot);
		k->slot = s;
		k->cap = cap;
	}
	size_t i = (size_t)h & (k->cap - 1);
	while (k->slot[i] && k->slot[i] != h)
		i = (i + 1) & (k->cap - 1);
	if (!k->slot[i]) {
		k->slot[i] = h;
		k->n++;
	}
	return 0;
}

int compact_known_add(struct compact_known *k, const char *text, size_t len)
{
	struct line l;
	size_t off = 0, vis;
	while (next_line(text, len, &off, &l)) {
		uint64_t h = norm_hash(&l, &vis);
		if (vis && known_put(k, h) < 0)
			return -1;
	}
	return 0;
}

/* "On Mon, 24 Jan 2022, X wrote:", "X writes:": who said it, not what.
 * Quoted ones are dropped with the quote that holds them, so a later quote
 * of them is never "known". */
static int attribution(const struct line *l)
{
	const char *p = l->p, *e = p + l->len;
	while (p < e && (*p == '>' || is_space(*p)))
		p++;
	while (e > p && is_space(e[-1]))
		e--;
	size_t n = (size_t)(e - p);
	return (n >= 6 && !memcmp(e - 6, "wrote:", 6)) || (n >= 7 && !memcmp(e - 7, "writes:", 7)) ||
	       (n > 3 && !memcmp(p, "On ", 3) && e[-1] == ',');
}

/* Substantive quote lines: at least 3 visible characters ("}", "+", "> >"
 * occur everywhere and prove nothing). A block with none is judged on its
 * non-empty lines; a block with nothing quoted at all is known. */
int compact_quote_known(const struct compact_known *k, const char *quote, size_t len,
			unsigned percent)
{
	size_t big = 0, big_known = 0, small = 0, small_known = 0, off = 0, vis;
	struct line l;
	while (next_line(quote, len, &off, &l)) {
		if (!l.len || l.p[0] != '>')
			continue;   /* attribution and blank lines are never in the source */
		uint64_t h = norm_hash(&l, &vis);
		if (!vis || attribution(&l))
			continue;
		int hit = known_has(k, h);
		if (vis >= 3)
			big++, big_known += (size_t)hit;
		else
			small++, small_known += (size_t)hit;
	}
	if (big)
		return big_known * 100 >= (size_t)percent * big;
	if (small)
		return small_known * 100 >= (size_t)percent * small;
	return 1;
}

/* ---- output buffer ----------------------------------------------------- */

struct buf {
	char *p;
	size_t len, cap;
	int oom;
	int last_blank;     /* the last line written was blank (or nothing yet) */
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (b->len + n + 1 > cap)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->oom = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* Writes one line; a blank line only after a non-blank one, so runs of blank
 * lines become one and the text never starts with one. */
static void emit(struct buf *b, const char *p, size_t n)
{
	struct line l = { p, n };
	if (blank(&l)) {
		if (b->last_blank)
			return;
		b->last_blank = 1;
		buf_add(b, "\n", 1);
		return;
	}
	b->last_blank = 0;
	buf_add(b, p, n);
	buf_add(b, "\n", 1);
}

static void emitf(struct buf *b, const char *fmt, size_t a, size_t c, size_t d)
{
	char tmp[160];
	int n = snprintf(tmp, sizeof tmp, fmt, a, c, d);
	if (n > 0)
		emit(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static void emit_all(struct buf *b, const char *s, size_t len)
{
	struct line l;
	size_t off = 0;
	while (next_line(s, len, &off, &l))
		emit(b, l.p, l.len);
}

/* Writes each line with runs of spaces made one: a diffstat's column
 * padding costs tokens and says nothing. */
static void emit_squashed(struct buf *b, const char *s, size_t len)
{
	struct line l;
	size_t off = 0;
	char tmp[512];
	while (next_line(s, len, &off, &l)) {
		if (l.len >= sizeof tmp) {
			emit(b, l.p, l.len);
			continue;
		}
		size_t n = 0;
		for (size_t i = 0; i < l.len; i++)
			if (!(l.p[i] == ' ' && i > 0 && l.p[i - 1] == ' '))
				tmp[n++] = l.p[i];
		emit(b, tmp, n);
	}
}

static size_t count_nonblank(const char *s, size_t len)
{
	struct line l;
	size_t off = 0, n = 0;
	while (next_line(s, len, &off, &l))
		n += !blank(&l);
	return n;
}

/* ---- quotes ------------------------------------------------------------ */

static int quoted(const struct line *l) { return l->len && l->p[0] == '>'; }

/* A quoted line with something in it besides markers and spaces. */
static int quoted_content(const struct line *l)
{
	if (!quoted(l))
		return 0;
	for (size_t i = 0; i < l->len; i++)
		if (l->p[i] != '>' && !is_space(l->p[i]))
			return 1;
	return 0;
}

/* The replier's own words follow: the next segment that is not blank is
 * text (a trailer, a signature or the end does not need quoted context). */
static int own_text_follows(const struct compact_msg *m, size_t s)
{
	for (size_t i = s + 1; i < m->n; i++) {
		const struct compact_segment *g = &m->segs[i];
		if (count_nonblank(g->text, g->len) == 0)
			continue;
		return g->kind == SEGMENT_TEXT;
	}
	return 0;
}

/* Writes a quote segment: dropped with a marker (and context) when known,
 * else its attribution and its last quote_lines lines. */
static void do_quote(struct buf *b, const struct compact_msg *m, size_t s,
		     const struct compact_known *k, const struct compact_opts *o,
		     size_t *dropped)
{
	const struct compact_segment *g = &m->segs[s];
	struct line l;
	size_t off = 0;
	/* end: offset where a quoted signature / footer starts (or len) */
	size_t end = g->len, content = 0;
	while (next_line(g->text, g->len, &off, &l)) {
		if (quoted_content(&l)) {
			if (content && tail_marker(&l)) {
				end = (size_t)(l.p - g->text);
				break;
			}
			content++;
		}
	}
	int tail = end < g->len;
	size_t tail_lines = tail ? count_nonblank(g->text + end, g->len - end) : 0;
	int known = compact_quote_known(k, g->text, g->len, o->known_percent);
	size_t keep = known ? (own_text_follows(m, s) && !tail ? o->context_lines : 0)
			    : o->quote_lines;
	if (keep > content)
		keep = content;

	if (!known) {
		/* attribution: the unquoted lines before the first quoted one */
		size_t attr = 0;
		off = 0;
		while (next_line(g->text, end, &off, &l) && !quoted(&l))
			if (!blank(&l) && attr < 2) {
				emit(b, l.p, l.len);
				attr++;
			}
	}
	size_t omitted = content - keep;
	if (omitted)
		emitf(b, known ? (omitted == 1 ? "[%zu quoted line omitted: it is in an earlier message above]"
					       : "[%zu quoted lines omitted: they are in an earlier message above]")
			       : (omitted == 1 ? "[%zu earlier quoted line omitted]"
					       : "[%zu earlier quoted lines omitted]"), omitted, 0, 0);
	/* the last keep content lines, verbatim; blank quote lines between
	 * them are kept only when the quote itself is kept */
	size_t idx = 0;
	off = 0;
	while (next_line(g->text, end, &off, &l)) {
		if (!quoted_content(&l)) {
			if (!known && quoted(&l) && idx > omitted)
				emit(b, l.p, l.len);
			continue;
		}
		if (idx++ >= omitted)
			emit(b, l.p, l.len);
	}
	*dropped += omitted + tail_lines;
}

/* ---- diffs ------------------------------------------------------------- */



/* "@@ -a,b +c,d @@ function" -> "@@ function": line numbers say nothing to
 * a reader of a summary, the enclosing function does. Points into l. */
static struct line short_hunk_header(const struct line *l)
{
	const char *p = l->p + 2, *e = l->p + l->len;
	const char *q = p;
	while (q + 1 < e && !(q[0] == '@' && q[1] == '@'))
		q++;
	if (q + 1 >= e)
		return *l;
	/* keep "@@" and what follows the closing "@@" */
	struct line h = { q, (size_t)(e - q) };
	return h;
}

/* "diff --git a/X b/X" -> "diff X" (the same file, said once); renames and
 * other diff commands are kept as they are. Writes into tmp. */
static struct line short_file_header(const struct line *l, char *tmp, size_t cap)
{
	const char *p = l->p + 11, *e = l->p + l->len;
	if (!starts(l, "diff --git a/") || l->len - 11 > 2 * (cap - 8))
		return *l;
	size_t rest = (size_t)(e - p);   /* "a/X b/X" */
	if (rest < 7 || rest % 2 == 0)
		return *l;
	size_t half = (rest - 1) / 2;    /* "a/X" */
	if (p[half] != ' ' || p[half + 1] != 'b' || p[half + 2] != '/' ||
	    memcmp(p + 2, p + half + 3, half - 2) != 0)
		return *l;
	int n = snprintf(tmp, cap, "diff %.*s", (int)(half - 2), p + 2);
	struct line h = { tmp, (size_t)n };
	return h;
}

/* File header lines worth their tokens: what happens to the file. */
static int file_event(const struct line *l)
{
	return starts(l, "new file mode") || starts(l, "deleted file mode") ||
	       starts(l, "rename from") || starts(l, "rename to") || starts(l, "Binary files");
}

enum { D_OTHER, D_FILE, D_EVENT, D_HUNK, D_CHANGE, D_CONTEXT };

struct ditem {
	struct line l;
	size_t seg;         /* index of its segment in the message */
	size_t hunk;        /* D_CHANGE: index of its hunk header item */
	size_t nth;         /* D_CHANGE: 0 for the hunk's first changed line... */
	size_t tok;         /* what it costs as written (with its line break) */
	unsigned char type, keep;
};

/* The message's diff lines, classified, and which of them the excerpt keeps. */
struct dplan {
	struct ditem *it;
	size_t n, cap;
	int oom;
};

static void plan_add(struct dplan *d, const struct ditem *x)
{
	if (d->oom)
		return;
	if (d->n == d->cap) {
		size_t cap = d->cap ? 2 * d->cap : 256;
		struct ditem *t = realloc(d->it, cap * sizeof *t);
		if (!t) {
			d->oom = 1;
			return;
		}
		d->it = t;
		d->cap = cap;
	}
	d->it[d->n++] = *x;
}

/* The line an item is written as: file and hunk headers shortened. */
static struct line item_line(const struct ditem *x, char *tmp, size_t cap)
{
	if (x->type == D_FILE)
		return short_file_header(&x->l, tmp, cap);
	if (x->type == D_HUNK)
		return short_hunk_header(&x->l);
	return x->l;
}

/* Classifies one diff segment's lines (hunk bodies followed by their line
 * counts, as segment.c does). Returns the segment's quarter tokens. */
static void plan_segment(struct dplan *d, const struct compact_segment *g, size_t seg)
{
	struct line l;
	size_t off = 0, hunk = 0, nth = 0;
	long old_left = 0, new_left = 0;
	int in_hunk = 0, file_named = 0;
	char tmp[512];
	while (next_line(g->text, g->len, &off, &l)) {
		struct ditem x = { l, seg, 0, 0, 0, D_OTHER, 0 };
		long a, n;
		if (in_hunk) {
			char c = l.len ? l.p[0] : ' ';
			if (c == '-')
				old_left--;
			else if (c == '+')
				new_left--;
			else if (c != '\\')
				old_left--, new_left--;
			if (old_left <= 0 && new_left <= 0)
				in_hunk = 0;
			if (c == '+' || c == '-') {
				x.type = D_CHANGE;
				x.hunk = hunk;
				x.nth = nth++;
			} else {
				x.type = D_CONTEXT;
			}
		} else if (segment_hunk_header(l.p, l.len, &a, &n)) {
			old_left = a, new_left = n;
			in_hunk = a > 0 || n > 0;
			x.type = D_HUNK;
			hunk = d->n;
			nth = 0;
		} else if (starts(&l, "diff ")) {
			file_named = 1;
			x.type = D_FILE;
		} else if (starts(&l, "+++ ") && !file_named) {
			x.type = D_EVENT;   /* a plain diff: the "+++" line names the file */
		} else if (file_event(&l)) {
			x.type = D_EVENT;
		} else if (starts(&l, "+++ ")) {
			file_named = 0;     /* the next file may be a plain diff */
		}
		struct line w = item_line(&x, tmp, sizeof tmp);
		x.tok = compact_tokens(w.p, w.len) + 1;
		plan_add(d, &x);
	}
}

/* Chooses the excerpt within budget tokens, most telling first: which files
 * (and their creation, deletion, renaming), then every hunk's header (its
 * function), then the hunks' changed lines round by round (each hunk's
 * first, then each one's second...) up to diff_lines per hunk. */
static void plan_choose(struct dplan *d, size_t budget, size_t diff_lines)
{
	size_t left = budget;
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < d->n; i++) {
			struct ditem *x = &d->it[i];
			int want = pass == 0 ? (x->type == D_FILE || x->type == D_EVENT)
					     : x->type == D_HUNK;
			if (want && x->tok <= left) {
				x->keep = 1;
				left -= x->tok;
			}
		}
	for (size_t r = 0; r < diff_lines; r++)
		for (size_t i = 0; i < d->n; i++) {
			struct ditem *x = &d->it[i];
			if (x->type == D_CHANGE && x->nth == r && d->it[x->hunk].keep &&
			    x->tok <= left) {
				x->keep = 1;
				left -= x->tok;
			}
		}
}

/* Writes diff segment seg as its chosen excerpt and a marker for the rest.
 * Returns the non-blank lines dropped. */
static size_t emit_diff(struct buf *b, const struct dplan *d, size_t seg)
{
	size_t dropped = 0, body = 0, hunks = 0, files = 0;
	char tmp[512];
	for (size_t i = 0; i < d->n; i++) {
		const struct ditem *x = &d->it[i];
		if (x->seg != seg)
			continue;
		if (x->keep) {
			struct line w = item_line(x, tmp, sizeof tmp);
			emit(b, w.p, w.len);
			continue;
		}
		if (blank(&x->l))
			continue;
		dropped++;
		if (x->type == D_CHANGE || x->type == D_CONTEXT)
			body++;
		else if (x->type == D_HUNK)
			hunks++;
		else if (x->type == D_FILE)
			files++;
	}
	if (hunks || files)
		emitf(b, "[diff: %zu more lines omitted, in %zu more hunks of %zu more files]",
		      body, hunks, files);
	else if (body)
		emitf(b, "[diff: %zu more lines omitted]", body, 0, 0);
	return dropped;
}

/* ---- one message ------------------------------------------------------- */

static void compact_one(const struct compact_msg *m, const struct compact_known *k,
			const struct compact_opts *o, struct buf *b, struct compact_out *out)
{
	struct dplan d = { 0 };
	size_t q = 0, dq = 0;
	memset(out, 0, sizeof *out);
	b->last_blank = 1;
	if (!m->cover) {
		for (size_t s = 0; s < m->n; s++)
			if (m->segs[s].kind == SEGMENT_DIFF) {
				plan_segment(&d, &m->segs[s], s);
				dq += quarters(m->segs[s].text, m->segs[s].len);
			}
		/* diff_share % of the diff, but at least diff_min (a short
		 * patch is best shown by its changed lines) and at most
		 * diff_budget */
		size_t share = ((dq + 3) / 4 * o->diff_share + 99) / 100;
		if (share < o->diff_min)
			share = o->diff_min;
		plan_choose(&d, share < o->diff_budget ? share : o->diff_budget, o->diff_lines);
		if (d.oom)
			b->oom = 1;
	}
	for (size_t s = 0; s < m->n; s++) {
		const struct compact_segment *g = &m->segs[s];
		q += quarters(g->text, g->len);
		switch (g->kind) {
		case SEGMENT_SIGNATURE:
			out->dropped[COMPACT_DROP_SIGNATURE] += count_nonblank(g->text, g->len);
			break;
		case SEGMENT_LIST_FOOTER:
			out->dropped[COMPACT_DROP_FOOTER] += count_nonblank(g->text, g->len);
			break;
		case SEGMENT_QUOTE:
			if (m->cover)
				emit_all(b, g->text, g->len);
			else
				do_quote(b, m, s, k, o, &out->dropped[COMPACT_DROP_QUOTE]);
			break;
		case SEGMENT_DIFF:
			if (m->cover)
				emit_all(b, g->text, g->len);
			else
				out->dropped[COMPACT_DROP_DIFF] += emit_diff(b, &d, s);
			break;
		case SEGMENT_DIFFSTAT:
			if (m->cover)
				emit_all(b, g->text, g->len);
			else
				emit_squashed(b, g->text, g->len);
			break;
		case SEGMENT_TEXT:
		case SEGMENT_TRAILER:
		default:
			emit_all(b, g->text, g->len);
			break;
		}
	}
	free(d.it);
	/* no trailing blank line */
	while (b->len && !b->oom && (b->p[b->len - 1] == '\n') && b->len >= 2 &&
	       b->p[b->len - 2] == '\n')
		b->p[--b->len] = '\0';
	out->raw_tokens = (q + 3) / 4;
}

/* Cuts b to at most limit tokens, marker included: at a line boundary when
 * one fits, else at a character boundary (never inside UTF-8). */
static void truncate_to(struct buf *b, size_t limit, struct compact_out *out)
{
	size_t total = compact_tokens(b->p, b->len);
	if (total <= limit)
		return;
	char marker[96];
	/* the widest marker the number can make, to budget before knowing it */
	int mlen = snprintf(marker, sizeof marker, "\n[message truncated: about %zu tokens omitted]\n",
			    (size_t)999999999999);
	size_t mtok = compact_tokens(marker, (size_t)mlen);
	size_t target = limit > mtok ? limit - mtok : 0;
	const unsigned char *p = (const unsigned char *)b->p;
	size_t qsum = 0, cut = 0, i = 0, line_cut = 0;
	while (i < b->len) {
		uint32_t c = 0;
		size_t n = p[i] < 0x80 ? 1 : utf8_seq(p + i, b->len - i, &c);
		size_t w = p[i] < 0x80 ? 1 : (n == 0 ? 1 : (is_cjk(c) ? 4 : 2));
		if (n == 0)
			n = 1;
		if ((qsum + w + 3) / 4 > target)
			break;
		qsum += w;
		i += n;
		cut = i;
		if (p[i - 1] == '\n')
			line_cut = i;
	}
	if (line_cut)
		cut = line_cut;
	else
		/* an invalid byte at the cut may start a sequence: never end on
		 * a lead byte (0xC0..0xFF) */
		while (cut && p[cut - 1] >= 0xC0)
			cut--;
	size_t omitted = total - compact_tokens(b->p, cut);
	b->len = cut;
	if (!b->oom)
		b->p[b->len] = '\0';
	mlen = snprintf(marker, sizeof marker, "%s[message truncated: about %zu tokens omitted]\n",
			(cut && b->p[cut - 1] == '\n') ? "" : "\n", omitted);
	buf_add(b, marker, (size_t)mlen);
	out->truncated = 1;
}

/* ---- the thread -------------------------------------------------------- */

void compact_free(struct compact_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		free(r->msgs[i].text);
	free(r->msgs);
	free(r->chunks);
	free(r);
}

/* What message m puts into the prompt: its own lines (whatever the
 * compaction kept of them, quotes of it are "known") and its output. */
static int remember(struct compact_known *k, const struct compact_msg *m,
		    const struct compact_out *out)
{
	if (!out->truncated)
		for (size_t s = 0; s < m->n; s++) {
			const struct compact_segment *g = &m->segs[s];
			if (g->kind != SEGMENT_QUOTE && compact_known_add(k, g->text, g->len) < 0)
				return -1;
		}
	return compact_known_add(k, out->text, out->len);
}

int compact_thread(const struct compact_msg *msgs, size_t n, const struct compact_opts *opts,
		   struct compact_result **out, char *err, size_t errlen)
{
	struct compact_opts o;
	if (opts)
		o = *opts;
	else
		compact_opts_default(&o);
	if (o.budget == 0)
		o.budget = 1;
	*out = NULL;
	struct compact_known *k = compact_known_new();
	struct compact_result *r = calloc(1, sizeof *r);
	if (!k || !r)
		goto oom;
	r->msgs = calloc(n ? n : 1, sizeof *r->msgs);
	r->chunks = calloc(n ? n : 1, sizeof *r->chunks);
	if (!r->msgs || !r->chunks)
		goto oom;
	r->n = n;
	/* a message alone may use what the budget leaves after its header */
	size_t limit = o.budget > o.header_tokens ? o.budget - o.header_tokens : 1;
	size_t chunk_tokens = 0, first = 0;
	for (size_t i = 0; i < n; i++) {
		struct buf b = { 0 };
		struct compact_out *mo = &r->msgs[i];
		compact_one(&msgs[i], k, &o, &b, mo);
		size_t t = b.oom ? 0 : compact_tokens(b.p ? b.p : "", b.len);
		if (i > first && chunk_tokens + t + o.header_tokens > o.budget) {
			/* a new chunk: it cannot see the previous chunk's messages */
			r->chunks[r->nchunks++] = (struct compact_chunk){ first, i - 1, chunk_tokens };
			first = i;
			chunk_tokens = 0;
			known_clear(k);
			free(b.p);
			b = (struct buf){ 0 };
			compact_one(&msgs[i], k, &o, &b, mo);
		}
		if (!b.oom && b.len && compact_tokens(b.p, b.len) > limit)
			truncate_to(&b, limit, mo);
		if (!b.oom && !b.p)
			buf_add(&b, "", 0);
		if (b.oom) {
			free(b.p);
			goto oom;
		}
		mo->text = b.p;
		mo->len = b.len;
		mo->tokens = compact_tokens(b.p, b.len);
		chunk_tokens += mo->tokens + o.header_tokens;
		r->tokens += mo->tokens;
		r->raw_tokens += mo->raw_tokens;
		if (remember(k, &msgs[i], mo) < 0)
			goto oom;
	}
	if (n)
		r->chunks[r->nchunks++] = (struct compact_chunk){ first, n - 1, chunk_tokens };
	compact_known_free(k);
	*out = r;
	return 0;
oom:
	compact_known_free(k);
	compact_free(r);
	if (err && errlen)
		snprintf(err, errlen, "out of memory compacting %zu messages", n);
	return -1;
}
