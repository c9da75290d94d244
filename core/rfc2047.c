/*
 * rfc2047: encoded words (RFC 2047), charset conversion to UTF-8 and the
 * base64 / quoted-printable transfer decoders. See rfc2047.h for contracts.
 * Not a header or MIME parser; it never sees a whole message.
 */
#include "rfc2047.h"

#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int mime_buf_reserve(struct mime_buf *b, size_t extra)
{
	if (b->oom)
		return -1;
	if (b->cap - b->len > extra)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap - b->len <= extra) {
		if (cap > SIZE_MAX / 2) {
			b->oom = 1;
			return -1;
		}
		cap *= 2;
	}
	char *p = realloc(b->p, cap);
	if (!p) {
		b->oom = 1;
		return -1;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

void mime_buf_put(struct mime_buf *b, const char *s, size_t n)
{
	if (n == 0 || mime_buf_reserve(b, n) < 0)
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void mime_buf_putc(struct mime_buf *b, char c)
{
	if (mime_buf_reserve(b, 1) < 0)
		return;
	b->p[b->len++] = c;
	b->p[b->len] = '\0';
}

void mime_buf_put_cp(struct mime_buf *b, unsigned cp)
{
	char t[4];
	size_t n;
	if (cp < 0x80) {
		t[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		t[0] = (char)(0xC0 | cp >> 6);
		t[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		t[0] = (char)(0xE0 | cp >> 12);
		t[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		t[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		t[0] = (char)(0xF0 | cp >> 18);
		t[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		t[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		t[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	mime_buf_put(b, t, n);
}

void mime_buf_free(struct mime_buf *b)
{
	if (!b)
		return;
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
	b->oom = 0;
}

/* Length of the well-formed UTF-8 sequence at s (RFC 3629 §4), 0 if none. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	if (c < 0x80)
		return 1;
	if (c < 0xC2 || c > 0xF4)
		return 0;
	if (c < 0xE0)
		return (n >= 2 && (s[1] & 0xC0) == 0x80) ? 2 : 0;
	if (c < 0xF0) {
		if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
			return 0;
		if (c == 0xE0 && s[1] < 0xA0)
			return 0;
		if (c == 0xED && s[1] > 0x9F)
			return 0;
		return 3;
	}
	if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 ||
	    (s[3] & 0xC0) != 0x80)
		return 0;
	if (c == 0xF0 && s[1] < 0x90)
		return 0;
	if (c == 0xF4 && s[1] > 0x8F)
		return 0;
	return 4;
}

int rfc2047_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *e = p + n;
	while (p < e) {
		/* Most mail is ASCII: skip it eight bytes at a time. */
		while (e - p >= 8) {
			uint64_t w;
			memcpy(&w, p, 8);
			if (w & 0x8080808080808080ull)
				break;
			p += 8;
		}
		if (p >= e)
			break;
		if (*p < 0x80) {
			p++;
			continue;
		}
		size_t k = utf8_seq(p, (size_t)(e - p));
		if (!k)
			return 0;
		p += k;
	}
	return 1;
}

/* Appends UTF-8 input, replacing each invalid byte with U+FFFD. */
static unsigned put_utf8_repair(const char *s, size_t n, struct mime_buf *out)
{
	const unsigned char *p = (const unsigned char *)s, *e = p + n;
	unsigned bits = 0;
	const unsigned char *run = p;
	while (p < e) {
		if (*p < 0x80) {
			p++;
			continue;
		}
		size_t k = utf8_seq(p, (size_t)(e - p));
		if (k) {
			p += k;
			continue;
		}
		mime_buf_put(out, (const char *)run, (size_t)(p - run));
		mime_buf_put_cp(out, 0xFFFD);
		bits |= RFC2047_BAD_BYTES;
		p++;
		run = p;
	}
	mime_buf_put(out, (const char *)run, (size_t)(p - run));
	return bits;
}

/* windows-1252 0x80..0x9F (WHATWG encoding standard); the five holes map to
 * the C1 control of the same value, as browsers do. 0xA0.. is Latin-1. */
static const unsigned short cp1252_hi[32] = {
	0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
	0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
	0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
	0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
};

static void put_cp1252(const char *s, size_t n, struct mime_buf *out)
{
	const unsigned char *p = (const unsigned char *)s, *e = p + n, *run = p;
	mime_buf_reserve(out, n + n / 2);
	for (; p < e; p++) {
		if (*p < 0x80)
			continue;
		mime_buf_put(out, (const char *)run, (size_t)(p - run));
		mime_buf_put_cp(out, *p < 0xA0 ? cp1252_hi[*p - 0x80] : *p);
		run = p + 1;
	}
	mime_buf_put(out, (const char *)run, (size_t)(p - run));
}

enum cs_class { CS_ASCII, CS_UTF8, CS_1252, CS_ICONV, CS_BOGUS };

/* Normalises a charset label into name (lower case, no quotes, no RFC 2231
 * language) and classifies it. Aliases map labels to the superset real
 * mailers mean: GB2312 mail routinely carries GBK characters, Latin-1 mail
 * windows-1252 ones (the WHATWG encoding standard does the same). */
static enum cs_class cs_classify(const char *cs, size_t n, char *name, size_t cap,
				 const char **iconv_name)
{
	size_t k = 0;
	while (n && (*cs == ' ' || *cs == '\t' || *cs == '"' || *cs == '\''))
		cs++, n--;
	while (n && (cs[n - 1] == ' ' || cs[n - 1] == '\t' || cs[n - 1] == '"' ||
		     cs[n - 1] == '\''))
		n--;
	for (size_t i = 0; i < n && k + 1 < cap; i++) {
		char c = cs[i];
		if (c == '*')
			break;
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		name[k++] = c;
	}
	name[k] = '\0';
	*iconv_name = name;
	static const char *const ascii[] = { "", "us-ascii", "ascii", "ansi_x3.4-1968",
		"us_ascii", "iso646-us", "us", "646", NULL };
	static const char *const utf8[] = { "utf-8", "utf8", "unicode-1-1-utf-8",
		"x-unicode20utf8", NULL };
	static const char *const w1252[] = { "windows-1252", "cp1252", "x-cp1252",
		"iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "latin-1", "l1",
		"iso-ir-100", "ibm819", "cp819", NULL };
	static const char *const bogus[] = { "y", "yes", "n", "no", "true", "false",
		"8", "8bit", "7bit", "unknown", "unknown-8bit", "x-unknown", "default",
		"x-user-defined", "charset", "none", "null", NULL };
	static const struct { const char *label, *name; } alias[] = {
		{ "gb2312", "GB18030" }, { "gbk", "GB18030" }, { "x-gbk", "GB18030" },
		{ "cp936", "GB18030" }, { "euc-cn", "GB18030" }, { "gb_2312-80", "GB18030" },
		{ "chinese", "GB18030" }, { "x-euc-cn", "GB18030" },
		{ "ks_c_5601-1987", "CP949" }, { "euc-kr", "CP949" }, { "ks_c_5601", "CP949" },
		{ "shift_jis", "CP932" }, { "sjis", "CP932" }, { "x-sjis", "CP932" },
		{ "shift-jis", "CP932" }, { "windows-31j", "CP932" },
		{ "iso-2022-jp", "ISO-2022-JP-2" }, { "big5", "BIG5-HKSCS" },
		{ "x-mac-roman", "MACINTOSH" }, { "iso-8859-8-i", "ISO-8859-8" },
		{ NULL, NULL } };
	for (int i = 0; ascii[i]; i++)
		if (!strcmp(name, ascii[i]))
			return CS_ASCII;
	for (int i = 0; utf8[i]; i++)
		if (!strcmp(name, utf8[i]))
			return CS_UTF8;
	for (int i = 0; w1252[i]; i++)
		if (!strcmp(name, w1252[i]))
			return CS_1252;
	for (int i = 0; bogus[i]; i++)
		if (!strcmp(name, bogus[i]))
			return CS_BOGUS;
	for (int i = 0; alias[i].label; i++)
		if (!strcmp(name, alias[i].label)) {
			*iconv_name = alias[i].name;
			break;
		}
	/* A label iconv could mistake for a file path or option is not a charset. */
	for (const char *c = name; *c; c++)
		if (*c == '/' || *c == ',' || *c == ' ')
			return CS_BOGUS;
	return CS_ICONV;
}

/* iconv_open loads gconv modules and costs microseconds, so descriptors are
 * cached per thread, including failures (a bogus label is tried once). */
#define CD_CACHE 16
static _Thread_local struct {
	char name[40];
	iconv_t cd;
	int used;
} cd_cache[CD_CACHE];
static _Thread_local unsigned cd_next;

static iconv_t cd_get(const char *name)
{
	for (int i = 0; i < CD_CACHE; i++)
		if (cd_cache[i].used && !strcmp(cd_cache[i].name, name))
			return cd_cache[i].cd;
	iconv_t cd = iconv_open("UTF-8", name);
	unsigned slot = cd_next++ % CD_CACHE;
	if (cd_cache[slot].used && cd_cache[slot].cd != (iconv_t)-1)
		iconv_close(cd_cache[slot].cd);
	size_t n = strlen(name);
	if (n >= sizeof cd_cache[slot].name) {
		cd_cache[slot].used = 0;
		return cd;  /* too long to cache; leaks nothing only if -1 */
	}
	memcpy(cd_cache[slot].name, name, n + 1);
	cd_cache[slot].cd = cd;
	cd_cache[slot].used = 1;
	return cd;
}

static unsigned put_iconv(iconv_t cd, const char *s, size_t n, struct mime_buf *out)
{
	unsigned bits = 0;
	char *in = (char *)s;
	size_t inleft = n;
	iconv(cd, NULL, NULL, NULL, NULL);
	while (inleft) {
		if (mime_buf_reserve(out, inleft * 2 + 16) < 0)
			return bits;
		char *o = out->p + out->len;
		size_t oleft = out->cap - out->len - 1;
		size_t r = iconv(cd, &in, &inleft, &o, &oleft);
		out->len = (size_t)(o - out->p);
		out->p[out->len] = '\0';
		if (r != (size_t)-1)
			break;
		if (errno == E2BIG)
			continue;
		/* EILSEQ, or EINVAL for a sequence cut at the end: RFC 2047 §6.3
		 * lets us show something; we show U+FFFD and go on. */
		mime_buf_put_cp(out, 0xFFFD);
		bits |= RFC2047_BAD_BYTES;
		if (errno == EILSEQ) {
			in++;
			inleft--;
		} else {
			inleft = 0;
		}
		iconv(cd, NULL, NULL, NULL, NULL);
	}
	/* Stateful encodings (ISO-2022-JP) may owe a final shift sequence. */
	if (mime_buf_reserve(out, 16) == 0) {
		char *o = out->p + out->len;
		size_t oleft = out->cap - out->len - 1;
		iconv(cd, NULL, NULL, &o, &oleft);
		out->len = (size_t)(o - out->p);
		out->p[out->len] = '\0';
	}
	return bits;
}

unsigned rfc2047_to_utf8(const char *cs, size_t cs_len, const char *s, size_t n,
			 struct mime_buf *out)
{
	char name[40];
	const char *iname;
	enum cs_class k = cs_classify(cs ? cs : "", cs ? cs_len : 0, name, sizeof name, &iname);
	iconv_t cd = (iconv_t)-1;
	if (k == CS_ICONV) {
		cd = cd_get(iname);
		if (cd == (iconv_t)-1)
			k = CS_BOGUS;
	}
	switch (k) {
	case CS_ASCII:
		if (rfc2047_utf8_valid(s, n)) {
			mime_buf_put(out, s, n);
			for (size_t i = 0; i < n; i++)
				if ((unsigned char)s[i] >= 0x80)
					return RFC2047_8BIT_ASCII;
			return 0;
		}
		put_cp1252(s, n, out);
		return RFC2047_8BIT_ASCII | RFC2047_FALLBACK_1252;
	case CS_UTF8:
		return put_utf8_repair(s, n, out);
	case CS_1252:
		put_cp1252(s, n, out);
		return 0;
	case CS_ICONV: {
		size_t start = out->len;
		unsigned bits = put_iconv(cd, s, n, out);
		/* glibc's UTF-8 decoder (used when a mangled label such as
		 * "\xffutf8" normalises to UTF-8) lets lead bytes F5..F7 through:
		 * what iconv wrote must be valid UTF-8 too, else repair it. */
		if (!out->oom && !rfc2047_utf8_valid(out->p + start, out->len - start)) {
			size_t len = out->len - start;
			char *copy = malloc(len ? len : 1);
			if (!copy) {
				out->oom = 1;
				return bits;
			}
			memcpy(copy, out->p + start, len);
			out->len = start;
			bits |= put_utf8_repair(copy, len, out);
			free(copy);
		}
		return bits;
	}
	case CS_BOGUS:
	default:
		if (rfc2047_utf8_valid(s, n)) {
			mime_buf_put(out, s, n);
			return RFC2047_BAD_CHARSET;
		}
		put_cp1252(s, n, out);
		return RFC2047_BAD_CHARSET | RFC2047_FALLBACK_1252;
	}
}

static int b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

size_t rfc2047_base64(const char *s, size_t n, struct mime_buf *out)
{
	size_t bad = 0;
	unsigned acc = 0;
	int bits = 0;
	if (mime_buf_reserve(out, n / 4 * 3 + 4) < 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		int v = b64val(c);
		if (v < 0) {
			/* RFC 2045 §6.8: padding ends a quantum; a later quantum
			 * (concatenated encodings) starts afresh. Others are skipped. */
			if (c == '=')
				bits = 0, acc = 0;
			else if (c != '\r' && c != '\n' && c != ' ' && c != '\t')
				bad++;
			continue;
		}
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out->p[out->len++] = (char)((acc >> bits) & 0xFF);
			if (out->len + 1 >= out->cap && mime_buf_reserve(out, 64) < 0)
				return bad;
		}
	}
	if (out->p)
		out->p[out->len] = '\0';
	return bad;
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

size_t rfc2047_qp(const char *s, size_t n, int header_q, struct mime_buf *out)
{
	size_t bad = 0;
	if (mime_buf_reserve(out, n + 1) < 0)
		return 0;
	const char *p = s, *e = s + n;
	while (p < e) {
		const char *q = p;
		while (q < e && *q != '=' && !(header_q && *q == '_'))
			q++;
		mime_buf_put(out, p, (size_t)(q - p));
		if (q >= e)
			break;
		if (*q == '_') {      /* RFC 2047 §4.2 (2) */
			mime_buf_putc(out, ' ');
			p = q + 1;
			continue;
		}
		int h1 = q + 1 < e ? hexval((unsigned char)q[1]) : -1;
		int h2 = q + 2 < e ? hexval((unsigned char)q[2]) : -1;
		if (h1 >= 0 && h2 >= 0) {
			mime_buf_putc(out, (char)(h1 * 16 + h2));
			p = q + 3;
			continue;
		}
		/* RFC 2045 §6.7 (5): "=" then optional blanks then a line break
		 * is a soft break. */
		const char *r = q + 1;
		while (r < e && (*r == ' ' || *r == '\t'))
			r++;
		if (r < e && *r == '\r')
			r++;
		if (r < e && *r == '\n') {
			p = r + 1;
			continue;
		}
		if (r >= e) {
			p = e;
			continue;
		}
		bad++;
		mime_buf_putc(out, '=');
		p = q + 1;
	}
	return bad;
}

/* One encoded word at p (RFC 2047 §2): "=?" charset "?" B|Q "?" text "?=".
 * Folding whitespace inside the text is tolerated and dropped (some mailers
 * fold long words). Returns the end or NULL if p is not an encoded word. */
static const char *ew_parse(const char *p, const char *e, const char **cs, size_t *cs_len,
			    char *enc, const char **txt, size_t *txt_len)
{
	if (e - p < 8 || p[0] != '=' || p[1] != '?')
		return NULL;
	const char *c = p + 2, *q = c;
	while (q < e && *q != '?' && *q != ' ' && *q != '\t' && *q != '\n' && *q != '\r')
		q++;
	if (q == c || q + 3 > e || *q != '?')
		return NULL;
	char k = q[1];
	if (k == 'b')
		k = 'B';
	if (k == 'q')
		k = 'Q';
	if ((k != 'B' && k != 'Q') || q[2] != '?')
		return NULL;
	const char *t = q + 3, *r = t;
	while (r + 1 < e && !(r[0] == '?' && r[1] == '='))
		r++;
	if (r + 1 >= e)
		return NULL;
	*cs = c;
	*cs_len = (size_t)(q - c);
	*enc = k;
	*txt = t;
	*txt_len = (size_t)(r - t);
	return r + 2;
}

/* Appends raw header text; 8-bit bytes are UTF-8 if valid, else read as
 * windows-1252 (RFC 6532 allows UTF-8; anything else is a defect). */
static unsigned put_raw(const char *s, size_t n, struct mime_buf *out)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80) {
			if (rfc2047_utf8_valid(s, n)) {
				mime_buf_put(out, s, n);
				return 0;
			}
			put_cp1252(s, n, out);
			return RFC2047_8BIT_ASCII | RFC2047_FALLBACK_1252;
		}
	mime_buf_put(out, s, n);
	return 0;
}

static int blank(char c) { return c == ' ' || c == '\t'; }

/* RFC 5322 §2.2.3 unfolding into u; stops at the end of the header. A fold
 * and the blanks on both sides become one space so "a \r\n b" reads "a b". */
static size_t unfold(const char *v, size_t n, char *u)
{
	size_t k = 0, i = 0;
	while (i < n) {
		if (blank(v[i])) {
			i++;
			continue;
		}
		if (v[i] != '\r' && v[i] != '\n')
			break;
		size_t j = i + (v[i] == '\r');
		if (j < n && v[j] == '\n')
			j++;
		if (j >= n || !blank(v[j]))
			return 0;
		i = j;
	}
	while (i < n) {
		char c = v[i];
		if (c == '\r' || c == '\n') {
			size_t j = i;
			if (v[j] == '\r')
				j++;
			if (j < n && v[j] == '\n')
				j++;
			if (j >= n || !blank(v[j]))
				break;  /* the header ends here */
			while (k && blank(u[k - 1]))
				k--;
			while (j < n && blank(v[j]))
				j++;
			u[k++] = ' ';
			i = j;
			continue;
		}
		u[k++] = c;
		i++;
	}
	while (k && blank(u[k - 1]))
		k--;
	return k;
}

unsigned rfc2047_decode(const char *v, size_t n, struct mime_buf *out)
{
	char stack[512];
	char *u = n <= sizeof stack ? stack : malloc(n);
	if (!u) {
		out->oom = 1;
		return 0;
	}
	size_t un = unfold(v, n, u);
	unsigned bits = 0;
	struct mime_buf pend = { 0 };
	const char *pcs = NULL;
	size_t pcs_len = 0;
	const char *e = u + un, *lit = u, *p = u;
	int last_ew = 0;
	while (p < e) {
		const char *q = memchr(p, '=', (size_t)(e - p));
		if (!q)
			break;
		const char *cs, *txt;
		size_t cs_len, txt_len;
		char enc;
		const char *end = ew_parse(q, e, &cs, &cs_len, &enc, &txt, &txt_len);
		if (!end) {
			p = q + 1;
			continue;
		}
		int only_ws = 1;
		for (const char *w = lit; w < q; w++)
			if (!blank(*w))
				only_ws = 0;
		/* RFC 2047 §6.2: blanks between adjacent encoded words vanish. */
		if (!(last_ew && only_ws)) {
			if (pend.len || pcs)
				bits |= rfc2047_to_utf8(pcs, pcs_len, pend.p, pend.len, out);
			pend.len = 0;
			pcs = NULL;
			bits |= put_raw(lit, (size_t)(q - lit), out);
		}
		if (pcs && (pcs_len != cs_len || strncasecmp(pcs, cs, cs_len))) {
			bits |= rfc2047_to_utf8(pcs, pcs_len, pend.p, pend.len, out);
			pend.len = 0;
		}
		pcs = cs;
		pcs_len = cs_len;
		if (enc == 'B') {
			if (rfc2047_base64(txt, txt_len, &pend))
				bits |= RFC2047_BAD_WORD;
		} else {
			char qs[256];
			char *qt = txt_len <= sizeof qs ? qs : malloc(txt_len);
			if (qt) {
				size_t m = 0;
				for (size_t i = 0; i < txt_len; i++)
					if (!blank(txt[i]))
						qt[m++] = txt[i];
				if (rfc2047_qp(qt, m, 1, &pend))
					bits |= RFC2047_BAD_WORD;
				if (qt != qs)
					free(qt);
			}
		}
		last_ew = 1;
		lit = p = end;
	}
	if (pcs)
		bits |= rfc2047_to_utf8(pcs, pcs_len, pend.p ? pend.p : "", pend.len, out);
	bits |= put_raw(lit, (size_t)(e - lit), out);
	if (pend.oom)
		out->oom = 1;
	mime_buf_free(&pend);
	if (u != stack)
		free(u);
	if (!out->p)
		mime_buf_reserve(out, 1), out->p ? (out->p[0] = '\0') : 0;
	return bits;
}
