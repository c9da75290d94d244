/*
 * segment: classifies lines of readable text and merges runs of one kind
 * (see segment.h). Diffs are followed by their hunk line counts (the "@@ -a,b
 * +c,d @@" header) so blank context lines that mailers stripped do not end a
 * diff early. Not a quoting normaliser: lines are never rewritten.
 */
#include "segment.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *segment_kind_name(enum segment_kind kind)
{
	switch (kind) {
	case SEGMENT_TEXT: return "text";
	case SEGMENT_QUOTE: return "quote";
	case SEGMENT_DIFF: return "diff";
	case SEGMENT_DIFFSTAT: return "diffstat";
	case SEGMENT_SIGNATURE: return "signature";
	case SEGMENT_TRAILER: return "trailer";
	case SEGMENT_LIST_FOOTER: return "list-footer";
	}
	return "text";
}

void segment_free(struct segment *segs)
{
	free(segs);
}

struct line {
	const char *p;
	size_t len;     /* without the line break */
	size_t off;     /* offset of p in the text */
	size_t full;    /* with the line break */
	unsigned char kind;
	unsigned char blank;
	unsigned char ds;   /* diffstat shape, see below */
};

enum { DS_NONE, DS_LINE, DS_SUMMARY, DS_MODE };

static int starts(const struct line *l, const char *s)
{
	size_t n = strlen(s);
	return l->len >= n && !memcmp(l->p, s, n);
}

static int contains(const struct line *l, const char *s)
{
	return l->len && memmem(l->p, l->len, s, strlen(s)) != NULL;
}

static int isdig(char c) { return c >= '0' && c <= '9'; }

/* " path/to/file.c | 12 +++---", " file | Bin 0 -> 123 bytes" */
static int ds_shape(const struct line *l)
{
	const char *p = l->p, *e = p + l->len;
	if (l->len < 4 || p[0] != ' ')
		return DS_NONE;
	const char *q = p;
	while (q < e && *q == ' ')
		q++;
	if (e - q > 6 && isdig(*q)) {
		const char *r = q;
		while (r < e && isdig(*r))
			r++;
		if (e - r >= 13 && (!memcmp(r, " file changed", 13) ||
				    (e - r >= 14 && !memcmp(r, " files changed", 14))))
			return DS_SUMMARY;
	}
	if (starts(l, " create mode ") || starts(l, " delete mode ") ||
	    starts(l, " rename ") || starts(l, " mode change ") || starts(l, " copy "))
		return DS_MODE;
	const char *bar = memchr(q, '|', (size_t)(e - q));
	if (!bar || bar == q || bar[-1] != ' ')
		return DS_NONE;
	const char *r = bar + 1;
	while (r < e && *r == ' ')
		r++;
	if (e - r >= 3 && !memcmp(r, "Bin", 3))
		return DS_LINE;
	if (r >= e || !isdig(*r))
		return DS_NONE;
	while (r < e && isdig(*r))
		r++;
	if (r < e && *r == ' ')
		r++;
	while (r < e && (*r == '+' || *r == '-'))
		r++;
	return r == e ? DS_LINE : DS_NONE;
}

static int is_trailer(const struct line *l)
{
	static const char *const tags[] = { "Cc", "Fixes", "Link", "Closes",
		"Signed-off-by", "Reviewed-by", "Acked-by", "Tested-by", "Reported-by",
		"Suggested-by", "Co-developed-by", NULL };
	const char *p = l->p, *e = p + l->len, *q = p;
	while (q < e && ((*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z') || *q == '-'))
		q++;
	if (q == p || q + 1 >= e || q[0] != ':' || (q[1] != ' ' && q[1] != '\t'))
		return 0;
	size_t n = (size_t)(q - p);
	for (int i = 0; tags[i]; i++)
		if (strlen(tags[i]) == n && !strncasecmp(p, tags[i], n))
			return 1;
	/* Any "<Something>-by:" tag (Reported-and-tested-by, Requested-by...). */
	return n > 3 && !strncasecmp(q - 3, "-by", 3);
}

static int diff_header(const struct line *l)
{
	static const char *const h[] = { "diff ", "index ", "--- ", "+++ ", "@@ ",
		"new file mode", "deleted file mode", "old mode", "new mode",
		"similarity index", "dissimilarity index", "rename from", "rename to",
		"copy from", "copy to", "Binary files", "GIT binary patch", "literal ",
		"delta ", "Index: ", "=====", "RCS file:", "retrieving revision", NULL };
	for (int i = 0; h[i]; i++)
		if (starts(l, h[i]))
			return 1;
	return 0;
}

/*
 * "@@ -a[,b] +c[,d] @@" (the unified diff hunk header): sets the old and new
 * line counts (b and d, 1 when omitted). Counts stop growing at 10^8 so a
 * hostile header cannot overflow them.
 */
int segment_hunk_header(const char *line, size_t len, long *old_out, long *new_out)
{
	const char *p = line + 4, *e = line + len;
	long v[4] = { 0, 1, 0, 1 };

	if (len < 4 || memcmp(line, "@@ -", 4) != 0)
		return 0;
	for (int k = 0; k < 2; k++) {
		if (k == 1) {
			if (p + 1 >= e || *p != ' ' || p[1] != '+')
				return 0;
			p += 2;
		}
		if (p >= e || !isdig(*p))
			return 0;
		v[2 * k] = 0;
		while (p < e && isdig(*p))
			if ((v[2 * k] = v[2 * k] * 10 + (*p++ - '0')) > 100000000)
				v[2 * k] = 100000000;
		if (p < e && *p == ',') {
			p++;
			v[2 * k + 1] = 0;
			while (p < e && isdig(*p))
				if ((v[2 * k + 1] = v[2 * k + 1] * 10 + (*p++ - '0')) > 100000000)
					v[2 * k + 1] = 100000000;
		}
	}
	*old_out = v[1];
	*new_out = v[3];
	return 1;
}

static int diff_start(const struct line *l, const struct line *next)
{
	if (starts(l, "diff --git ") || starts(l, "diff -") || starts(l, "--- a/"))
		return 1;
	if (starts(l, "Index: ") && next && starts(next, "====="))
		return 1;
	return starts(l, "--- ") && next && starts(next, "+++ ");
}

/* Mailman's footer: a rule of underscores, "<list> mailing list", the list
 * address, the listinfo URL. Returns the index of the rule or n. */
static size_t footer_start(const struct line *ln, size_t n)
{
	for (size_t i = n; i-- > 0;) {
		const struct line *l = &ln[i];
		if (l->len < 20 || l->p[0] != '_')
			continue;
		size_t k = 0;
		while (k < l->len && l->p[k] == '_')
			k++;
		if (k < l->len && !(l->p[k] == '\r' && k + 1 == l->len))
			continue;
		int list = 0, url = 0;
		for (size_t j = i + 1; j < n && j <= i + 6; j++) {
			if (contains(&ln[j], "mailing list"))
				list = 1;
			if (contains(&ln[j], "listinfo") || contains(&ln[j], "mailman") ||
			    contains(&ln[j], "://"))
				url = 1;
		}
		if (list && url)
			return i;
	}
	return n;
}

static int ends_with_ci(const struct line *l, const char *s)
{
	size_t n = strlen(s), len = l->len;
	while (len && (l->p[len - 1] == ' ' || l->p[len - 1] == '\r' || l->p[len - 1] == '\t'))
		len--;
	return len >= n && !strncasecmp(l->p + len - n, s, n);
}

static int attribution(const struct line *l)
{
	return ends_with_ci(l, "wrote:") || ends_with_ci(l, "writes:") ||
	       ends_with_ci(l, "said:") ||
	       (starts(l, "On ") && contains(l, " wrote"));
}

int segment_text(const char *text, size_t len, struct segment **segs_out, size_t *n_out,
		 char *err, size_t errlen)
{
	*segs_out = NULL;
	*n_out = 0;
	if (len == 0)
		return 0;
	size_t cap = 64, n = 0;
	struct line *ln = malloc(cap * sizeof *ln);
	if (!ln)
		goto oom;
	for (size_t off = 0; off < len;) {
		const char *nl = memchr(text + off, '\n', len - off);
		size_t end = nl ? (size_t)(nl - text) + 1 : len;
		if (n == cap) {
			struct line *t = realloc(ln, 2 * cap * sizeof *ln);
			if (!t)
				goto oom;
			ln = t;
			cap *= 2;
		}
		struct line *l = &ln[n++];
		l->p = text + off;
		l->off = off;
		l->full = end - off;
		l->len = nl ? end - off - 1 : end - off;
		if (l->len && l->p[l->len - 1] == '\r')
			l->len--;
		l->blank = 1;
		for (size_t k = 0; k < l->len; k++)
			if (l->p[k] != ' ' && l->p[k] != '\t') {
				l->blank = 0;
				break;
			}
		l->kind = SEGMENT_TEXT;
		l->ds = 0;
		off = end;
	}

	/* Diffstat blocks: runs of file lines ended by the "N files changed"
	 * summary (plus "create mode" lines after it). */
	for (size_t i = 0; i < n; i++)
		ln[i].ds = (unsigned char)ds_shape(&ln[i]);
	for (size_t i = 0; i < n; i++) {
		if (ln[i].ds != DS_LINE)
			continue;
		size_t j = i;
		while (j < n && (ln[j].ds == DS_LINE || ln[j].ds == DS_MODE))
			j++;
		if (j < n && ln[j].ds == DS_SUMMARY) {
			size_t k = j + 1;
			while (k < n && (ln[k].ds == DS_MODE || (ln[k].blank && k + 1 < n &&
								 ln[k + 1].ds == DS_MODE)))
				k++;
			for (size_t m = i; m < k; m++)
				ln[m].ds = 0xFF;  /* part of a confirmed diffstat */
			i = k - 1;
		}
	}
	for (size_t i = 0; i < n; i++)
		if (ln[i].ds == DS_SUMMARY)
			ln[i].ds = 0xFF;

	size_t foot = footer_start(ln, n);
	enum { M_NORMAL, M_DIFF, M_SIG } mode = M_NORMAL;
	int in_hunk = 0, binary = 0;
	long old_left = 0, new_left = 0;
	unsigned char prev = SEGMENT_TEXT;
	for (size_t i = 0; i < foot; i++) {
		struct line *l = &ln[i];
		const struct line *next = i + 1 < foot ? &ln[i + 1] : NULL;
		if (l->len == 3 && !memcmp(l->p, "-- ", 3) && !(mode == M_DIFF && in_hunk)) {
			mode = M_SIG;
			prev = l->kind = SEGMENT_SIGNATURE;
			continue;
		}
		if (mode == M_SIG) {
			l->kind = SEGMENT_SIGNATURE;
			continue;
		}
		if (mode == M_DIFF) {
			if (in_hunk) {
				char c = l->len ? l->p[0] : ' ';
				if (c == ' ' || c == '\t') {
					old_left--, new_left--;
				} else if (c == '-') {
					old_left--;
				} else if (c == '+') {
					new_left--;
				} else if (c != '\\') {
					in_hunk = 0;
					mode = M_NORMAL;
					goto normal;
				}
				if (old_left <= 0 && new_left <= 0)
					in_hunk = 0;
				prev = l->kind = SEGMENT_DIFF;
				continue;
			}
			if (starts(l, "\\ ")) {   /* "\ No newline at end of file" */
				prev = l->kind = SEGMENT_DIFF;
				continue;
			}
			if (segment_hunk_header(l->p, l->len, &old_left, &new_left)) {
				in_hunk = old_left > 0 || new_left > 0;
				binary = 0;
				prev = l->kind = SEGMENT_DIFF;
				continue;
			}
			if (starts(l, "GIT binary patch"))
				binary = 1;
			if (diff_header(l) || (binary && !l->blank)) {
				prev = l->kind = SEGMENT_DIFF;
				continue;
			}
			/* A blank line between two files' diffs stays in the diff. */
			if (l->blank && next && (diff_header(next) || (binary && !next->blank))) {
				prev = l->kind = SEGMENT_DIFF;
				continue;
			}
			binary = 0;
			mode = M_NORMAL;
		}
normal:
		if (diff_start(l, next)) {
			mode = M_DIFF;
			in_hunk = 0;
			prev = l->kind = SEGMENT_DIFF;
			continue;
		}
		if (l->ds == 0xFF) {
			prev = l->kind = SEGMENT_DIFFSTAT;
			continue;
		}
		if (l->len == 3 && !memcmp(l->p, "---", 3) && next && next->ds == 0xFF) {
			prev = l->kind = SEGMENT_DIFFSTAT;
			continue;
		}
		if (l->len && l->p[0] == '>') {
			prev = l->kind = SEGMENT_QUOTE;
			continue;
		}
		if (is_trailer(l)) {
			prev = l->kind = SEGMENT_TRAILER;
			continue;
		}
		if (l->blank) {
			l->kind = prev;
			continue;
		}
		prev = l->kind = SEGMENT_TEXT;
	}
	for (size_t i = foot; i < n; i++)
		ln[i].kind = SEGMENT_LIST_FOOTER;

	/* "On <date>, <name> wrote:" just before a quote belongs to the quote,
	 * with the blank lines in between; it may be wrapped onto two lines. */
	for (size_t i = 1; i < foot; i++) {
		if (ln[i].kind != SEGMENT_QUOTE || ln[i - 1].kind == SEGMENT_QUOTE)
			continue;
		size_t j = i;
		while (j > 0 && ln[j - 1].blank && ln[j - 1].kind == SEGMENT_TEXT)
			j--;
		if (j == 0 || ln[j - 1].kind != SEGMENT_TEXT || !attribution(&ln[j - 1]))
			continue;
		size_t a = j - 1;
		if (a > 0 && ln[a - 1].kind == SEGMENT_TEXT && !ln[a - 1].blank &&
		    starts(&ln[a - 1], "On ") && !starts(&ln[a], "On "))
			a--;
		for (size_t k = a; k < i; k++)
			ln[k].kind = SEGMENT_QUOTE;
	}

	size_t ns = 0;
	for (size_t i = 0; i < n; i++)
		if (i == 0 || ln[i].kind != ln[i - 1].kind)
			ns++;
	struct segment *segs = malloc(ns * sizeof *segs);
	if (!segs)
		goto oom;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (i == 0 || ln[i].kind != ln[i - 1].kind) {
			segs[k].kind = (enum segment_kind)ln[i].kind;
			segs[k].off = ln[i].off;
			segs[k].len = 0;
			k++;
		}
		segs[k - 1].len += ln[i].full;
	}
	free(ln);
	*segs_out = segs;
	*n_out = ns;
	return 0;
oom:
	free(ln);
	if (err && errlen)
		snprintf(err, errlen, "out of memory segmenting %zu bytes", len);
	return -1;
}
