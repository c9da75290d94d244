/*
 * mime: header scan, message fields, MIME walk, transfer and charset
 * decoding, HTML to text (libxml2) and format=flowed (RFC 3676).
 * See mime.h for the contract. Encoded words and charsets live in rfc2047.c,
 * dates in date.c, body segmentation in segment.c. No Lua here.
 */
#include "mime.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/HTMLparser.h>
#include <libxml/tree.h>

#include "date.h"
#include "rfc2047.h"

/* ---- arena: one malloc per message for the common case ---------------- */

struct arena_block {
	struct arena_block *next;
	size_t used, cap;
	char data[];
};

#define ARENA_INLINE 2048

struct span {
	const char *p;
	size_t len;
};

struct part_rec {
	struct mime_part pub;
	const char *body;
	size_t blen;
	int cte;
	int role;        /* ROLE_* */
	int flowed, delsp;
	const char *cs;  /* declared charset, raw */
	size_t cs_len;
};

enum { ROLE_NONE, ROLE_PLAIN, ROLE_HTML };
enum { CTE_7BIT, CTE_QP, CTE_BASE64, CTE_UNKNOWN };

struct mime_msg {
	const char *raw;
	size_t len;
	unsigned flags;

	struct arena_block *blocks;   /* overflow blocks */
	size_t inline_used;
	char inline_mem[ARENA_INLINE];

	struct mime_header *hdrs;
	size_t nhdrs, hdrs_cap;
	struct mime_header hdr_inline[40];

	int text_cut;                 /* MIME_MAX_TEXT reached */
	const char *body;             /* top-level body, in raw */
	size_t body_len;

	int i_msgid, i_irt, i_refs, i_date, i_subject, i_from, i_received, i_ct,
	    i_cte, i_listid, i_cd;

	struct span msgid;
	int msgid_synthetic;
	struct span irt;
	struct span *refs;
	size_t nrefs, refs_cap;
	size_t refs_over;             /* References past MIME_MAX_REFS (ring, see push_ref) */
	struct span subject, from_name, from_addr, list_id;

	enum mime_date_source date_source;
	int64_t date;
	int tz, has_tz;

	const char **defects;
	size_t ndefects, defects_cap, defects_dropped;

	int body_done;
	struct mime_buf text;
	struct part_rec *parts;
	size_t nparts, parts_cap;
	int parts_capped;
	struct segment *segs;
	size_t nsegs;
	struct mime_address *to, *cc;
	size_t nto, ncc, to_cap, cc_cap;
	int oom;
};

static void *arena_alloc(struct mime_msg *m, size_t n)
{
	n = (n + 7) & ~(size_t)7;
	if (ARENA_INLINE - m->inline_used >= n) {
		void *p = m->inline_mem + m->inline_used;
		m->inline_used += n;
		return p;
	}
	struct arena_block *b = m->blocks;
	if (!b || b->cap - b->used < n) {
		size_t cap = n > 16384 ? n : 16384;
		b = malloc(sizeof *b + cap);
		if (!b) {
			m->oom = 1;
			return NULL;
		}
		b->cap = cap;
		b->used = 0;
		b->next = m->blocks;
		m->blocks = b;
	}
	void *p = b->data + b->used;
	b->used += n;
	return p;
}

static char *arena_strndup(struct mime_msg *m, const char *s, size_t n)
{
	char *p = arena_alloc(m, n + 1);
	if (!p)
		return NULL;
	if (n)
		memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

static int grow(struct mime_msg *m, void **arr, size_t *cap, size_t n, size_t elem,
		void *inline_arr)
{
	if (n < *cap)
		return 0;
	size_t nc = *cap ? *cap * 2 : 8;
	void *p;
	if (*arr == inline_arr && inline_arr) {
		p = malloc(nc * elem);
		if (p)
			memcpy(p, *arr, n * elem);
	} else {
		p = realloc(*arr, nc * elem);
	}
	if (!p) {
		m->oom = 1;
		return -1;
	}
	*arr = p;
	*cap = nc;
	return 0;
}

static void defect(struct mime_msg *m, const char *fmt, ...)
{
	if (m->ndefects >= MIME_MAX_DEFECTS) {
		m->defects_dropped++;
		return;
	}
	char buf[300];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof buf)
		n = sizeof buf - 1;
	/* the same defect twice says nothing new */
	for (size_t i = 0; i < m->ndefects; i++)
		if (!strcmp(m->defects[i], buf))
			return;
	if (grow(m, (void **)&m->defects, &m->defects_cap, m->ndefects, sizeof *m->defects, NULL))
		return;
	const char *s = arena_strndup(m, buf, (size_t)n);
	if (s)
		m->defects[m->ndefects++] = s;
}

/* Quotes a short excerpt of untrusted text for a defect message. */
static const char *excerpt(const char *s, size_t n, char *buf, size_t cap)
{
	size_t k = 0;
	for (size_t i = 0; i < n && k + 4 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		buf[k++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	if (k + 4 >= cap && n > k) {
		buf[k - 1] = '.';
		buf[k - 2] = '.';
	}
	buf[k] = '\0';
	return buf;
}

/* ---- small text helpers --------------------------------------------------- */

static int blank(char c) { return c == ' ' || c == '\t'; }
static int wsp(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static struct span trim(const char *p, size_t n)
{
	while (n && wsp(*p))
		p++, n--;
	while (n && wsp(p[n - 1]))
		n--;
	return (struct span){ p, n };
}

static int name_is(const struct mime_header *h, const char *name, size_t n)
{
	return h->name_len == n && !strncasecmp(h->name, name, n);
}

/* Decodes a header value into the arena (NUL-terminated); records what the
 * decoder had to repair as a defect naming the header. Plain ASCII is
 * returned trimmed in place (a span of v, not NUL-terminated) unless v is
 * temporary (temp), when it is copied to the arena too. */
static struct span decode_into_arena(struct mime_msg *m, const char *what, const char *v,
				     size_t n, int collapse, int temp)
{
	struct span r = { "", 0 };
	/* Fast path: plain single-line ASCII needs no copy. */
	int plain = 1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c >= 0x80 || c == '\r' || c == '\n' || c == '\t' || c == '\0' ||
		    (c == '=' && i + 1 < n && v[i + 1] == '?') ||
		    (collapse && c == ' ' && i + 1 < n && v[i + 1] == ' ')) {
			plain = 0;
			break;
		}
	}
	if (plain) {
		r = trim(v, n);
		if (temp) {
			const char *c = arena_strndup(m, r.p, r.len);
			r = c ? (struct span){ c, r.len } : (struct span){ "", 0 };
		}
		return r;
	}
	struct mime_buf b = { 0 };
	unsigned bits = rfc2047_decode(v, n, &b);
	if (b.oom) {
		m->oom = 1;
		mime_buf_free(&b);
		return r;
	}
	size_t k = 0;
	if (collapse) {
		int sp = 0;
		for (size_t i = 0; i < b.len; i++) {
			char c = b.p[i];
			if (wsp(c)) {
				sp = 1;
				continue;
			}
			if (sp && k)
				b.p[k++] = ' ';
			sp = 0;
			b.p[k++] = c;
		}
	} else {
		k = b.len;
	}
	char *s = arena_strndup(m, b.p ? b.p : "", k);
	if (s) {
		r.p = s;
		r.len = k;
	}
	mime_buf_free(&b);
	if (bits & RFC2047_BAD_CHARSET)
		defect(m, "bad charset in encoded word of %s; decoded as %s", what,
		       bits & RFC2047_FALLBACK_1252 ? "windows-1252" : "utf-8");
	if ((bits & RFC2047_8BIT_ASCII) && (bits & RFC2047_FALLBACK_1252))
		defect(m, "raw 8-bit %s is not UTF-8; decoded as windows-1252", what);
	if (bits & RFC2047_BAD_BYTES)
		defect(m, "invalid bytes in %s replaced with U+FFFD", what);
	if (bits & RFC2047_BAD_WORD)
		defect(m, "malformed encoded word in %s", what);
	return r;
}

/* ---- header scan (RFC 5322 §2.2) ----------------------------------------- */

enum { HS_HEADER, HS_END, HS_BODY_NOBLANK };

/* Reads the header at *pp. HS_HEADER: *h filled, *pp advanced. HS_END: blank
 * line or end of input, *pp is the body start. HS_BODY_NOBLANK: the line at
 * *pp is not a header, so the body starts there (RFC 5322 §2.1 wants an
 * empty line; many broken mails omit it). */
static int next_header(const char **pp, const char *e, struct mime_header *h, int *long_line)
{
	const char *p = *pp;
	if (p >= e)
		return HS_END;
	if (*p == '\n') {
		*pp = p + 1;
		return HS_END;
	}
	if (*p == '\r' && (p + 1 == e || p[1] == '\n')) {
		*pp = p + 1 + (p + 1 < e);
		return HS_END;
	}
	/* RFC 5322 §3.6.8: field-name is printable ASCII except ':' and space;
	 * "Name :" (obs-optional, §4.5.3) tolerated. */
	const char *q = p;
	while (q < e && *q != ':' && *q > ' ' && *q < 0x7f)
		q++;
	const char *ne = q;
	while (q < e && blank(*q))
		q++;
	if (q >= e || *q != ':' || ne == p)
		return HS_BODY_NOBLANK;
	h->name = p;
	h->name_len = (size_t)(ne - p);
	h->value = q + 1;
	const char *line = p;
	for (;;) {
		const char *nl = memchr(q, '\n', (size_t)(e - q));
		if (!nl) {
			q = e;
			if (e - line > 998)
				*long_line = 1;
			break;
		}
		if (nl - line > 998)   /* RFC 5322 §2.1.1 */
			*long_line = 1;
		q = nl + 1;
		if (q < e && blank(*q)) {
			line = q;
			continue;
		}
		break;
	}
	const char *ve = q;
	if (ve > h->value && ve[-1] == '\n')
		ve--;
	if (ve > h->value && ve[-1] == '\r')
		ve--;
	h->value_len = (size_t)(ve - h->value);
	*pp = q;
	return HS_HEADER;
}

/* A line that looks like a field: a token name and a colon, not a URL
 * ("https://"). Tells fields broken by a mailer from a body that lacks its
 * blank line, so it is stricter than next_header. */
static int field_like(const char *p, const char *e)
{
	const char *q = p;
	while (q < e && ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
			 (*q >= '0' && *q <= '9') || *q == '-' || *q == '_'))
		q++;
	return q > p && q < e && *q == ':' && !(e - q >= 3 && q[1] == '/' && q[2] == '/');
}

/* p is a line of a header block that is neither a field nor a fold. Mostly
 * the body starts there (the blank line is missing, RFC 5322 §2.1), but
 * mailers also break long fields without the folding blank (MimeKit issue
 * 358) or lose all folding blanks. If a field-like line follows before the
 * next empty line, the block runs to that empty line: returns it, else NULL.
 * A line starting with "--" is a boundary, never a broken field. */
static const char *broken_block_end(const char *p, const char *e)
{
	int field = 0;
	while (p < e) {
		if (*p == '\n' || (*p == '\r' && (p + 1 == e || p[1] == '\n')))
			return field ? p : NULL;
		if (e - p >= 2 && p[0] == '-' && p[1] == '-')
			return NULL;
		if (!field)
			field = field_like(p, e);
		const char *nl = memchr(p, '\n', (size_t)(e - p));
		if (!nl)
			return NULL;
		p = nl + 1;
	}
	return NULL;
}

/* One header block being read: fields so far, the end of a block found to
 * hold broken lines, and the lines skipped there. */
struct hscan {
	size_t fields, skipped;
	const char *broken_end, *first_skipped;
};

/* next_header, but a line that is neither a field nor a fold, after a
 * field, is skipped (as GMime skips it) when broken_block_end says the
 * block goes on; else it is the start of the body (as in Python's email
 * package). The look-ahead runs once per block, only on such a line. */
static int next_field(const char **pp, const char *e, struct mime_header *h, int *long_line,
		      struct hscan *st)
{
	for (;;) {
		int r = next_header(pp, e, h, long_line);
		if (r == HS_HEADER)
			st->fields++;
		if (r != HS_BODY_NOBLANK || !st->fields)
			return r;
		if (!st->broken_end)
			st->broken_end = broken_block_end(*pp, e);
		if (!st->broken_end || *pp >= st->broken_end)
			return r;
		if (!st->skipped++)
			st->first_skipped = *pp;
		const char *nl = memchr(*pp, '\n', (size_t)(e - *pp));
		*pp = nl ? nl + 1 : e;
	}
}

static void skipped_defect(struct mime_msg *m, const struct hscan *st, const char *where)
{
	const char *p = st->first_skipped;
	if (!st->skipped)
		return;
	char ex[40];
	const char *nl = memchr(p, '\n', (size_t)(st->broken_end - p));
	size_t n = (size_t)((nl ? nl : st->broken_end) - p);
	defect(m, "%zu line%s in %s neither field nor fold; skipped (at \"%s\")", st->skipped,
	       st->skipped > 1 ? "s" : "", where, excerpt(p, n < 30 ? n : 30, ex, sizeof ex));
}

/* The three MIME fields of a part's header block. */
struct part_hdrs {
	struct span ct, cte, cd;
	int has_ct;
};

/* Reads a part's header block; path names the part in defects (NULL: a
 * look-ahead that records none). Returns the body start. */
static const char *scan_part_headers(struct mime_msg *m, const char *p, const char *e,
				     struct part_hdrs *ph, const char *path)
{
	memset(ph, 0, sizeof *ph);
	struct mime_header h;
	struct hscan st = { 0 };
	int long_line = 0;
	char where[96];
	for (;;) {
		int r = next_field(&p, e, &h, &long_line, &st);
		if (r == HS_END)
			break;
		if (r == HS_BODY_NOBLANK) {
			/* A part may start with its body directly (RFC 2046 §5.1.1
			 * allows no headers, then a blank line is still needed). */
			if (path && !(p < e && (*p == '\n' || *p == '\r')))
				defect(m, "no blank line after headers of part %s", path);
			break;
		}
		if (name_is(&h, "content-type", 12) && !ph->has_ct) {
			ph->ct = (struct span){ h.value, h.value_len };
			ph->has_ct = 1;
		} else if (name_is(&h, "content-transfer-encoding", 25) && !ph->cte.p) {
			ph->cte = (struct span){ h.value, h.value_len };
		} else if (name_is(&h, "content-disposition", 19) && !ph->cd.p) {
			ph->cd = (struct span){ h.value, h.value_len };
		}
	}
	if (path && st.skipped) {
		snprintf(where, sizeof where, "the headers of part %s", path);
		skipped_defect(m, &st, where);
	}
	return p;
}

/* ---- ids (RFC 5322 §3.6.4) ---------------------------------------------- */

static const char *skip_comment(const char *p, const char *e)
{
	int depth = 0;
	while (p < e) {
		if (*p == '\\' && p + 1 < e)
			p++;
		else if (*p == '(')
			depth++;
		else if (*p == ')' && --depth == 0)
			return p + 1;
		p++;
	}
	return e;
}

/* The end of the quoted-string at p (just after its closing quote), or
 * NULL when it is never closed. */
static const char *quoted_end(const char *p, const char *e)
{
	for (p++; p < e; p++) {
		if (*p == '\\' && p + 1 < e)
			p++;
		else if (*p == '"')
			return p + 1;
	}
	return NULL;
}

static const char *skip_quoted(const char *p, const char *e)
{
	const char *q = quoted_end(p, e);
	return q ? q : e;
}

/* An id with folding or CFWS inside (obs-id-left, RFC 5322 §4.5.4) is
 * copied without the blanks; ids are compared byte-wise when threading. */
static struct span clean_id(struct mime_msg *m, const char *p, size_t n)
{
	struct span s = trim(p, n);
	int dirty = 0;
	for (size_t i = 0; i < s.len; i++)
		if (wsp(s.p[i]))
			dirty = 1;
	if (!dirty)
		return s;
	char *c = arena_alloc(m, s.len + 1);
	if (!c)
		return s;
	size_t k = 0;
	for (size_t i = 0; i < s.len; i++)
		if (!wsp(s.p[i]))
			c[k++] = s.p[i];
	c[k] = '\0';
	return (struct span){ c, k };
}

/* Calls push for each id in v: every <...> token; without any, the bare
 * tokens holding '@' (or a lone token). Comments and quoted strings (the
 * "(Name's message of ...)" of old mailers) are skipped. */
static void scan_ids(struct mime_msg *m, const char *v, size_t n, const char *what,
		     int (*push)(struct mime_msg *, struct span, void *), void *ctx)
{
	const char *p = v, *e = v + n;
	int found = 0;
	while (p < e) {
		if (*p == '(') {
			p = skip_comment(p, e);
			continue;
		}
		if (*p == '"') {
			p = skip_quoted(p, e);
			continue;
		}
		if (*p == '<') {
			const char *q = memchr(p + 1, '>', (size_t)(e - p - 1));
			if (!q) {
				const char *r = p + 1;
				while (r < e && !wsp(*r))
					r++;
				q = r;
				defect(m, "unterminated <id> in %s", what);
			}
			struct span id = clean_id(m, p + 1, (size_t)(q - p - 1));
			found = 1;   /* even "<>": the writer meant no id */
			if (id.len && push(m, id, ctx))
				return;
			p = q < e ? q + 1 : e;
			continue;
		}
		p++;
	}
	if (found)
		return;
	/* No brackets: gmane and some gateways write bare ids. */
	struct span tok[8];
	size_t nt = 0;
	p = v;
	while (p < e && nt < 8) {
		if (*p == '(') {
			p = skip_comment(p, e);
			continue;
		}
		if (*p == '"') {
			p = skip_quoted(p, e);
			continue;
		}
		if (wsp(*p) || *p == ',') {
			p++;
			continue;
		}
		const char *b = p;
		while (p < e && !wsp(*p) && *p != ',' && *p != '(' && *p != '"')
			p++;
		tok[nt++] = (struct span){ b, (size_t)(p - b) };
	}
	int at = 0;
	for (size_t i = 0; i < nt; i++)
		if (memchr(tok[i].p, '@', tok[i].len)) {
			at = 1;
			if (push(m, tok[i], ctx))
				return;
		}
	if (!at && nt == 1)
		push(m, tok[0], ctx);
	if (nt)
		defect(m, "%s without <>", what);
}

static void check_id(struct mime_msg *m, struct span id, const char *what)
{
	char ex[64];
	if (!memchr(id.p, '@', id.len))
		defect(m, "%s \"%s\" has no @", what, excerpt(id.p, id.len, ex, sizeof ex));
}

static int push_first(struct mime_msg *m, struct span id, void *ctx)
{
	(void)m;
	*(struct span *)ctx = id;
	return 1;
}

/* Keeps the first of the References (the thread's root) and the last
 * MIME_MAX_REFS - 1 (the nearest ancestors): threading needs those. Past
 * the cap, ids go round slots 1.. of refs without the duplicate check,
 * which would make a huge field quadratic; refs_done puts them in order. */
static int push_ref(struct mime_msg *m, struct span id, void *ctx)
{
	(void)ctx;
	if (m->nrefs >= MIME_MAX_REFS) {
		m->refs[1 + m->refs_over++ % (MIME_MAX_REFS - 1)] = id;
		return 0;
	}
	for (size_t i = 0; i < m->nrefs; i++)
		if (m->refs[i].len == id.len && !memcmp(m->refs[i].p, id.p, id.len))
			return 0;
	if (grow(m, (void **)&m->refs, &m->refs_cap, m->nrefs, sizeof *m->refs, NULL))
		return 1;
	m->refs[m->nrefs++] = id;
	return 0;
}

/* After push_ref overflowed: the ring in the order the ids came, then
 * without duplicates. */
static void refs_done(struct mime_msg *m)
{
	if (!m->refs_over)
		return;
	size_t ring = MIME_MAX_REFS - 1, start = 1 + m->refs_over % ring, k = 1;
	struct span *t = arena_alloc(m, ring * sizeof *t);
	if (!t)
		return;
	for (size_t i = 0; i < ring; i++)
		t[i] = m->refs[1 + (start - 1 + i) % ring];
	for (size_t i = 0; i < ring; i++) {
		size_t j = 0;
		while (j < k && !(m->refs[j].len == t[i].len && !memcmp(m->refs[j].p, t[i].p, t[i].len)))
			j++;
		if (j == k)
			m->refs[k++] = t[i];
	}
	m->nrefs = k;
	defect(m, "more than %d References; %zu in the middle dropped", MIME_MAX_REFS, m->refs_over);
}

/* ---- addresses (RFC 5322 §3.4) ------------------------------------------- */

/* Splits an address list and calls push(name, addr) for each mailbox.
 * Groups ("undisclosed-recipients:;") contribute their members. */
static void scan_addresses(struct mime_msg *m, const char *v, size_t n,
			   void (*push)(struct mime_msg *, struct span, struct span, void *),
			   void *ctx)
{
	const char *p = v, *e = v + n;
	int unbalanced = 0;
	while (p < e) {
		const char *item = p, *lt = NULL, *gt = NULL;
		const char *cmt = NULL, *cmt_end = NULL;
		int depth = 0;
		while (p < e) {
			if (*p == '"') {
				/* An unbalanced quote (`Joe S." <j@x>`) would
				 * swallow the angle-addr: read it as a literal,
				 * as GMime does; clean_name drops it. After one,
				 * all are literal (no rescans of the rest). */
				const char *q = unbalanced ? NULL : quoted_end(p, e);
				unbalanced = !q;
				p = q ? q : p + 1;
				continue;
			}
			if (*p == '(') {
				const char *q = skip_comment(p, e);
				if (!cmt && !lt) {
					cmt = p + 1;
					cmt_end = q > p + 1 && q[-1] == ')' ? q - 1 : q;
				}
				p = q;
				continue;
			}
			if (*p == '<') {
				depth = 1;
				lt = p;
				gt = NULL; /* "<a> <b": a stale gt before lt made a negative length */
			} else if (*p == '>' && depth) {
				depth = 0;
				gt = p;
			} else if (!depth && *p == ':' && !lt) {
				item = p + 1;   /* a group's display name */
				cmt = NULL;
			} else if (!depth && (*p == ',' || *p == ';')) {
				break;
			}
			p++;
		}
		const char *ie = p;
		if (p < e)
			p++;
		struct span name = { "", 0 }, addr;
		if (lt) {
			name = trim(item, (size_t)(lt - item));
			addr = trim(lt + 1, (size_t)((gt ? gt : ie) - lt - 1));
		} else {
			/* "addr (Name)": the address is the text outside comments */
			const char *a = item;
			while (a < ie && (wsp(*a)))
				a++;
			const char *b = a;
			while (b < ie && !wsp(*b) && *b != '(')
				b++;
			addr = (struct span){ a, (size_t)(b - a) };
			if (cmt)
				name = trim(cmt, (size_t)(cmt_end - cmt));
		}
		if (!addr.len && !name.len)
			continue;
		push(m, name, addr, ctx);
	}
}

/* Display name: unquoted (RFC 5322 §3.2.4), decoded (RFC 2047 §5 (3), and
 * also inside quotes, which mailers do though the RFC forbids it). */
static struct span clean_name(struct mime_msg *m, struct span name)
{
	if (!name.len)
		return name;
	char stack[256];
	char *t = name.len < sizeof stack ? stack : malloc(name.len + 1);
	if (!t)
		return (struct span){ "", 0 };
	size_t k = 0;
	for (size_t i = 0; i < name.len; i++) {
		char c = name.p[i];
		if (c == '"')
			continue;
		if (c == '\\' && i + 1 < name.len)
			c = name.p[++i];
		t[k++] = c;
	}
	struct span r = decode_into_arena(m, "address", t, k, 1, 1);
	if (t != stack)
		free(t);
	return r;
}

/* An addr-spec without blanks; raw 8-bit that is not UTF-8 (RFC 6532 allows
 * only UTF-8) is read as windows-1252, like raw 8-bit header text, so an
 * address is always UTF-8. */
static struct span clean_addr(struct mime_msg *m, struct span addr)
{
	struct span a = clean_id(m, addr.p, addr.len);
	size_t i = 0;
	while (i < a.len && (unsigned char)a.p[i] < 0x80)
		i++;
	if (i == a.len || rfc2047_utf8_valid(a.p, a.len))
		return a;
	struct mime_buf b = { 0 };
	rfc2047_to_utf8(NULL, 0, a.p, a.len, &b);
	const char *c = b.oom ? NULL : arena_strndup(m, b.p ? b.p : "", b.len);
	struct span r = c ? (struct span){ c, b.len } : (struct span){ "", 0 };
	if (b.oom)
		m->oom = 1;
	mime_buf_free(&b);
	defect(m, "raw 8-bit address is not UTF-8; decoded as windows-1252");
	return r;
}

static void push_from(struct mime_msg *m, struct span name, struct span addr, void *ctx)
{
	int *done = ctx;
	if (*done)
		return;
	*done = 1;
	m->from_name = clean_name(m, name);
	m->from_addr = clean_addr(m, addr);
}

static void push_rcpt(struct mime_msg *m, struct span name, struct span addr, void *ctx)
{
	int cc = ctx != NULL;
	struct mime_address **arr = cc ? &m->cc : &m->to;
	size_t *n = cc ? &m->ncc : &m->nto, *cap = cc ? &m->cc_cap : &m->to_cap;
	if (*n >= 10000 || grow(m, (void **)arr, cap, *n, sizeof **arr, NULL))
		return;
	struct span nm = clean_name(m, name);
	struct span ad = clean_addr(m, addr);
	const char *np = arena_strndup(m, nm.p, nm.len);
	const char *ap = arena_strndup(m, ad.p, ad.len);
	if (!np || !ap)
		return;
	(*arr)[*n].name = np;
	(*arr)[*n].addr = ap;
	(*n)++;
}

/* ---- top-level parse ------------------------------------------------------ */

static uint64_t fnv1a(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* "From sender  Thu Jan  1 00:00:00 1970": the date after the sender. The
 * epoch-0 placeholder public-inbox writes ("From mboxrd@z Thu Jan  1
 * 00:00:00 1970") and git format-patch's magic date carry no date and are
 * ignored. */
static int from_line_date(const char *s, size_t n, int64_t *t_out)
{
	if (!s || n < 5 || memcmp(s, "From ", 5))
		return -1;
	const char *p = s + 5, *e = s + n;
	while (p < e && blank(*p))
		p++;
	while (p < e && !blank(*p))
		p++;
	int64_t t;
	int tz, has;
	/* git format-patch writes the fixed "Mon Sep 17 00:00:00 2001". */
	if (date_parse(p, (size_t)(e - p), &t, &tz, &has) < 0 || t == 0 || t == 1000684800)
		return -1;
	*t_out = t;
	return 0;
}

static void set_date(struct mime_msg *m, const char *from_line, size_t from_len)
{
	int64_t th = 0, tf = 0, tr = 0;
	int tz = 0, has_tz = 0, tz2, has2;
	int ok_h = -1, ok_f, ok_r = -1;
	char ex[64];
	if (m->i_date >= 0) {
		const struct mime_header *h = &m->hdrs[m->i_date];
		ok_h = date_parse(h->value, h->value_len, &th, &tz, &has_tz);
	}
	ok_f = from_line_date(from_line, from_len, &tf);
	if (ok_f < 0 && m->i_received >= 0) {
		const struct mime_header *h = &m->hdrs[m->i_received];
		const char *semi = NULL;
		for (size_t i = h->value_len; i > 0; i--)
			if (h->value[i - 1] == ';') {
				semi = h->value + i;
				break;
			}
		if (semi)
			ok_r = date_parse(semi, (size_t)(h->value + h->value_len - semi), &tr,
					  &tz2, &has2);
	}
	int64_t fb = ok_f == 0 ? tf : tr;
	int has_fb = ok_f == 0 || ok_r == 0;
	const char *fb_name = ok_f == 0 ? "From_ line" : "Received";
	enum mime_date_source fb_src = ok_f == 0 ? MIME_DATE_FROM_LINE : MIME_DATE_RECEIVED;
	/* 1990-01-01: older dates on a Linux list are clock errors. */
	int plausible = ok_h == 0 && th >= 631152000 && (!has_fb || th <= fb + 2 * 86400);
	if (plausible) {
		m->date = th;
		m->tz = tz;
		m->has_tz = has_tz;
		m->date_source = MIME_DATE_HEADER;
		return;
	}
	if (m->i_date < 0)
		defect(m, "no Date header");
	else
		defect(m, "%s Date \"%s\"", ok_h == 0 ? "implausible" : "unparseable",
		       excerpt(m->hdrs[m->i_date].value, m->hdrs[m->i_date].value_len, ex,
			       sizeof ex));
	if (has_fb) {
		m->date = fb;
		m->tz = 0;
		m->has_tz = 0;
		m->date_source = fb_src;
		defect(m, "date taken from the %s", fb_name);
	} else if (ok_h == 0) {
		m->date = th;
		m->tz = tz;
		m->has_tz = has_tz;
		m->date_source = MIME_DATE_HEADER;
	}
}

static void set_fields(struct mime_msg *m, const char *from_line, size_t from_len)
{
	const struct mime_header *h;
	if (m->i_msgid >= 0) {
		h = &m->hdrs[m->i_msgid];
		struct span id = { NULL, 0 };
		scan_ids(m, h->value, h->value_len, "Message-ID", push_first, &id);
		if (id.p) {
			m->msgid = id;
			check_id(m, id, "Message-ID");
		}
	}
	if (!m->msgid.p) {
		/* A stable id so the same message always gets the same one. */
		char *s = arena_alloc(m, 64);
		if (s) {
			int n = snprintf(s, 64, "synthetic.%016llx@listdigest.invalid",
					 (unsigned long long)fnv1a(m->raw, m->len));
			m->msgid = (struct span){ s, (size_t)n };
		} else {
			m->msgid = (struct span){ "synthetic@listdigest.invalid", 28 };
		}
		m->msgid_synthetic = 1;
		defect(m, m->i_msgid >= 0 ? "empty Message-ID; synthetic id used"
					  : "no Message-ID; synthetic id used");
	}
	if (m->i_irt >= 0) {
		h = &m->hdrs[m->i_irt];
		struct span id = { NULL, 0 };
		scan_ids(m, h->value, h->value_len, "In-Reply-To", push_first, &id);
		if (id.p) {
			m->irt = id;
			check_id(m, id, "In-Reply-To");
		}
	}
	if (m->i_refs >= 0) {
		/* Some mailers split References over several fields. */
		for (size_t i = (size_t)m->i_refs; i < m->nhdrs; i++)
			if (name_is(&m->hdrs[i], "references", 10))
				scan_ids(m, m->hdrs[i].value, m->hdrs[i].value_len, "References",
					 push_ref, NULL);
		refs_done(m);
	}
	if (m->i_subject >= 0) {
		h = &m->hdrs[m->i_subject];
		m->subject = decode_into_arena(m, "Subject", h->value, h->value_len, 1, 0);
	} else {
		m->subject = (struct span){ "", 0 };
	}
	m->from_name = m->from_addr = (struct span){ "", 0 };
	if (m->i_from >= 0) {
		int done = 0;
		h = &m->hdrs[m->i_from];
		scan_addresses(m, h->value, h->value_len, push_from, &done);
		if (!done)
			defect(m, "no address in From");
	} else {
		defect(m, "no From header");
	}
	if (m->i_listid >= 0) {
		h = &m->hdrs[m->i_listid];
		const char *lt = memchr(h->value, '<', h->value_len);
		const char *gt = lt ? memchr(lt, '>', (size_t)(h->value + h->value_len - lt)) : NULL;
		m->list_id = lt && gt ? clean_id(m, lt + 1, (size_t)(gt - lt - 1))
				      : clean_id(m, h->value, h->value_len);
	}
	set_date(m, from_line, from_len);
}

int mime_parse_mbox(const char *raw, size_t len, const char *from_line, size_t from_line_len,
		    unsigned flags, struct mime_msg **out, char *err, size_t errlen)
{
	if (out)
		*out = NULL;
	if (!out || (!raw && len)) {
		if (err && errlen)
			snprintf(err, errlen, "mime_parse: NULL argument");
		return -1;
	}
	struct mime_msg *m = malloc(sizeof *m);
	if (!m)
		goto oom;
	memset(m, 0, offsetof(struct mime_msg, inline_mem));
	memset(&m->hdrs, 0, sizeof *m - offsetof(struct mime_msg, hdrs));
	m->raw = raw ? raw : "";
	m->len = len;
	m->flags = flags;
	m->hdrs = m->hdr_inline;
	m->hdrs_cap = sizeof m->hdr_inline / sizeof m->hdr_inline[0];
	m->i_msgid = m->i_irt = m->i_refs = m->i_date = m->i_subject = m->i_from =
		m->i_received = m->i_ct = m->i_cte = m->i_listid = m->i_cd = -1;

	const char *p = m->raw, *e = m->raw + len;
	/* An mbox separator left on the message is its From_ line. */
	if (len >= 5 && !memcmp(p, "From ", 5)) {
		const char *nl = memchr(p, '\n', len);
		const char *le = nl ? nl : e;
		if (!from_line) {
			from_line = p;
			from_line_len = (size_t)(le - p);
		}
		p = nl ? nl + 1 : e;
	}
	struct mime_header h;
	struct hscan st = { 0 };
	int long_line = 0, r;
	size_t dropped = 0;
	while ((r = next_field(&p, e, &h, &long_line, &st)) == HS_HEADER) {
		int *slot = NULL;
		switch (h.name_len) {
		case 2:
			break;
		case 4:
			if (name_is(&h, "date", 4))
				slot = &m->i_date;
			else if (name_is(&h, "from", 4))
				slot = &m->i_from;
			break;
		case 7:
			if (name_is(&h, "subject", 7))
				slot = &m->i_subject;
			else if (name_is(&h, "list-id", 7))
				slot = &m->i_listid;
			break;
		case 8:
			if (name_is(&h, "received", 8))
				slot = &m->i_received;
			break;
		case 10:
			if (name_is(&h, "message-id", 10))
				slot = &m->i_msgid;
			else if (name_is(&h, "references", 10))
				slot = &m->i_refs;
			break;
		case 11:
			if (name_is(&h, "in-reply-to", 11))
				slot = &m->i_irt;
			break;
		case 12:
			if (name_is(&h, "content-type", 12))
				slot = &m->i_ct;
			break;
		case 19:
			if (name_is(&h, "content-disposition", 19))
				slot = &m->i_cd;
			break;
		case 25:
			if (name_is(&h, "content-transfer-encoding", 25))
				slot = &m->i_cte;
			break;
		}
		/* past the cap only the first of a field we read is kept */
		if (m->nhdrs >= MIME_MAX_HEADERS && !(slot && *slot < 0)) {
			dropped++;
			continue;
		}
		if (grow(m, (void **)&m->hdrs, &m->hdrs_cap, m->nhdrs, sizeof h, m->hdr_inline))
			break;
		if (slot && *slot < 0)
			*slot = (int)m->nhdrs;
		m->hdrs[m->nhdrs++] = h;
	}
	if (dropped)
		defect(m, "more than %d header fields; %zu not kept", MIME_MAX_HEADERS, dropped);
	if (r == HS_BODY_NOBLANK && p < e) {
		char ex[40];
		if (m->nhdrs)
			defect(m, "no blank line between headers and body (at \"%s\")",
			       excerpt(p, (size_t)(e - p) < 30 ? (size_t)(e - p) : 30, ex, sizeof ex));
		else
			defect(m, "no header fields");
	}
	if (r == HS_END && !m->nhdrs)
		defect(m, "no header fields");
	skipped_defect(m, &st, "the headers");
	if (r == HS_END && p >= e && (p == m->raw || p[-1] != '\n'))
		defect(m, "message ends inside its headers");
	if (long_line)
		defect(m, "header line longer than 998 bytes (RFC 5322 2.1.1)");
	if (memchr(m->raw, '\0', (size_t)(p - m->raw)))
		defect(m, "NUL byte in headers");
	m->body = p;
	m->body_len = (size_t)(e - p);
	set_fields(m, from_line, from_line_len);
	if (m->oom)
		goto oom_free;
	*out = m;
	if (!(flags & MIME_HEADERS_ONLY) && mime_decode_body(m, err, errlen) < 0) {
		mime_free(m);
		*out = NULL;
		return -1;
	}
	return 0;
oom_free:
	mime_free(m);
oom:
	if (err && errlen)
		snprintf(err, errlen, "out of memory parsing a %zu-byte message", len);
	return -1;
}

int mime_parse(const char *raw, size_t len, unsigned flags, struct mime_msg **out,
	       char *err, size_t errlen)
{
	return mime_parse_mbox(raw, len, NULL, 0, flags, out, err, errlen);
}

void mime_free(struct mime_msg *m)
{
	if (!m)
		return;
	struct arena_block *b = m->blocks;
	while (b) {
		struct arena_block *n = b->next;
		free(b);
		b = n;
	}
	if (m->hdrs != m->hdr_inline)
		free(m->hdrs);
	free(m->refs);
	free(m->defects);
	mime_buf_free(&m->text);
	free(m->parts);
	segment_free(m->segs);
	free(m->to);
	free(m->cc);
	free(m);
}

/* ---- accessors ------------------------------------------------------------ */

#define SPAN_OUT(s)                                  \
	do {                                         \
		if (len_out)                         \
			*len_out = (s).len;          \
		return (s).p;                        \
	} while (0)

size_t mime_header_count(const struct mime_msg *m) { return m->nhdrs; }

const struct mime_header *mime_header_at(const struct mime_msg *m, size_t i)
{
	return i < m->nhdrs ? &m->hdrs[i] : NULL;
}

const struct mime_header *mime_header_find(const struct mime_msg *m, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < m->nhdrs; i++)
		if (name_is(&m->hdrs[i], name, n))
			return &m->hdrs[i];
	return NULL;
}

char *mime_header_decode(const char *value, size_t len, size_t *len_out)
{
	struct mime_buf b = { 0 };
	rfc2047_decode(value ? value : "", value ? len : 0, &b);
	if (b.oom || mime_buf_reserve(&b, 1) < 0) {
		mime_buf_free(&b);
		return NULL;
	}
	b.p[b.len] = '\0';
	if (len_out)
		*len_out = b.len;
	return b.p;
}

const char *mime_message_id(const struct mime_msg *m, size_t *len_out) { SPAN_OUT(m->msgid); }
int mime_message_id_synthetic(const struct mime_msg *m) { return m->msgid_synthetic; }
const char *mime_in_reply_to(const struct mime_msg *m, size_t *len_out) { SPAN_OUT(m->irt); }
size_t mime_reference_count(const struct mime_msg *m) { return m->nrefs; }

const char *mime_reference(const struct mime_msg *m, size_t i, size_t *len_out)
{
	if (i >= m->nrefs)
		return NULL;
	SPAN_OUT(m->refs[i]);
}

enum mime_date_source mime_date(const struct mime_msg *m, int64_t *t_out, int *tz_out,
				int *has_tz_out)
{
	if (m->date_source != MIME_DATE_NONE) {
		if (t_out)
			*t_out = m->date;
		if (tz_out)
			*tz_out = m->tz;
		if (has_tz_out)
			*has_tz_out = m->has_tz;
	}
	return m->date_source;
}

const char *mime_subject(const struct mime_msg *m, size_t *len_out) { SPAN_OUT(m->subject); }
const char *mime_from_name(const struct mime_msg *m, size_t *len_out) { SPAN_OUT(m->from_name); }
const char *mime_from_addr(const struct mime_msg *m, size_t *len_out) { SPAN_OUT(m->from_addr); }
const char *mime_list_id(const struct mime_msg *m, size_t *len_out) { SPAN_OUT(m->list_id); }

size_t mime_defect_count(const struct mime_msg *m)
{
	return m->ndefects + (m->defects_dropped ? 1 : 0);
}

const char *mime_defect(const struct mime_msg *m, size_t i)
{
	if (i < m->ndefects)
		return m->defects[i];
	if (i == m->ndefects && m->defects_dropped)
		return "more defects omitted";
	return NULL;
}

const char *mime_text(const struct mime_msg *m, size_t *len_out)
{
	if (len_out)
		*len_out = m->text.len;
	return m->text.p ? m->text.p : "";
}

size_t mime_part_count(const struct mime_msg *m) { return m->nparts; }

const struct mime_part *mime_part_at(const struct mime_msg *m, size_t i)
{
	return i < m->nparts ? &m->parts[i].pub : NULL;
}

size_t mime_segment_count(const struct mime_msg *m) { return m->nsegs; }

const struct segment *mime_segment_at(const struct mime_msg *m, size_t i)
{
	return i < m->nsegs ? &m->segs[i] : NULL;
}

const struct mime_address *mime_to(const struct mime_msg *m, size_t *n_out)
{
	*n_out = m->nto;
	return m->to;
}

const struct mime_address *mime_cc(const struct mime_msg *m, size_t *n_out)
{
	*n_out = m->ncc;
	return m->cc;
}

/* ---- Content-Type and parameters (RFC 2045 §5.1, RFC 2231) --------------- */

/* "type/subtype" lower-cased into the arena, or NULL when malformed. */
static const char *media_type(struct mime_msg *m, struct span v)
{
	const char *p = v.p, *e = v.p + v.len;
	while (p < e && (wsp(*p) || *p == '('))
		p = *p == '(' ? skip_comment(p, e) : p + 1;
	const char *b = p;
	while (p < e && *p != ';' && !wsp(*p) && *p != '(')
		p++;
	size_t n = (size_t)(p - b);
	const char *slash = memchr(b, '/', n);
	if (!n || !slash || slash == b || slash == p - 1)
		return NULL;
	char *s = arena_strndup(m, b, n);
	if (!s)
		return NULL;
	for (char *c = s; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	return s;
}

struct param_sec {
	const char *p;
	size_t len;
	int ext;      /* percent-encoded with charset'lang' (RFC 2231 §4) */
	int quoted;
};

#define MAX_SECTIONS 64

static int pct(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

/* Value of parameter name in a Content-Type / Content-Disposition value, as
 * NUL-terminated UTF-8 in the arena; NULL when absent. raw: keep the bytes
 * (for boundary); else RFC 2231 continuations and charsets are applied and
 * RFC 2047 words (which mailers put in filenames) decoded. */
static const char *param(struct mime_msg *m, struct span v, const char *name, int raw,
			 size_t *len_out)
{
	const char *p = v.p, *e = v.p + v.len;
	size_t nlen = strlen(name);
	struct param_sec sec[MAX_SECTIONS];
	int nsec = 0, have_plain = 0;
	struct param_sec plain = { 0 };
	memset(sec, 0, sizeof sec);
	/* skip the media type */
	while (p < e && *p != ';') {
		if (*p == '"')
			p = skip_quoted(p, e);
		else if (*p == '(')
			p = skip_comment(p, e);
		else
			p++;
	}
	while (p < e) {
		p++;   /* ';' */
		while (p < e && (wsp(*p) || *p == '(' || *p == ';'))
			p = *p == '(' ? skip_comment(p, e) : p + 1;
		const char *nb = p;
		while (p < e && *p != '=' && *p != ';' && !wsp(*p))
			p++;
		const char *ne = p;
		while (p < e && wsp(*p))
			p++;
		if (p >= e || *p != '=') {
			while (p < e && *p != ';')
				p++;
			continue;
		}
		p++;
		while (p < e && wsp(*p))
			p++;
		struct param_sec val = { p, 0, 0, 0 };
		if (p < e && *p == '"') {
			const char *q = skip_quoted(p, e);
			val.p = p + 1;
			val.len = (size_t)((q > p + 1 && q[-1] == '"' ? q - 1 : q) - (p + 1));
			val.quoted = 1;
			p = q;
		} else {
			while (p < e && *p != ';' && !wsp(*p))
				p++;
			val.len = (size_t)(p - val.p);
		}
		while (p < e && *p != ';')
			p++;
		size_t kn = (size_t)(ne - nb);
		if (kn < nlen || strncasecmp(nb, name, nlen))
			continue;
		const char *rest = nb + nlen, *re = ne;
		if (rest == re) {
			if (!have_plain) {
				plain = val;
				have_plain = 1;
			}
			continue;
		}
		if (*rest != '*')
			continue;
		rest++;
		int idx = 0, ext = 0;
		if (rest == re) {            /* name*=charset'lang'value */
			ext = 1;
		} else {
			int digits = 0;
			while (rest < re && *rest >= '0' && *rest <= '9' && digits < 4)
				idx = idx * 10 + (*rest++ - '0'), digits++;
			if (!digits)
				continue;
			if (rest < re && *rest == '*')
				ext = 1, rest++;
			if (rest != re)
				continue;
		}
		if (idx >= MAX_SECTIONS)
			continue;
		val.ext = ext;
		if (!sec[idx].p) {
			sec[idx] = val;
			if (idx + 1 > nsec)
				nsec = idx + 1;
		}
	}
	if (!nsec && !have_plain)
		return NULL;
	if (!nsec || !sec[0].p) {
		struct param_sec s = plain;
		if (!have_plain)
			return NULL;
		if (raw) {
			/* RFC 5322 §2.2.3: a quoted value may be folded
			 * (boundary="foo<CRLF> bar"); unfolding drops the CRLF */
			char *c = arena_alloc(m, s.len + 1);
			size_t k = 0;
			if (!c)
				return NULL;
			for (size_t i = 0; i < s.len; i++)
				if (s.p[i] != '\r' && s.p[i] != '\n')
					c[k++] = s.p[i];
			c[k] = '\0';
			if (len_out)
				*len_out = k;
			return c;
		}
		/* unescape quoted-pair, then RFC 2047 */
		char *t = malloc(s.len + 1);
		if (!t) {
			m->oom = 1;
			return NULL;
		}
		size_t k = 0;
		for (size_t i = 0; i < s.len; i++) {
			if (s.quoted && s.p[i] == '\\' && i + 1 < s.len)
				i++;
			t[k++] = s.p[i];
		}
		struct span d = decode_into_arena(m, "parameter", t, k, 0, 1);
		free(t);
		if (len_out)
			*len_out = d.len;
		return d.p;
	}
	/* RFC 2231 §3-4: concatenate sections in order; the first encoded
	 * section carries charset'language'. */
	struct mime_buf bytes = { 0 };
	const char *cs = NULL;
	size_t cs_len = 0;
	for (int i = 0; i < nsec; i++) {
		struct param_sec s = sec[i];
		if (!s.p)
			break;   /* a gap ends the value (RFC 2231 §3) */
		const char *q = s.p, *qe = s.p + s.len;
		if (s.ext && i == 0) {
			const char *a1 = memchr(q, '\'', s.len);
			const char *a2 = a1 ? memchr(a1 + 1, '\'', (size_t)(qe - a1 - 1)) : NULL;
			if (a1 && a2) {
				cs = q;
				cs_len = (size_t)(a1 - q);
				q = a2 + 1;
			}
		}
		while (q < qe) {
			if (s.ext && *q == '%' && qe - q >= 3 && pct(q[1]) >= 0 && pct(q[2]) >= 0) {
				mime_buf_putc(&bytes, (char)(pct(q[1]) * 16 + pct(q[2])));
				q += 3;
			} else if (*q == '\r' || *q == '\n') {
				q++;   /* unfolding, RFC 5322 §2.2.3 */
			} else {
				if (s.quoted && *q == '\\' && q + 1 < qe)
					q++;
				mime_buf_putc(&bytes, *q++);
			}
		}
	}
	if (raw) {
		const char *r = arena_strndup(m, bytes.p ? bytes.p : "", bytes.len);
		if (len_out)
			*len_out = bytes.len;
		if (bytes.oom)
			m->oom = 1;
		mime_buf_free(&bytes);
		return r;
	}
	struct mime_buf u = { 0 };
	unsigned bits = rfc2047_to_utf8(cs ? cs : "utf-8", cs ? cs_len : 5,
					bytes.p ? bytes.p : "", bytes.len, &u);
	if (bits & (RFC2047_BAD_CHARSET | RFC2047_BAD_BYTES))
		defect(m, "bad charset or bytes in RFC 2231 parameter %s", name);
	const char *r = arena_strndup(m, u.p ? u.p : "", u.len);
	if (len_out)
		*len_out = u.len;
	if (bytes.oom || u.oom)
		m->oom = 1;
	mime_buf_free(&bytes);
	mime_buf_free(&u);
	return r;
}

static int cte_of(struct mime_msg *m, struct span v, const char *path)
{
	struct span t = trim(v.p, v.len);
	if (!t.p || !t.len)
		return CTE_7BIT;
	size_t n = 0;
	while (n < t.len && !wsp(t.p[n]) && t.p[n] != ';' && t.p[n] != '(')
		n++;
	if ((n == 4 && !strncasecmp(t.p, "7bit", 4)) || (n == 4 && !strncasecmp(t.p, "8bit", 4)) ||
	    (n == 6 && !strncasecmp(t.p, "binary", 6)))
		return CTE_7BIT;
	if (n == 16 && !strncasecmp(t.p, "quoted-printable", 16))
		return CTE_QP;
	if (n == 6 && !strncasecmp(t.p, "base64", 6))
		return CTE_BASE64;
	char ex[40];
	defect(m, "unknown Content-Transfer-Encoding \"%s\" in part %s; read as 8bit",
	       excerpt(t.p, n, ex, sizeof ex), path);
	return CTE_UNKNOWN;
}

/* ---- the MIME walk (RFC 2046) -------------------------------------------- */

struct walk {
	struct mime_msg *m;
	int capped, deep;
};

static void join_path(char *out, size_t cap, const char *prefix, int i)
{
	if (prefix && *prefix)
		snprintf(out, cap, "%s.%d", prefix, i);
	else
		snprintf(out, cap, "%d", i);
}

static int is_patch_name(const char *f)
{
	if (!f)
		return 0;
	size_t n = strlen(f);
	return (n > 6 && !strcasecmp(f + n - 6, ".patch")) ||
	       (n > 5 && !strcasecmp(f + n - 5, ".diff"));
}

/* Finds the delimiter lines of boundary b in body (RFC 2046 §5.1.1) and
 * calls back with each body part; returns the number of parts, sets
 * *closed when the close delimiter was seen. */
struct bpart {
	const char *p, *e;
};

static size_t split_multipart(const char *body, const char *e, const char *b, size_t blen,
			      struct bpart *parts, size_t max, int *closed)
{
	size_t n = 0;
	const char *p = body, *cur = NULL;
	*closed = 0;
	while (p < e) {
		const char *hit = NULL;
		const char *s = p;
		while (s < e) {
			const char *d = memmem(s, (size_t)(e - s), "--", 2);
			if (!d)
				break;
			if ((d == body || d[-1] == '\n') && (size_t)(e - d - 2) >= blen &&
			    !memcmp(d + 2, b, blen)) {
				hit = d;
				break;
			}
			s = d + 1;
		}
		if (!hit)
			break;
		const char *after = hit + 2 + blen;
		int close = e - after >= 2 && after[0] == '-' && after[1] == '-';
		if (!close) {
			/* RFC 2046 §5.1.1: only blanks may follow a delimiter, so
			 * "--b1" does not match the line "--b10". */
			const char *t = after;
			while (t < e && blank(*t))
				t++;
			if (t < e && *t != '\r' && *t != '\n') {
				p = hit + 2;
				continue;
			}
		}
		if (cur && n < max) {
			/* the line break before a delimiter belongs to it */
			const char *pe = hit;
			if (pe > cur && pe[-1] == '\n')
				pe--;
			if (pe > cur && pe[-1] == '\r')
				pe--;
			parts[n].p = cur;
			parts[n].e = pe;
			n++;
		}
		const char *nl = memchr(after, '\n', (size_t)(e - after));
		p = nl ? nl + 1 : e;
		if (close) {
			*closed = 1;
			return n;
		}
		cur = p;
	}
	if (cur && n < max) {
		parts[n].p = cur;
		parts[n].e = e;
		n++;
	}
	return n;
}

static void walk_entity(struct walk *w, const struct part_hdrs *ph, const char *body,
			const char *end, int depth, const char *path, int msg_root,
			int readable, int digest);

static void walk_message(struct walk *w, const char *p, const char *e, int depth,
			 const char *path, int readable)
{
	struct part_hdrs ph;
	const char *body = scan_part_headers(w->m, p, e, &ph, path);
	walk_entity(w, &ph, body, e, depth, path, 1, readable, 0);
}

static void add_leaf(struct walk *w, const struct part_hdrs *ph, const char *type,
		     const char *body, const char *end, const char *path, int readable)
{
	struct mime_msg *m = w->m;
	if (m->nparts >= MIME_MAX_PARTS) {
		if (!w->capped)
			defect(m, "more than %d parts; rest ignored", MIME_MAX_PARTS);
		w->capped = 1;
		return;
	}
	if (grow(m, (void **)&m->parts, &m->parts_cap, m->nparts, sizeof *m->parts, NULL))
		return;
	struct part_rec *r = &m->parts[m->nparts++];
	memset(r, 0, sizeof *r);
	r->pub.type = type;
	r->pub.path = arena_strndup(m, path, strlen(path));
	size_t cl = 0;
	const char *cs = ph->has_ct ? param(m, ph->ct, "charset", 1, &cl) : NULL;
	if (cs) {
		struct span t = trim(cs, cl);
		char *lc = arena_strndup(m, t.p, t.len);
		if (lc)
			for (char *c = lc; *c; c++)
				if (*c >= 'A' && *c <= 'Z')
					*c = (char)(*c - 'A' + 'a');
		r->pub.charset = lc;
		r->cs = t.p;
		r->cs_len = t.len;
	}
	if (ph->cd.p) {
		struct span t = trim(ph->cd.p, ph->cd.len);
		size_t n = 0;
		while (n < t.len && t.p[n] != ';' && !wsp(t.p[n]))
			n++;
		char *lc = n ? arena_strndup(m, t.p, n) : NULL;
		if (lc)
			for (char *c = lc; *c; c++)
				if (*c >= 'A' && *c <= 'Z')
					*c = (char)(*c - 'A' + 'a');
		r->pub.disposition = lc;
		r->pub.filename = param(m, ph->cd, "filename", 0, NULL);
	}
	if (!r->pub.filename && ph->has_ct)
		r->pub.filename = param(m, ph->ct, "name", 0, NULL);
	r->cte = cte_of(m, ph->cte, path);
	r->body = body;
	r->blen = (size_t)(end - body);
	/* size after transfer decoding, without keeping the bytes */
	if (r->cte == CTE_BASE64) {
		size_t k = 0;
		for (const char *c = body; c < end; c++)
			if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
			    (*c >= '0' && *c <= '9') || *c == '+' || *c == '/')
				k++;
		r->pub.size = k / 4 * 3 + (k % 4 ? k % 4 - 1 : 0);
	} else if (r->cte == CTE_QP) {
		struct mime_buf t = { 0 };
		rfc2047_qp(body, r->blen, 0, &t);
		r->pub.size = t.len;
		mime_buf_free(&t);
	} else {
		r->pub.size = r->blen;
	}
	int attach = r->pub.disposition && !strcmp(r->pub.disposition, "attachment");
	int patch = !strcmp(type, "text/x-patch") || !strcmp(type, "text/x-diff") ||
		    !strcmp(type, "text/x-diff-patch") ||
		    (!strncmp(type, "text/", 5) && is_patch_name(r->pub.filename));
	if (readable && (patch || (!attach && !strcmp(type, "text/plain"))))
		r->role = ROLE_PLAIN;
	else if (readable && !attach && !strcmp(type, "text/html"))
		r->role = ROLE_HTML;
	if (r->role && ph->has_ct) {
		const char *f = param(m, ph->ct, "format", 1, NULL);
		const char *d = param(m, ph->ct, "delsp", 1, NULL);
		r->flowed = f && !strcasecmp(trim(f, strlen(f)).p, "flowed");
		r->delsp = d && !strncasecmp(trim(d, strlen(d)).p, "yes", 3);
	}
}

/* Which child of a multipart/alternative to read: text/plain first, then
 * a nested multipart (it may hold one), then HTML (RFC 2046 §5.1.4 orders
 * by fidelity; we want the plainest). A child with an empty body (only
 * blanks: an empty plain part beside the HTML one, or what follows the last
 * delimiter of an unclosed alternative) says nothing and comes last. */
static int alt_rank(struct mime_msg *m, const struct bpart *bp)
{
	struct part_hdrs ph;
	const char *b = scan_part_headers(m, bp->p, bp->e, &ph, NULL);
	while (b < bp->e && wsp(*b))
		b++;
	int full = b < bp->e ? 4 : 0;
	const char *t = ph.has_ct ? media_type(m, ph.ct) : "text/plain";
	if (!t)
		t = "text/plain";
	if (!strcmp(t, "text/plain"))
		return full + 3;
	if (!strncmp(t, "multipart/", 10))
		return full + 2;
	if (!strcmp(t, "text/html"))
		return full + 1;
	return full;
}

static void walk_entity(struct walk *w, const struct part_hdrs *ph, const char *body,
			const char *end, int depth, const char *path, int msg_root,
			int readable, int digest)
{
	struct mime_msg *m = w->m;
	char sub[64];
	const char *type = ph->has_ct ? media_type(m, ph->ct) : NULL;
	if (ph->has_ct && !type) {
		char ex[48];
		defect(m, "malformed Content-Type \"%s\" in part %s; read as text/plain",
		       excerpt(ph->ct.p, ph->ct.len < 40 ? ph->ct.len : 40, ex, sizeof ex),
		       msg_root ? (*path ? path : "1") : path);
	}
	if (!type)   /* RFC 2045 §5.2 default; RFC 2046 §5.1.5 in a digest */
		type = digest ? "message/rfc822" : "text/plain";
	if (!strncmp(type, "multipart/", 10)) {
		size_t blen = 0;
		const char *b = param(m, ph->ct, "boundary", 1, &blen);
		if (!b || !blen) {
			defect(m, "%s without boundary in part %s; read as text/plain", type,
			       *path ? path : "1");
			struct part_hdrs t = *ph;
			t.has_ct = 0;
			join_path(sub, sizeof sub, path, 1);
			add_leaf(w, &t, "text/plain", body, end, msg_root ? sub : path, readable);
			return;
		}
		if (depth >= MIME_MAX_DEPTH) {
			if (!w->deep)
				defect(m, "MIME nesting deeper than %d at part %s; not descended",
				       MIME_MAX_DEPTH, *path ? path : "1");
			w->deep = 1;
			return;
		}
		struct bpart stack_parts[16];
		struct bpart *bp = stack_parts;
		size_t maxp = 16, n;
		int closed;
		for (;;) {
			n = split_multipart(body, end, b, blen, bp, maxp, &closed);
			if (n < maxp || maxp >= MIME_MAX_PARTS + 1)
				break;
			size_t nm = maxp * 4 > MIME_MAX_PARTS + 1 ? MIME_MAX_PARTS + 1 : maxp * 4;
			struct bpart *t = bp == stack_parts ? malloc(nm * sizeof *t)
							    : realloc(bp, nm * sizeof *t);
			if (!t) {
				m->oom = 1;
				break;
			}
			bp = t;
			maxp = nm;
		}
		if (n == 0 && closed) {
			/* only a close delimiter: an empty multipart (RFC 2046
			 * §5.1.1 wants one part), not text; the preamble is
			 * ignored as always */
			defect(m, "%s in part %s has no body parts", type, *path ? path : "1");
		} else if (n == 0) {
			defect(m, "%s in part %s has no body parts; read as text/plain", type,
			       *path ? path : "1");
			struct part_hdrs t = *ph;
			t.has_ct = 0;
			join_path(sub, sizeof sub, path, 1);
			add_leaf(w, &t, "text/plain", body, end, msg_root ? sub : path, readable);
		} else if (!closed) {
			defect(m, "%s in part %s has no closing boundary", type, *path ? path : "1");
		}
		int alt = !strcmp(type, "multipart/alternative");
		int best = -1, best_rank = -1;
		if (alt && readable)
			for (size_t i = 0; i < n; i++) {
				int r = alt_rank(m, &bp[i]);
				if (r > best_rank)
					best_rank = r, best = (int)i;
			}
		int dig = !strcmp(type, "multipart/digest");
		for (size_t i = 0; i < n && !w->capped; i++) {
			struct part_hdrs cph;
			join_path(sub, sizeof sub, path, (int)i + 1);
			const char *cb = scan_part_headers(m, bp[i].p, bp[i].e, &cph, sub);
			walk_entity(w, &cph, cb, bp[i].e, depth + 1, sub, 0,
				    readable && (!alt || (int)i == best), dig);
		}
		if (bp != stack_parts)
			free(bp);
		return;
	}
	const char *leaf_path = path;
	if (msg_root) {
		join_path(sub, sizeof sub, path, 1);
		leaf_path = sub;
	}
	if ((!strcmp(type, "message/rfc822") || !strcmp(type, "message/global")) &&
	    cte_of(m, ph->cte, path) == CTE_7BIT) {
		if (depth >= MIME_MAX_DEPTH) {
			if (!w->deep)
				defect(m, "MIME nesting deeper than %d at part %s; not descended",
				       MIME_MAX_DEPTH, leaf_path);
			w->deep = 1;
			return;
		}
		walk_message(w, body, end, depth + 1, leaf_path, readable);
		return;
	}
	add_leaf(w, ph, type, body, end, leaf_path, readable);
}

/* ---- readable text ------------------------------------------------------- */

/* Appends s with CRLF and lone CR turned into LF. */
static void put_lf(struct mime_buf *out, const char *s, size_t n)
{
	const char *p = s, *e = s + n;
	while (p < e) {
		const char *cr = memchr(p, '\r', (size_t)(e - p));
		if (!cr) {
			mime_buf_put(out, p, (size_t)(e - p));
			break;
		}
		mime_buf_put(out, p, (size_t)(cr - p));
		if (cr + 1 < e && cr[1] == '\n') {
			p = cr + 1;
			continue;
		}
		mime_buf_putc(out, '\n');
		p = cr + 1;
	}
}

/* RFC 3676 §4.2: a line ending in a space is soft and joins the next line
 * of the same quote depth; §4.4 removes space-stuffing; §4.5 DelSp=yes
 * drops the soft space itself; "-- " is never soft (§4.3). */
static void unflow(const char *s, size_t n, int delsp, struct mime_buf *out)
{
	const char *p = s, *e = s + n;
	int open = 0, open_depth = 0;
	while (p < e) {
		const char *nl = memchr(p, '\n', (size_t)(e - p));
		const char *le = nl ? nl : e;
		int depth = 0;
		const char *c = p;
		while (c < le && *c == '>')
			depth++, c++;
		if (c < le && *c == ' ')
			c++;
		size_t len = (size_t)(le - c);
		int sig = len == 3 && !memcmp(c, "-- ", 3);
		int soft = !sig && len && c[len - 1] == ' ';
		if (open && depth != open_depth) {
			mime_buf_putc(out, '\n');   /* quote depth changed: hard break */
			open = 0;
		}
		if (!open) {
			for (int i = 0; i < depth; i++)
				mime_buf_putc(out, '>');
			if (depth)
				mime_buf_putc(out, ' ');
		}
		if (soft && delsp)
			len--;
		mime_buf_put(out, c, len);
		if (soft && nl) {
			open = 1;
			open_depth = depth;
		} else {
			if (nl)
				mime_buf_putc(out, '\n');
			open = 0;
		}
		p = nl ? nl + 1 : e;
	}
	if (open)
		mime_buf_putc(out, '\n');
}

struct html_ctx {
	struct mime_buf *out;
	int quote;     /* blockquote depth */
	int pre;
	int bol;       /* at beginning of line */
	int space;     /* a collapsed blank is pending */
};

static void html_nl(struct html_ctx *h)
{
	mime_buf_putc(h->out, '\n');
	h->bol = 1;
	h->space = 0;
}

static void html_text(struct html_ctx *h, const char *s)
{
	for (; *s; s++) {
		char c = *s;
		if (c == '\n' && h->pre) {
			html_nl(h);
			continue;
		}
		if (!h->pre && wsp(c)) {
			if (!h->bol)
				h->space = 1;
			continue;
		}
		if (h->bol) {
			for (int i = 0; i < h->quote; i++)
				mime_buf_putc(h->out, '>');
			if (h->quote)
				mime_buf_putc(h->out, ' ');
			h->bol = 0;
		} else if (h->space) {
			mime_buf_putc(h->out, ' ');
		}
		h->space = 0;
		mime_buf_putc(h->out, c);
	}
}

static int html_block(const char *n)
{
	static const char *const b[] = { "p", "div", "br", "li", "ul", "ol", "tr", "table",
		"h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote", "hr", "dd", "dt",
		"dl", "section", "article", "header", "footer", "address", NULL };
	for (int i = 0; b[i]; i++)
		if (!strcasecmp(n, b[i]))
			return 1;
	return 0;
}

static void html_walk(struct html_ctx *h, xmlNode *n, int depth)
{
	for (; n; n = n->next) {
		if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
			if (n->content)
				html_text(h, (const char *)n->content);
			continue;
		}
		if (n->type != XML_ELEMENT_NODE || !n->name)
			continue;
		const char *name = (const char *)n->name;
		if (!strcasecmp(name, "script") || !strcasecmp(name, "style") ||
		    !strcasecmp(name, "head") || !strcasecmp(name, "title"))
			continue;
		if (depth > 200)    /* libxml2 bounds depth too; keep our stack small */
			continue;
		int block = html_block(name);
		if (!strcasecmp(name, "br")) {
			html_nl(h);
			continue;
		}
		if (block && !h->bol)
			html_nl(h);
		int bq = !strcasecmp(name, "blockquote");
		int pre = !strcasecmp(name, "pre");
		if (!strcasecmp(name, "li"))
			html_text(h, "* ");
		h->quote += bq;
		h->pre += pre;
		html_walk(h, n->children, depth + 1);
		h->quote -= bq;
		h->pre -= pre;
		if (block && !h->bol)
			html_nl(h);
		if ((!strcasecmp(name, "p") || bq) && h->out->len &&
		    !(h->out->len >= 2 && h->out->p[h->out->len - 2] == '\n'))
			html_nl(h);
	}
}

/* HTML to plain text with libxml2's recovering HTML parser; input and
 * output UTF-8. Block elements break lines, <blockquote> becomes "> ". */
static void html_to_text(const char *s, size_t n, struct mime_buf *out)
{
	if (n > 0x7fffffff)
		n = 0x7fffffff;
	htmlDocPtr doc = htmlReadMemory(s, (int)n, NULL, "UTF-8",
					HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
					HTML_PARSE_NONET | HTML_PARSE_RECOVER);
	if (!doc)
		return;
	struct html_ctx h = { out, 0, 0, 1, 0 };
	html_walk(&h, xmlDocGetRootElement(doc), 0);
	if (!h.bol)
		html_nl(&h);
	xmlFreeDoc(doc);
}

static void part_text(struct mime_msg *m, struct part_rec *r)
{
	struct mime_buf dec = { 0 }, utf = { 0 }, lf = { 0 };
	const char *s = r->body;
	size_t n = r->blen;
	const char *path = r->pub.path ? r->pub.path : "?";
	/* MIME_MAX_TEXT bounds the text and, with the input cut at twice the
	 * room left (base64 decodes to 3/4, HTML shrinks), the work on it */
	size_t room = MIME_MAX_TEXT > m->text.len ? MIME_MAX_TEXT - m->text.len : 0;
	int cut = 0;
	if (room && m->text.len && m->text.p[m->text.len - 1] != '\n') {
		mime_buf_putc(&m->text, '\n');
		room--;
	}
	if (n > 2 * room + 16) {
		n = 2 * room + 16;
		cut = 1;
	}
	if (r->cte == CTE_BASE64) {
		size_t bad = rfc2047_base64(s, n, &dec);
		if (bad)
			defect(m, "%zu invalid base64 characters skipped in part %s", bad, path);
		s = dec.p ? dec.p : "";
		n = dec.len;
	} else if (r->cte == CTE_QP) {
		size_t bad = rfc2047_qp(s, n, 0, &dec);
		if (bad)
			defect(m, "%zu malformed quoted-printable escapes kept in part %s", bad, path);
		s = dec.p ? dec.p : "";
		n = dec.len;
	}
	if (memchr(s, '\0', n))
		defect(m, "NUL byte in part %s", path);
	unsigned bits = rfc2047_to_utf8(r->cs, r->cs_len, s, n, &utf);
	char ex[48];
	if (bits & RFC2047_BAD_CHARSET)
		defect(m, "bad charset \"%s\" in part %s; decoded as %s",
		       excerpt(r->cs, r->cs_len, ex, sizeof ex), path,
		       bits & RFC2047_FALLBACK_1252 ? "windows-1252" : "utf-8");
	else if ((bits & RFC2047_8BIT_ASCII) && (bits & RFC2047_FALLBACK_1252))
		defect(m, "8-bit data in %s part %s is not UTF-8; decoded as windows-1252",
		       r->cs ? "us-ascii" : "unlabelled", path);
	if (bits & RFC2047_BAD_BYTES)
		defect(m, "invalid %s bytes in part %s replaced with U+FFFD",
		       r->cs ? excerpt(r->cs, r->cs_len, ex, sizeof ex) : "utf-8", path);
	put_lf(&lf, utf.p ? utf.p : "", utf.len);
	struct mime_buf *src = &lf, fl = { 0 }, ht = { 0 };
	if (r->role == ROLE_HTML) {
		html_to_text(src->p ? src->p : "", src->len, &ht);
		src = &ht;
	} else if (r->flowed) {
		unflow(src->p ? src->p : "", src->len, r->delsp, &fl);
		src = &fl;
	}
	size_t take = src->len;
	if (take > room) {
		take = room;
		while (take && ((unsigned char)src->p[take] & 0xC0) == 0x80)
			take--;   /* not inside a UTF-8 sequence */
		cut = 1;
	}
	mime_buf_put(&m->text, src->p ? src->p : "", take);
	if (cut && !m->text_cut++)
		defect(m, "readable text longer than %zu MiB; cut in part %s",
		       MIME_MAX_TEXT >> 20, path);
	if (dec.oom || utf.oom || lf.oom || fl.oom || ht.oom)
		m->oom = 1;
	mime_buf_free(&dec);
	mime_buf_free(&utf);
	mime_buf_free(&lf);
	mime_buf_free(&fl);
	mime_buf_free(&ht);
}

int mime_decode_body(struct mime_msg *m, char *err, size_t errlen)
{
	if (m->body_done)
		return 0;
	m->body_done = 1;
	struct walk w = { m, 0, 0 };
	struct part_hdrs ph;
	memset(&ph, 0, sizeof ph);
	if (m->i_ct >= 0) {
		ph.ct = (struct span){ m->hdrs[m->i_ct].value, m->hdrs[m->i_ct].value_len };
		ph.has_ct = 1;
	}
	if (m->i_cte >= 0)
		ph.cte = (struct span){ m->hdrs[m->i_cte].value, m->hdrs[m->i_cte].value_len };
	if (m->i_cd >= 0)
		ph.cd = (struct span){ m->hdrs[m->i_cd].value, m->hdrs[m->i_cd].value_len };
	if (m->len > MIME_MAX_MESSAGE) {
		defect(m, "message of %zu MiB is larger than %zu MiB; body not read",
		       m->len >> 20, (size_t)MIME_MAX_MESSAGE >> 20);
	} else {
		walk_entity(&w, &ph, m->body, m->body + m->body_len, 0, "", 1, 1, 0);
	}
	int plain = 0;
	for (size_t i = 0; i < m->nparts; i++)
		if (m->parts[i].role == ROLE_PLAIN)
			plain = 1;
	for (size_t i = 0; i < m->nparts; i++)
		if (m->parts[i].role == (plain ? ROLE_PLAIN : ROLE_HTML))
			part_text(m, &m->parts[i]);
	if (mime_buf_reserve(&m->text, 1) == 0)
		m->text.p[m->text.len] = '\0';
	for (size_t i = 0; i < m->nhdrs; i++) {
		const struct mime_header *h = &m->hdrs[i];
		if (name_is(h, "to", 2))
			scan_addresses(m, h->value, h->value_len, push_rcpt, NULL);
		else if (name_is(h, "cc", 2))
			scan_addresses(m, h->value, h->value_len, push_rcpt, m);
	}
	char serr[128];
	if (!m->oom && segment_text(m->text.p, m->text.len, &m->segs, &m->nsegs, serr,
				    sizeof serr) < 0)
		m->oom = 1;
	if (m->oom || m->text.oom) {
		if (err && errlen)
			snprintf(err, errlen, "out of memory decoding a %zu-byte message", m->len);
		return -1;
	}
	return 0;
}
