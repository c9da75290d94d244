/*
 * gmime-diff: differential test of our message parser against GMime 3.
 * Not part of listdigest (a test tool; see tests/differential/NOTES.md).
 *
 *   build/gmime-diff [-n N] [-a] [DIR]     (DIR defaults to ../shared/corpus)
 *
 * Walks every *.mbox, *.mbox.gz, *.gz, *.eml and *.txt file under DIR. Each
 * file is split with our mbox engine (core/mbox.c) and each message's bytes,
 * with the mbox >From quoting removed (mbox_unquote, exactly what
 * `listdigest report` parses), go to both parsers: ours (mime_parse_mbox +
 * mime_decode_body) and GMime (g_mime_parser_construct_message). Files our
 * mbox engine refuses (e.g. .txt reference outputs) are counted and skipped.
 *
 * Fields compared per message:
 *  subject  mime_subject vs g_mime_message_get_subject; both sides unfolded
 *           and blank-collapsed (runs of SP/TAB/CR/LF -> one SP, trimmed).
 *  from     display name (same blank normalisation) and address of the first
 *           From mailbox (GMime: first InternetAddressMailbox, or first
 *           member of a group); compared as one field "name <addr>".
 *  date     UTC epoch: mime_date vs g_mime_message_get_date (GDateTime);
 *           "none" on either side when there is no date.
 *  body     the readable text. GMime side: the same selection policy as
 *           ours, applied to GMime's tree: text/plain (and text/x-patch,
 *           text/x-diff, text/ leaves named *.patch / *.diff) leaves that
 *           are not Content-Disposition: attachment, all children of a
 *           multipart except multipart/alternative, where the plainest
 *           child is read (text/plain, then a nested multipart, then
 *           text/html; a child with a blank body after all others),
 *           message/rfc822 bodies recursed into; each leaf decoded as
 *           g_mime_text_part_get_text does (part_text: the same steps, but
 *           keeping the length, since that function's C string ends at the
 *           first NUL), parts joined with a LF. GMime has no HTML-to-text
 *           converter, so a message whose selection contains a text/html
 *           part is not compared ("body not compared: html"). Both sides
 *           normalised: CRLF/CR -> LF, trailing blanks per line, leading
 *           and trailing blank lines, NUL bytes dropped. GMime does not
 *           decode format=flowed (RFC 3676), so a message with a flowed text
 *           part is compared flow-insensitively (all whitespace and '>'
 *           removed on both sides).
 *
 * Prints per field agreement rate and counts, overall agreement (field
 * comparisons), and up to N (default 3) examples per disagreement kind;
 * -a prints every disagreement.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gmime/gmime.h>

#include "mbox.h"
#include "mime.h"

enum { F_SUBJECT, F_FROM, F_DATE, F_BODY, NFIELDS };
static const char *field_name[NFIELDS] = { "subject", "from", "date", "body" };

static size_t n_examples = 3;
static int list_all;
static size_t files_read, files_skipped, messages;
static size_t agree[NFIELDS], compared[NFIELDS], body_skipped_html;

#define MAX_KINDS 64
struct kind {
	int field;
	char name[64];
	size_t count, shown;
};
static struct kind kinds[MAX_KINDS];
static size_t n_kinds;

/* ---- small string helpers ------------------------------------------------ */

struct sbuf {
	char *p;
	size_t len, cap;
};

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (b->len + n + 1 > cap)
			cap *= 2;
		b->p = realloc(b->p, cap);
		if (!b->p) {
			perror("realloc");
			exit(1);
		}
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

static void sb_puts(struct sbuf *b, const char *s)
{
	sb_put(b, s ? s : "", s ? strlen(s) : 0);
}

static const char *sb_str(const struct sbuf *b)
{
	return b->p ? b->p : "";
}

static int blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Unfold and collapse blanks, trim. */
static char *norm_line(const char *s, size_t n)
{
	struct sbuf b = { 0 };
	int sp = 0;
	sb_put(&b, "", 0);
	for (size_t i = 0; i < n; i++) {
		if (blank(s[i])) {
			sp = 1;
			continue;
		}
		if (sp && b.len)
			sb_put(&b, " ", 1);
		sp = 0;
		sb_put(&b, s + i, 1);
	}
	return b.p;
}

/* Body normalisation: CRLF/CR -> LF, trailing blanks per line, leading and
 * trailing blank lines, NUL bytes dropped (the comparison is of C strings).
 * With flow_insensitive, drop all blanks and '>'. */
static char *norm_body(const char *s, size_t n, int flow_insensitive)
{
	struct sbuf b = { 0 }, line = { 0 };
	sb_put(&b, "", 0);
	if (flow_insensitive) {
		for (size_t i = 0; i < n; i++)
			if (!blank(s[i]) && s[i] != '>' && s[i])
				sb_put(&b, s + i, 1);
		return b.p;
	}
	size_t pending_nl = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == '\n' || s[i] == '\r') {
			size_t l = line.len;
			while (l && (line.p[l - 1] == ' ' || line.p[l - 1] == '\t'))
				l--;
			if (l) {
				if (b.len)
					for (size_t k = 0; k < pending_nl; k++)
						sb_put(&b, "\n", 1);
				sb_put(&b, line.p, l);
				pending_nl = 0;
			}
			pending_nl++;
			line.len = 0;
			if (i < n && s[i] == '\r' && i + 1 < n && s[i + 1] == '\n')
				i++;
			continue;
		}
		if (s[i])
			sb_put(&line, s + i, 1);
	}
	free(line.p);
	return b.p;
}

/* ---- GMime side ---------------------------------------------------------- */

static int is_patch_name(const char *f)
{
	size_t n = f ? strlen(f) : 0;
	return (n > 6 && !strcasecmp(f + n - 6, ".patch")) ||
	       (n > 5 && !strcasecmp(f + n - 5, ".diff"));
}

struct gtext {
	struct sbuf text;
	int html, flowed;
};

/* A child whose body is only blanks (as encoded; a multipart without
 * children): ours ranks it below every other alternative. */
static int g_empty(GMimeObject *o)
{
	if (GMIME_IS_MULTIPART(o))
		return g_mime_multipart_get_count(GMIME_MULTIPART(o)) == 0;
	if (!GMIME_IS_PART(o))
		return 0;
	GMimeDataWrapper *w = g_mime_part_get_content(GMIME_PART(o));
	GMimeStream *st = w ? g_mime_data_wrapper_get_stream(w) : NULL;
	if (!st)
		return 1;
	char buf[4096];
	ssize_t n;
	int empty = 1;
	g_mime_stream_reset(st);
	while (empty && (n = g_mime_stream_read(st, buf, sizeof buf)) > 0)
		for (ssize_t i = 0; i < n; i++)
			if (!blank(buf[i]))
				empty = 0;
	g_mime_stream_reset(st);
	return empty;
}

static int alt_rank(GMimeObject *o)
{
	GMimeContentType *ct = g_mime_object_get_content_type(o);
	int full = g_empty(o) ? 0 : 4;
	if (!ct || g_mime_content_type_is_type(ct, "text", "plain"))
		return full + 3;
	if (g_mime_content_type_is_type(ct, "multipart", "*"))
		return full + 2;
	if (g_mime_content_type_is_type(ct, "text", "html"))
		return full + 1;
	return full;
}

/* What g_mime_text_part_get_text returns (the decoded content through a
 * charset filter to UTF-8 when a charset is declared), with its length: that
 * function returns a C string, which ends at the first NUL of the text. */
static void part_text(GMimePart *part, GMimeContentType *ct, struct sbuf *out)
{
	GMimeDataWrapper *content = g_mime_part_get_content(part);
	if (!content)
		return;
	GMimeStream *mem = g_mime_stream_mem_new();
	const char *cs = g_mime_content_type_get_parameter(ct, "charset");
	GMimeFilter *f = cs ? g_mime_filter_charset_new(cs, "utf-8") : NULL;
	if (f) {
		GMimeStream *fs = g_mime_stream_filter_new(mem);
		g_mime_stream_filter_add(GMIME_STREAM_FILTER(fs), f);
		g_object_unref(f);
		g_mime_data_wrapper_write_to_stream(content, fs);
		g_mime_stream_flush(fs);
		g_object_unref(fs);
	} else {
		g_mime_data_wrapper_write_to_stream(content, mem);
	}
	GByteArray *ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
	if (ba->len)
		sb_put(out, (const char *)ba->data, ba->len);
	g_object_unref(mem);
}

static void g_walk(GMimeObject *o, struct gtext *g, int depth)
{
	if (!o || depth > 32)
		return;
	GMimeContentType *ct = g_mime_object_get_content_type(o);
	if (GMIME_IS_MESSAGE_PART(o)) {
		GMimeMessage *sub = g_mime_message_part_get_message(GMIME_MESSAGE_PART(o));
		if (sub)
			g_walk(g_mime_message_get_mime_part(sub), g, depth + 1);
		return;
	}
	if (GMIME_IS_MULTIPART(o)) {
		GMimeMultipart *mp = GMIME_MULTIPART(o);
		int n = g_mime_multipart_get_count(mp);
		if (ct && g_mime_content_type_is_type(ct, "multipart", "alternative")) {
			int best = -1, rank = 0;
			for (int i = 0; i < n; i++) {
				int r = alt_rank(g_mime_multipart_get_part(mp, i));
				if (r > rank)
					rank = r, best = i;
			}
			if (best >= 0)
				g_walk(g_mime_multipart_get_part(mp, best), g, depth + 1);
			return;
		}
		for (int i = 0; i < n; i++)
			g_walk(g_mime_multipart_get_part(mp, i), g, depth + 1);
		return;
	}
	if (!GMIME_IS_TEXT_PART(o))
		return;
	const char *disp = g_mime_object_get_disposition(o);
	int attach = disp && !g_ascii_strcasecmp(disp, "attachment");
	const char *fname = g_mime_part_get_filename(GMIME_PART(o));
	int patch = g_mime_content_type_is_type(ct, "text", "x-patch") ||
		    g_mime_content_type_is_type(ct, "text", "x-diff") ||
		    g_mime_content_type_is_type(ct, "text", "x-diff-patch") ||
		    is_patch_name(fname);
	int plain = g_mime_content_type_is_type(ct, "text", "plain");
	int html = g_mime_content_type_is_type(ct, "text", "html");
	if (!(patch || (!attach && (plain || html))))
		return;
	if (html && !patch) {
		g->html = 1;
		return;
	}
	const char *fmt = g_mime_content_type_get_parameter(ct, "format");
	if (fmt && !g_ascii_strcasecmp(fmt, "flowed"))
		g->flowed = 1;
	if (g->text.len && g->text.p[g->text.len - 1] != '\n')
		sb_put(&g->text, "\n", 1);
	part_text(GMIME_PART(o), ct, &g->text);
}

/* ---- reporting ----------------------------------------------------------- */

static void trunc_print(const char *label, const char *s)
{
	size_t n = strlen(s), max = 240;
	printf("      %-6s \"", label);
	for (size_t i = 0; i < n && i < max; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\n')
			fputs("\\n", stdout);
		else if (c == '"')
			fputs("\\\"", stdout);
		else if (c < 0x20)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
	printf("\"%s\n", n > max ? " ..." : "");
}

/* First differing offset, for body examples: print around it. */
static void print_pair(const char *ours, const char *theirs, int body)
{
	if (body) {
		size_t i = 0;
		while (ours[i] && ours[i] == theirs[i])
			i++;
		size_t start = i > 60 ? i - 60 : 0;
		while (start && ((unsigned char)ours[start] & 0xc0) == 0x80)
			start--;
		printf("      (first difference at byte %zu; lengths %zu vs %zu)\n", i,
		       strlen(ours), strlen(theirs));
		trunc_print("ours", ours + (start < strlen(ours) ? start : strlen(ours)));
		trunc_print("gmime", theirs + (start < strlen(theirs) ? start : strlen(theirs)));
		return;
	}
	trunc_print("ours", ours);
	trunc_print("gmime", theirs);
}

static int has_fffd(const char *s)
{
	return strstr(s, "\xef\xbf\xbd") != NULL;
}

static int has_8bit(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return 1;
	return 0;
}

/* A coarse, automatic name for a disagreement; NOTES.md gives the verdicts. */
static const char *classify(int f, const char *ours, const char *theirs)
{
	if (!*theirs)
		return "gmime empty, ours not";
	if (!*ours)
		return "ours empty, gmime not";
	if (f == F_DATE) {
		if (!strcmp(theirs, "none"))
			return "gmime no date";
		if (!strcmp(ours, "none"))
			return "ours no date";
		long long a = atoll(ours), b = atoll(theirs), d = a > b ? a - b : b - a;
		if (d % 1800 == 0 && d <= 86400)
			return "zone offset differs";
		return "instant differs";
	}
	if (strstr(theirs, "=?") && !strstr(ours, "=?"))
		return "gmime leaves encoded-word";
	if (strstr(ours, "=?") && !strstr(theirs, "=?"))
		return "ours leaves encoded-word";
	if (has_fffd(ours) != has_fffd(theirs))
		return has_fffd(ours) ? "U+FFFD only in ours" : "U+FFFD only in gmime";
	if (!g_utf8_validate(theirs, -1, NULL))
		return "gmime invalid UTF-8";
	if (has_8bit(ours) || has_8bit(theirs))
		return "non-ASCII text differs";
	if (f == F_FROM) {
		const char *a = strchr(ours, '<'), *b = strchr(theirs, '<');
		if (a && b && strcmp(a, b))
			return "address differs";
		return "display name differs";
	}
	return "ASCII text differs";
}

static void record(int f, int same, const char *file, size_t idx, const char *ours,
		   const char *theirs)
{
	compared[f]++;
	if (same) {
		agree[f]++;
		return;
	}
	const char *kn = classify(f, ours, theirs);
	struct kind *k = NULL;
	for (size_t i = 0; i < n_kinds; i++)
		if (kinds[i].field == f && !strcmp(kinds[i].name, kn))
			k = &kinds[i];
	if (!k && n_kinds < MAX_KINDS) {
		k = &kinds[n_kinds++];
		k->field = f;
		snprintf(k->name, sizeof k->name, "%s", kn);
	}
	if (!k)
		return;
	k->count++;
	if (list_all || k->shown < n_examples) {
		k->shown++;
		printf("DIFF %s [%s] %s #%zu\n", field_name[f], kn, file, idx);
		print_pair(ours, theirs, f == F_BODY);
	}
}

/* ---- one message --------------------------------------------------------- */

static void compare(const char *file, size_t idx, const char *raw, size_t len,
		    const char *from_line, size_t from_len)
{
	struct mime_msg *m;
	char err[128];
	if (mime_parse_mbox(raw, len, from_line, from_len, 0, &m, err, sizeof err) < 0) {
		fprintf(stderr, "%s #%zu: %s\n", file, idx, err);
		return;
	}
	mime_decode_body(m, err, sizeof err);

	GMimeStream *st = g_mime_stream_mem_new_with_buffer(raw, len);
	GMimeParser *p = g_mime_parser_new_with_stream(st);
	GMimeMessage *gm = g_mime_parser_construct_message(p, NULL);
	g_object_unref(p);
	g_object_unref(st);
	messages++;

	size_t n;
	const char *s;
	char *a, *b;

	/* subject */
	s = mime_subject(m, &n);
	a = norm_line(s, n);
	s = gm ? g_mime_message_get_subject(gm) : NULL;
	b = norm_line(s ? s : "", s ? strlen(s) : 0);
	record(F_SUBJECT, !strcmp(a, b), file, idx, a, b);
	free(a);
	free(b);

	/* from */
	struct sbuf fo = { 0 }, fg = { 0 };
	s = mime_from_name(m, &n);
	a = norm_line(s, n);
	sb_puts(&fo, a);
	free(a);
	s = mime_from_addr(m, &n);
	sb_puts(&fo, " <");
	sb_put(&fo, s, n);
	sb_puts(&fo, ">");
	InternetAddressList *fl = gm ? g_mime_message_get_from(gm) : NULL;
	InternetAddress *ia = fl && internet_address_list_length(fl) > 0
				      ? internet_address_list_get_address(fl, 0) : NULL;
	if (ia && INTERNET_ADDRESS_IS_GROUP(ia)) {
		InternetAddressList *mem = internet_address_group_get_members(
			INTERNET_ADDRESS_GROUP(ia));
		ia = mem && internet_address_list_length(mem) > 0
			     ? internet_address_list_get_address(mem, 0) : NULL;
	}
	s = ia ? internet_address_get_name(ia) : NULL;
	b = norm_line(s ? s : "", s ? strlen(s) : 0);
	sb_puts(&fg, b);
	free(b);
	sb_puts(&fg, " <");
	if (ia && INTERNET_ADDRESS_IS_MAILBOX(ia))
		sb_puts(&fg, internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia)));
	sb_puts(&fg, ">");
	record(F_FROM, !strcmp(sb_str(&fo), sb_str(&fg)), file, idx, sb_str(&fo), sb_str(&fg));
	free(fo.p);
	free(fg.p);

	/* date */
	char da[64] = "none", db[64] = "none";
	int64_t t;
	enum mime_date_source src = mime_date(m, &t, NULL, NULL);
	if (src != MIME_DATE_NONE)
		snprintf(da, sizeof da, "%lld%s", (long long)t,
			 src == MIME_DATE_HEADER ? "" :
			 src == MIME_DATE_FROM_LINE ? " (From_ line)" : " (Received)");
	GDateTime *gd = gm ? g_mime_message_get_date(gm) : NULL;
	if (gd)
		snprintf(db, sizeof db, "%lld", (long long)g_date_time_to_unix(gd));
	record(F_DATE, !strcmp(da, db), file, idx, da, db);

	/* body */
	struct gtext g = { { 0 }, 0, 0 };
	if (gm)
		g_walk(g_mime_message_get_mime_part(gm), &g, 0);
	if (g.html) {
		body_skipped_html++;
	} else {
		s = mime_text(m, &n);
		a = norm_body(s, n, g.flowed);
		b = norm_body(sb_str(&g.text), g.text.len, g.flowed);
		record(F_BODY, !strcmp(a, b), file, idx, a, b);
		free(a);
		free(b);
	}
	free(g.text.p);

	if (gm)
		g_object_unref(gm);
	mime_free(m);
}

/* ---- files --------------------------------------------------------------- */

static int ends(const char *s, const char *suf)
{
	size_t n = strlen(s), k = strlen(suf);
	return n >= k && !strcmp(s + n - k, suf);
}

static int visit(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	if (type != FTW_F)
		return 0;
	if (!ends(path, ".mbox") && !ends(path, ".gz") && !ends(path, ".eml") &&
	    !ends(path, ".txt"))
		return 0;
	struct mbox *box;
	char err[256];
	if (mbox_open(path, NULL, &box, err, sizeof err) < 0) {
		files_skipped++;
		printf("SKIP %s: %s\n", path, err);
		return 0;
	}
	files_read++;
	for (size_t i = 0; i < mbox_count(box); i++) {
		const struct mbox_msg *mm = mbox_message(box, i);
		char *buf = malloc(mm->len + 1);
		if (!buf) {
			perror("malloc");
			exit(1);
		}
		size_t len = mbox_unquote(box, i, buf);
		compare(path, i, buf, len, mm->from_line, mm->from_len);
		free(buf);
	}
	mbox_close(box);
	return 0;
}

static int cmp_path(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char **paths;
static size_t n_paths, cap_paths;

static int collect(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	if (type != FTW_F)
		return 0;
	if (n_paths == cap_paths) {
		cap_paths = cap_paths ? cap_paths * 2 : 512;
		paths = realloc(paths, cap_paths * sizeof *paths);
		if (!paths) {
			perror("realloc");
			exit(1);
		}
	}
	paths[n_paths++] = strdup(path);
	return 0;
}

int main(int argc, char **argv)
{
	const char *dir = "../shared/corpus";
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-n") && i + 1 < argc)
			n_examples = strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "-a"))
			list_all = 1;
		else if (argv[i][0] == '-') {
			fprintf(stderr, "usage: gmime-diff [-n N] [-a] [DIR]\n");
			return 2;
		} else
			dir = argv[i];
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	g_mime_init();
	/* nftw order is directory order; sort for a stable report */
	if (nftw(dir, collect, 16, FTW_PHYS) < 0) {
		perror(dir);
		return 2;
	}
	qsort(paths, n_paths, sizeof *paths, cmp_path);
	for (size_t i = 0; i < n_paths; i++) {
		struct stat st;
		if (!stat(paths[i], &st) && S_ISREG(st.st_mode))
			visit(paths[i], &st, FTW_F, NULL);
		free(paths[i]);
	}
	free(paths);

	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("\n== gmime-diff: %s (GMime %u.%u.%u)\n", dir, gmime_major_version,
	       gmime_minor_version, gmime_micro_version);
	printf("files read %zu, skipped (not mail) %zu, messages %zu\n", files_read,
	       files_skipped, messages);
	size_t ta = 0, tc = 0;
	for (int f = 0; f < NFIELDS; f++) {
		printf("%-8s %6.2f %%  (%zu of %zu agree, %zu differ)\n", field_name[f],
		       compared[f] ? 100.0 * agree[f] / compared[f] : 100.0, agree[f],
		       compared[f], compared[f] - agree[f]);
		ta += agree[f];
		tc += compared[f];
	}
	printf("body not compared (text/html selected; GMime has no HTML to text): %zu\n",
	       body_skipped_html);
	printf("overall  %6.2f %%  (%zu of %zu field comparisons agree)\n",
	       tc ? 100.0 * ta / tc : 100.0, ta, tc);
	printf("disagreement kinds:\n");
	for (size_t i = 0; i < n_kinds; i++)
		printf("  %-8s %-32s %zu\n", field_name[kinds[i].field], kinds[i].name,
		       kinds[i].count);
	printf("time %.2f s\n", (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	g_mime_shutdown();
	return 0;
}
