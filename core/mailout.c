/*
 * mailout engine (see mailout.h): composes the report message and submits
 * it with libcurl's SMTP. Header fields are written folded to 78 columns
 * (RFC 5322 §2.1.1), bodies quoted-printable with CRLF (RFC 2045 §6.7).
 * Reads no environment and never prints; credentials come from the caller.
 */
#include "mailout.h"
#include "http.h"
#include "rfc2047.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#define LINE_MAX_HEADER 78   /* RFC 5322 §2.1.1 SHOULD */
#define QP_LINE_MAX 76       /* RFC 2045 §6.7 rule 5, the soft-break "=" included */
#define WORD_BYTES 39        /* UTF-8 bytes per B word: 52 base64 chars, a 64-char word */
#define ADDR_MAX 900         /* stays under the 998-octet line limit (§2.1.1) */

static const char HEX[] = "0123456789ABCDEF";

/* Appends a string literal (its length known at compile time). */
#define PUT_LIT(b, lit) mime_buf_put((b), (lit), sizeof(lit) - 1)

/* Printable ASCII and space only: what an address or an id may hold here. */
static int printable_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return 0;
	return 1;
}

/* The addr-spec of "Name <addr>" (inside the last <>), or all of S. */
static void addr_spec(const char *s, const char **p_out, size_t *n_out)
{
	const char *lt = strrchr(s, '<'), *gt = lt ? strchr(lt, '>') : NULL;

	if (lt && gt) {
		*p_out = lt + 1;
		*n_out = (size_t)(gt - lt - 1);
	} else {
		while (*s == ' ')
			s++;
		*p_out = s;
		*n_out = strcspn(s, " ");
	}
}

static void put_base64(struct mime_buf *b, const unsigned char *s, size_t n)
{
	static const char B64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)s[i] << 16;

		if (i + 1 < n)
			v |= (unsigned)s[i + 1] << 8;
		if (i + 2 < n)
			v |= s[i + 2];
		mime_buf_putc(b, B64[v >> 18 & 63]);
		mime_buf_putc(b, B64[v >> 12 & 63]);
		mime_buf_putc(b, i + 1 < n ? B64[v >> 6 & 63] : '=');
		mime_buf_putc(b, i + 2 < n ? B64[v & 63] : '=');
	}
}

/*
 * "Subject: ..." and CRLF. Plain when it is short printable ASCII that
 * cannot be mistaken for an encoded word; otherwise B-encoded UTF-8 words
 * of whole characters (RFC 2047 §5 rule 3: a character never split across
 * words), each ≤ 75 chars (§2), one per folded line.
 */
static void put_subject(struct mime_buf *b, const char *s)
{
	size_t n = strlen(s), i = 0;

	PUT_LIT(b, "Subject:");
	if (printable_ascii(s) && !strstr(s, "=?") && n + 9 <= LINE_MAX_HEADER) {
		mime_buf_putc(b, ' ');
		mime_buf_put(b, s, n);
		PUT_LIT(b, "\r\n");
		return;
	}
	do {
		size_t end = i + WORD_BYTES < n ? i + WORD_BYTES : n;

		while (end < n && end > i && ((unsigned char)s[end] & 0xc0) == 0x80)
			end--;  /* back to the start of a character */
		if (i)
			PUT_LIT(b, "\r\n");  /* the fold: CRLF then the space below */
		PUT_LIT(b, " =?UTF-8?B?");
		put_base64(b, (const unsigned char *)s + i, end - i);
		PUT_LIT(b, "?=");
		i = end;
	} while (i < n);
	PUT_LIT(b, "\r\n");
}

/* "To: a, b, ..." folded after a comma when the next would pass 78 columns. */
static void put_address_list(struct mime_buf *b, const char *name, const char *const *v, size_t n)
{
	size_t col = strlen(name) + 1;

	mime_buf_put(b, name, strlen(name));
	mime_buf_putc(b, ':');
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(v[i]);

		if (i && col + 2 + len > LINE_MAX_HEADER) {
			PUT_LIT(b, ",\r\n");
			col = 0;
		} else if (i) {
			mime_buf_putc(b, ',');
			col++;
		}
		mime_buf_putc(b, ' ');
		mime_buf_put(b, v[i], len);
		col += 1 + len;
	}
	PUT_LIT(b, "\r\n");
}

/* RFC 5322 §3.3 date-time in UTC, with English names whatever the locale. */
static void put_date(struct mime_buf *b, int64_t t)
{
	static const char *const DAY[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const MON[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t tt = (time_t)t;
	struct tm tm;
	char s[64];

	if (!gmtime_r(&tt, &tm)) {
		tt = 0;
		gmtime_r(&tt, &tm);
	}
	snprintf(s, sizeof s, "Date: %s, %d %s %04d %02d:%02d:%02d +0000\r\n", DAY[tm.tm_wday],
	         tm.tm_mday, MON[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
	mime_buf_put(b, s, strlen(s));
}

/* N random bytes as hex into OUT (2N+1 bytes); the clock when getrandom fails. */
static void random_hex(char *out, size_t n)
{
	unsigned char r[32];
	struct timespec ts;

	if (n > sizeof r)
		n = sizeof r;
	if (getrandom(r, n, GRND_NONBLOCK) != (ssize_t)n) {
		clock_gettime(CLOCK_REALTIME, &ts);
		for (size_t i = 0; i < n; i++)
			r[i] = (unsigned char)((uint64_t)ts.tv_nsec >> (i % 4 * 8) ^
			                       (uint64_t)ts.tv_sec >> (i % 8) ^ (unsigned)getpid() >> (i % 3));
	}
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = HEX[r[i] >> 4];
		out[2 * i + 1] = HEX[r[i] & 15];
	}
	out[2 * n] = '\0';
}

/*
 * Appends S[0..N) quoted-printable (RFC 2045 §6.7): LF or CRLF become CRLF
 * hard breaks, lines are soft-broken at 76 columns, blanks before a break
 * and '=' are encoded, and so is the F of a "From " starting a line
 * (RFC 2049 §3 item 8) so that mbox delivery cannot mangle it. No CRLF
 * after the last line: the one before the boundary delimiter is not content.
 */
static void put_qp(struct mime_buf *b, const char *s, size_t n)
{
	size_t col = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		size_t tok;
		int lit;

		if (c == '\n' || (c == '\r' && i + 1 < n && s[i + 1] == '\n')) {
			if (c == '\r')
				i++;
			PUT_LIT(b, "\r\n");
			col = 0;
			continue;
		}
		for (int pass = 0; pass < 2; pass++) {
			int at_eol = i + 1 == n || s[i + 1] == '\n' || s[i + 1] == '\r';

			lit = (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !at_eol);
			if (col == 0 && c == 'F' && n - i >= 5 && memcmp(s + i, "From ", 5) == 0)
				lit = 0;
			if (col == 0 && c == '.')
				lit = 0;  /* a lone "." line would end the SMTP DATA for a naive relay */
			tok = lit ? 1 : 3;
			/* a soft break needs its "=" inside the 76 columns, so a token may end at 75 */
			if (col + tok <= QP_LINE_MAX - 1 ||
			    (col + tok == QP_LINE_MAX && (i + 1 == n || s[i + 1] == '\n' || s[i + 1] == '\r')))
				break;
			PUT_LIT(b, "=\r\n");
			col = 0;
		}
		if (lit) {
			mime_buf_putc(b, (char)c);
		} else {
			mime_buf_putc(b, '=');
			mime_buf_putc(b, HEX[c >> 4]);
			mime_buf_putc(b, HEX[c & 15]);
		}
		col += tok;
	}
}

static int check_address(const char *a, const char *what, char *err, size_t errlen)
{
	const char *p;
	size_t n;

	if (!a || !*a)
		return util_fail(err, errlen, "%s: empty address", what);
	if (!printable_ascii(a))
		return util_fail(err, errlen, "%s: address holds a control or non-ASCII character", what);
	if (strlen(a) > ADDR_MAX)
		return util_fail(err, errlen, "%s: address too long", what);
	addr_spec(a, &p, &n);
	if (!n || !memchr(p, '@', n))
		return util_fail(err, errlen, "%s: no addr-spec in \"%s\"", what, a);
	return 0;
}

int mailout_compose(const struct mailout_message *m, char **out_out, size_t *len_out,
		    char *err, size_t errlen)
{
	struct mime_buf b = {0}, text = {0}, html = {0};
	char boundary[64], rnd[33], mid[1024];
	const char *dom, *p;
	size_t n;

	*out_out = NULL;
	*len_out = 0;
	if (check_address(m->from, "from", err, errlen) < 0)
		return -1;
	if (!m->nto)
		return util_fail(err, errlen, "to: no recipient");
	for (size_t i = 0; i < m->nto; i++)
		if (check_address(m->to[i], "to", err, errlen) < 0)
			return -1;
	if (!m->subject || !rfc2047_utf8_valid(m->subject, strlen(m->subject)) ||
	    strpbrk(m->subject, "\r\n"))
		return util_fail(err, errlen, "subject: not one line of UTF-8");
	if (strlen(m->subject) > 4000)
		return util_fail(err, errlen, "subject: too long");
	if (m->message_id && (!printable_ascii(m->message_id) || strpbrk(m->message_id, " <>") ||
	                      !strchr(m->message_id, '@') || strlen(m->message_id) > 900))
		return util_fail(err, errlen, "message_id: not an id-left@id-right without <>");

	if (m->message_id) {
		snprintf(mid, sizeof mid, "%s", m->message_id);
	} else {
		/* RFC 5322 §3.6.4: unique left part, the sender's domain on the right */
		addr_spec(m->from, &p, &n);
		dom = memchr(p, '@', n) + 1;
		n -= (size_t)(dom - p);
		random_hex(rnd, 16);
		if (n && n < 200)
			snprintf(mid, sizeof mid, "listdigest.%s@%.*s", rnd, (int)n, dom);
		else
			snprintf(mid, sizeof mid, "listdigest.%s@listdigest.invalid", rnd);
	}
	put_qp(&text, m->text ? m->text : "", m->text ? m->text_len : 0);
	put_qp(&html, m->html ? m->html : "", m->html ? m->html_len : 0);
	/* "=_" cannot occur in quoted-printable output (RFC 2045 §6.7), so
	 * this boundary never does; checked anyway (RFC 2046 §5.1.1) */
	do {
		random_hex(rnd, 12);
		snprintf(boundary, sizeof boundary, "=_listdigest_%s", rnd);
	} while (!text.oom && !html.oom &&
	         (memmem(text.p ? text.p : "", text.len, boundary, strlen(boundary)) ||
	          memmem(html.p ? html.p : "", html.len, boundary, strlen(boundary))));

	PUT_LIT(&b, "From: ");
	mime_buf_put(&b, m->from, strlen(m->from));
	PUT_LIT(&b, "\r\n");
	put_address_list(&b, "To", m->to, m->nto);
	put_subject(&b, m->subject);
	put_date(&b, m->date);
	PUT_LIT(&b, "Message-ID: <");
	mime_buf_put(&b, mid, strlen(mid));
	PUT_LIT(&b, ">\r\nMIME-Version: 1.0\r\n");
	PUT_LIT(&b, "Content-Type: multipart/alternative;\r\n boundary=\"");
	mime_buf_put(&b, boundary, strlen(boundary));
	PUT_LIT(&b, "\"\r\n\r\nThis is a multi-part message in MIME format.\r\n");
	/* RFC 2046 §5.1.4: the last alternative is the preferred one */
	for (int part = 0; part < 2; part++) {
		const struct mime_buf *body = part ? &html : &text;

		PUT_LIT(&b, "\r\n--");
		mime_buf_put(&b, boundary, strlen(boundary));
		if (part)
			PUT_LIT(&b, "\r\nContent-Type: text/html; charset=utf-8\r\n");
		else
			PUT_LIT(&b, "\r\nContent-Type: text/plain; charset=utf-8\r\n");
		PUT_LIT(&b, "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
		mime_buf_put(&b, body->p ? body->p : "", body->len);
	}
	PUT_LIT(&b, "\r\n--");
	mime_buf_put(&b, boundary, strlen(boundary));
	PUT_LIT(&b, "--\r\n");
	mime_buf_putc(&b, '\0');
	if (b.oom || text.oom || html.oom) {
		mime_buf_free(&b);
		mime_buf_free(&text);
		mime_buf_free(&html);
		return util_fail(err, errlen, "out of memory");
	}
	mime_buf_free(&text);
	mime_buf_free(&html);
	*out_out = b.p;
	*len_out = b.len - 1;
	return 0;
}

struct reader {
	const char *p;
	size_t left;
};

static size_t on_read(char *buf, size_t size, size_t nitems, void *ud)
{
	struct reader *r = ud;
	size_t n = size * nitems < r->left ? size * nitems : r->left;

	memcpy(buf, r->p, n);
	r->p += n;
	r->left -= n;
	return n;
}

/* "<addr>" for MAIL FROM / RCPT TO (RFC 5321 §4.1.2 Path), into OUT. */
static void envelope(const char *a, char *out, size_t outlen)
{
	const char *p;
	size_t n;

	addr_spec(a, &p, &n);
	snprintf(out, outlen, "<%.*s>", (int)n, p);
}

/* Replaces every occurrence of SECRET in S by "***" (a server may echo it). */
static void scrub(char *s, const char *secret)
{
	size_t n = secret ? strlen(secret) : 0;
	char *p;

	if (!n)
		return;
	while ((p = strstr(s, secret))) {
		memcpy(p, "***", 3);
		memmove(p + 3, p + n, strlen(p + n) + 1);
	}
}

int mailout_send(const struct mailout_send *s, char *err, size_t errlen)
{
	struct curl_slist *rcpt = NULL;
	struct reader r = {s->raw, s->raw_len};
	char from[1024], addr[1024], ebuf[CURL_ERROR_SIZE] = "", url[2048], msg[3072];
	long code = 0;
	CURLcode rc;
	CURL *e;

	if (!s->nto)
		return util_fail(err, errlen, "smtp: no recipient");
	if (check_address(s->from, "from", err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < s->nto; i++)
		if (check_address(s->to[i], "to", err, errlen) < 0)
			return -1;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return util_fail(err, errlen, "libcurl: cannot initialise");
	e = curl_easy_init();
	for (size_t i = 0; e && i < s->nto; i++) {
		struct curl_slist *l;

		envelope(s->to[i], addr, sizeof addr);
		l = curl_slist_append(rcpt, addr);
		if (!l) {
			curl_easy_cleanup(e);
			e = NULL;
		}
		rcpt = l ? l : rcpt;
	}
	if (!e) {
		curl_slist_free_all(rcpt);
		curl_global_cleanup();
		return util_fail(err, errlen, "out of memory");
	}
	envelope(s->from, from, sizeof from);
	curl_easy_setopt(e, CURLOPT_URL, s->url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(e, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(e, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(e, CURLOPT_USE_SSL, (long)CURLUSESSL_TRY); /* STARTTLS when offered */
	if (s->username && *s->username) {
		curl_easy_setopt(e, CURLOPT_USERNAME, s->username);
		curl_easy_setopt(e, CURLOPT_PASSWORD, s->password ? s->password : "");
	}
	curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(e, CURLOPT_READDATA, &r);
	curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)s->raw_len);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)((s->timeout > 0 ? s->timeout : 30) * 1000));
	rc = curl_easy_perform(e);
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(e);
	curl_slist_free_all(rcpt);
	curl_global_cleanup();
	if (rc == CURLE_OK)
		return 0;
	http_redact_url(s->url, url, sizeof url);
	if (code)
		snprintf(msg, sizeof msg, "smtp %s: %s (server said %ld)", url,
		         ebuf[0] ? ebuf : curl_easy_strerror(rc), code);
	else
		snprintf(msg, sizeof msg, "smtp %s: %s", url, ebuf[0] ? ebuf : curl_easy_strerror(rc));
	scrub(msg, s->password);
	return util_fail(err, errlen, "%s", msg);
}
