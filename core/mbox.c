/*
 * mbox reader (RFC 4155): maps the file, inflates gzip, finds From_ lines and
 * records each message as a span into the data; nothing is copied except
 * when a caller asks for a message with its >From quoting removed.
 * Not a MIME parser and not a writer. See mbox.h for the contract and for
 * how the mboxo/mboxrd flavour is chosen.
 */
#include "mbox.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

struct mbox {
	const char *data;      /* what is split: the map, the inflated or borrowed buffer */
	size_t len;
	void *map;             /* mmap of the file, or NULL */
	size_t map_len;
	char *owned;           /* malloc'd data (inflated or read from a pipe), or NULL */
	struct mbox_msg *msgs;
	size_t n, cap;
	enum mbox_format format;
	int compressed;
};

/* Bits kept in mbox_msg.quoted while splitting, before the flavour is known. */
#define QUOTE_ONE 1   /* a ^>From  line */
#define QUOTE_MANY 2  /* a ^>>+From  line */

const char *mbox_format_name(enum mbox_format format)
{
	switch (format) {
	case MBOX_MBOXRD: return "mboxrd";
	case MBOX_EML: return "eml";
	default: return "mboxo";
	}
}

/* End of the line starting at P (the '\n', or END). */
static const char *line_end(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));

	return nl ? nl : end;
}

/* RFC 5322 §2.2: field-name = 1*ftext (printable ASCII but ':') then ':'. */
static int is_header_line(const char *p, const char *end)
{
	const char *q = p;

	while (q < end && *q > 32 && *q < 127 && *q != ':')
		q++;
	return q > p && q < end && *q == ':';
}

/* Does the text contain "d:dd", as the time of a ctime() date does? */
static int has_time(const char *p, const char *end)
{
	for (; p + 3 < end; p++)
		if (p[1] == ':' && p[0] >= '0' && p[0] <= '9' &&
		    p[2] >= '0' && p[2] <= '9' && p[3] >= '0' && p[3] <= '9')
			return 1;
	return 0;
}

/*
 * Is the "From " at OFF (at a line start, not the first line) a From_ line?
 * RFC 4155 §2 asks for "From " sender date; writers put an empty line before
 * it, and a valid mbox quotes body lines that begin "From ". Real files bend
 * both rules (MimeKit's "From - " with no blank line before), so we accept:
 *  - after an empty line: a date-looking tail or a header on the next line;
 *  - otherwise: a header on the next line and nothing but one token plus an
 *    optional date, so prose such as "From here on, we..." never splits.
 */
static int is_from_line(const char *d, size_t n, size_t off)
{
	const char *p = d + off, *end = d + n;
	const char *eol = line_end(p, end), *le = eol, *next, *t, *rest;
	int prev_blank, next_header;

	if (le > p && le[-1] == '\r')
		le--;
	prev_blank = (off >= 2 && d[off - 2] == '\n') ||
	             (off >= 3 && d[off - 2] == '\r' && d[off - 3] == '\n');
	next = eol < end ? eol + 1 : end;
	next_header = next < end && is_header_line(next, line_end(next, end));
	if (prev_blank && (next_header || has_time(p + 5, le)))
		return 1;
	if (!next_header)
		return 0;
	for (t = p + 5; t < le && *t != ' '; t++)
		;
	for (rest = t; rest < le && *rest == ' '; rest++)
		;
	return rest == le || has_time(rest, le);
}

static int push_msg(struct mbox *box, char *err, size_t errlen)
{
	struct mbox_msg *m;

	if (box->n == box->cap) {
		size_t cap = box->cap ? box->cap * 2 : 256;

		m = realloc(box->msgs, cap * sizeof *m);
		if (!m)
			return util_fail(err, errlen, "out of memory");
		box->msgs = m;
		box->cap = cap;
	}
	memset(&box->msgs[box->n++], 0, sizeof *box->msgs);
	return 0;
}

/* Starts the message whose From_ line begins at OFF; returns its body offset. */
static size_t open_msg(struct mbox_msg *m, const char *d, size_t n, size_t off)
{
	const char *eol = line_end(d + off, d + n), *le = eol;

	if (le > d + off && le[-1] == '\r')
		le--;
	m->from_line = d + off;
	m->from_len = (size_t)(le - (d + off));
	m->raw = eol < d + n ? eol + 1 : eol;
	return (size_t)(m->raw - d);
}

/* Ends M at END, dropping the one empty separator line mbox writers add. */
static void close_msg(struct mbox_msg *m, const char *d, size_t end)
{
	size_t start = (size_t)(m->raw - d), len = end - start;
	const char *r = m->raw;

	if (len == 1 && r[0] == '\n')
		len = 0;
	else if (len == 2 && r[0] == '\r' && r[1] == '\n')
		len = 0;
	else if (len >= 2 && r[len - 1] == '\n' && r[len - 2] == '\n')
		len -= 1;
	else if (len >= 4 && memcmp(r + len - 4, "\r\n\r\n", 4) == 0)
		len -= 2;
	m->len = len;
}

static int split(struct mbox *box, char *err, size_t errlen)
{
	const char *d = box->data;
	size_t n = box->len, s = 0, p, off;
	int rd = 0;

	/* Leading empty lines are tolerated; an all-blank input is empty. */
	while (s < n && (d[s] == '\n' || (d[s] == '\r' && s + 1 < n && d[s + 1] == '\n')))
		s += d[s] == '\n' ? 1 : 2;
	box->format = MBOX_MBOXO;
	if (s == n)
		return 0;
	if (n - s >= 5 && memcmp(d + s, "From ", 5) == 0) {
		const char *le = line_end(d + s, d + n), *next = le < d + n ? le + 1 : le;

		/* Even the first From_ line must look like one: not "From here on". */
		if (!has_time(d + s + 5, le) && !(next < d + n && is_header_line(next, line_end(next, d + n))))
			return util_fail(err, errlen, "not an mbox file or a mail message");
	} else {
		if (!is_header_line(d + s, line_end(d + s, d + n)))
			return util_fail(err, errlen, "not an mbox file or a mail message");
		/* A raw RFC 5322 message: one message, never split. */
		if (push_msg(box, err, errlen) < 0)
			return -1;
		box->msgs[0].raw = d + s;
		box->msgs[0].len = n - s;
		box->format = MBOX_EML;
		return 0;
	}

	if (push_msg(box, err, errlen) < 0)
		return -1;
	p = open_msg(&box->msgs[0], d, n, s);
	/*
	 * One memmem pass finds both From_ lines and quoted ^>+From  lines:
	 * every line of interest contains "From " right after its '>'s.
	 */
	while (p < n) {
		const char *q = memmem(d + p, n - p, "From ", 5);
		size_t j;

		if (!q)
			break;
		off = (size_t)(q - d);
		p = off + 5;
		if (d[off - 1] == '\n') {
			if (!is_from_line(d, n, off))
				continue;
			close_msg(&box->msgs[box->n - 1], d, off);
			if (push_msg(box, err, errlen) < 0)
				return -1;
			p = open_msg(&box->msgs[box->n - 1], d, n, off);
		} else if (d[off - 1] == '>') {
			for (j = off - 1; j > 0 && d[j - 1] == '>'; j--)
				;
			if (j > 0 && d[j - 1] != '\n')
				continue;
			box->msgs[box->n - 1].quoted |= off - j == 1 ? QUOTE_ONE : QUOTE_MANY;
			if (off - j > 1)
				rd = 1;
		}
	}
	close_msg(&box->msgs[box->n - 1], d, n);

	/* public-inbox and b4 write "From mboxrd@..." as every From_ line. */
	if (box->msgs[0].from_len >= 12 && memcmp(box->msgs[0].from_line, "From mboxrd@", 12) == 0)
		rd = 1;
	box->format = rd ? MBOX_MBOXRD : MBOX_MBOXO;
	for (p = 0; p < box->n; p++) {
		int q = box->msgs[p].quoted;

		box->msgs[p].quoted = rd ? q != 0 : (q & QUOTE_ONE) != 0;
	}
	return 0;
}

/* Inflates gzip (RFC 1952) data, all members, refusing more than LIMIT bytes. */
static int inflate_all(const unsigned char *in, size_t len, size_t limit,
                       char **out_out, size_t *len_out, char *err, size_t errlen)
{
	z_stream zs;
	char *buf = NULL, *nb;
	size_t cap = 0, used = 0, in_off = 0;
	int ret, rc = -1;

	memset(&zs, 0, sizeof zs);
	if (inflateInit2(&zs, 15 + 16) != Z_OK)
		return util_fail(err, errlen, "zlib: cannot initialise");
	for (;;) {
		size_t before;

		if (zs.avail_in == 0 && in_off < len) {
			size_t chunk = len - in_off < (1u << 30) ? len - in_off : (1u << 30);

			zs.next_in = (unsigned char *)in + in_off;
			zs.avail_in = (uInt)chunk;
			in_off += chunk;
		}
		if (used == cap) {
			size_t ncap = cap ? cap * 2 : (len < ((size_t)1 << 28) ? len * 4 : len);

			if (ncap < ((size_t)1 << 16))
				ncap = (size_t)1 << 16;
			/* One byte over the limit is how we learn the limit was passed. */
			if (ncap > limit + 1)
				ncap = limit + 1;
			if (ncap <= cap) {
				util_fail(err, errlen, "gzip data inflates to more than %zu bytes; refused", limit);
				goto out;
			}
			nb = realloc(buf, ncap);
			if (!nb) {
				util_fail(err, errlen, "out of memory inflating gzip data");
				goto out;
			}
			buf = nb;
			cap = ncap;
		}
		zs.next_out = (unsigned char *)buf + used;
		zs.avail_out = (uInt)(cap - used < (1u << 30) ? cap - used : (1u << 30));
		before = zs.avail_out;
		ret = inflate(&zs, Z_NO_FLUSH);
		used += before - zs.avail_out;
		if (used > limit) {
			util_fail(err, errlen, "gzip data inflates to more than %zu bytes; refused", limit);
			goto out;
		}
		if (ret == Z_STREAM_END) {
			/* RFC 1952 §2.2: a gzip file may hold several members. */
			if (zs.avail_in == 0 && in_off < len) {
				size_t chunk = len - in_off < (1u << 30) ? len - in_off : (1u << 30);

				zs.next_in = (unsigned char *)in + in_off;
				zs.avail_in = (uInt)chunk;
				in_off += chunk;
			}
			if (zs.avail_in >= 2 && zs.next_in[0] == 0x1f && zs.next_in[1] == 0x8b) {
				inflateReset(&zs);
				continue;
			}
			break; /* trailing padding is ignored, as gzip(1) does */
		}
		if (ret == Z_BUF_ERROR && zs.avail_in == 0 && in_off == len) {
			util_fail(err, errlen, "truncated gzip stream");
			goto out;
		}
		if (ret != Z_OK && ret != Z_BUF_ERROR) {
			util_fail(err, errlen, "corrupt gzip stream: %s", zs.msg ? zs.msg : "inflate failed");
			goto out;
		}
	}
	*out_out = buf;
	*len_out = used;
	buf = NULL;
	rc = 0;
out:
	inflateEnd(&zs);
	free(buf);
	return rc;
}

static int is_gzip(const void *data, size_t len)
{
	const unsigned char *u = data;

	return len >= 2 && u[0] == 0x1f && u[1] == 0x8b;
}

/* Takes the input (gzip or not) and splits it; frees nothing on failure. */
static int load(struct mbox *box, const void *data, size_t len,
                const struct mbox_options *opts, char *err, size_t errlen)
{
	size_t limit = opts && opts->max_inflated ? opts->max_inflated : MBOX_MAX_INFLATED;

	if (is_gzip(data, len)) {
		char *buf = NULL;
		size_t n = 0;

		if (inflate_all(data, len, limit, &buf, &n, err, errlen) < 0)
			return -1;
		/* The compressed bytes are not needed once inflated. */
		if (box->map) {
			munmap(box->map, box->map_len);
			box->map = NULL;
		}
		free(box->owned);
		box->owned = buf;
		box->compressed = 1;
		data = buf;
		len = n;
	}
	box->data = data;
	box->len = len;
	return split(box, err, errlen);
}

int mbox_open_mem(const void *data, size_t len, const struct mbox_options *opts,
                  struct mbox **box_out, char *err, size_t errlen)
{
	struct mbox *box = calloc(1, sizeof *box);

	*box_out = NULL;
	if (!box)
		return util_fail(err, errlen, "out of memory");
	if (load(box, data, len, opts, err, errlen) < 0) {
		mbox_close(box);
		return -1;
	}
	*box_out = box;
	return 0;
}

/* Reads a non-mappable file (a pipe, a tty) to its end. */
static int read_all(int fd, char **out_out, size_t *len_out, char *err, size_t errlen)
{
	char *buf = NULL, *nb;
	size_t cap = 0, used = 0;
	ssize_t r;

	for (;;) {
		if (used == cap) {
			cap = cap ? cap * 2 : 1 << 16;
			nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				return util_fail(err, errlen, "out of memory");
			}
			buf = nb;
		}
		r = read(fd, buf + used, cap - used);
		if (r == 0)
			break;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			free(buf);
			return util_fail(err, errlen, "%s", strerror(errno));
		}
		used += (size_t)r;
	}
	*out_out = buf;
	*len_out = used;
	return 0;
}

int mbox_open(const char *path, const struct mbox_options *opts,
              struct mbox **box_out, char *err, size_t errlen)
{
	struct mbox *box;
	struct stat st;
	const void *data = "";
	size_t len = 0;
	int fd;

	*box_out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return util_fail(err, errlen, "%s", strerror(errno));
	if (fstat(fd, &st) < 0) {
		util_fail(err, errlen, "%s", strerror(errno));
		close(fd);
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		return util_fail(err, errlen, "%s", strerror(EISDIR));
	}
	box = calloc(1, sizeof *box);
	if (!box) {
		close(fd);
		return util_fail(err, errlen, "out of memory");
	}
	if (S_ISREG(st.st_mode) && st.st_size > 0) {
		void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);

		if (m != MAP_FAILED) {
			box->map = m;
			box->map_len = (size_t)st.st_size;
			madvise(m, box->map_len, MADV_SEQUENTIAL);
			data = m;
			len = box->map_len;
		}
	}
	if (!box->map && !(S_ISREG(st.st_mode) && st.st_size == 0)) {
		if (read_all(fd, &box->owned, &len, err, errlen) < 0) {
			close(fd);
			mbox_close(box);
			return -1;
		}
		data = box->owned;
	}
	close(fd);
	if (load(box, data, len, opts, err, errlen) < 0) {
		mbox_close(box);
		return -1;
	}
	/* Splitting read the map front to back; later access is by message. */
	if (box->map)
		madvise(box->map, box->map_len, MADV_NORMAL);
	*box_out = box;
	return 0;
}

void mbox_close(struct mbox *box)
{
	if (!box)
		return;
	if (box->map)
		munmap(box->map, box->map_len);
	free(box->owned);
	free(box->msgs);
	free(box);
}

size_t mbox_count(const struct mbox *box)
{
	return box->n;
}

enum mbox_format mbox_format(const struct mbox *box)
{
	return box->format;
}

int mbox_compressed(const struct mbox *box)
{
	return box->compressed;
}

const struct mbox_msg *mbox_message(const struct mbox *box, size_t i)
{
	return i < box->n ? &box->msgs[i] : NULL;
}

size_t mbox_unquote(const struct mbox *box, size_t i, char *dst)
{
	const struct mbox_msg *m = mbox_message(box, i);
	const char *p, *end;
	char *o = dst;

	if (!m)
		return 0;
	p = m->raw;
	end = p + m->len;
	if (box->format == MBOX_EML || !m->quoted) {
		memcpy(dst, p, m->len);
		return m->len;
	}
	while (p < end) {
		const char *eol = line_end(p, end);
		size_t k = 0;

		if (eol < end)
			eol++;
		while (p + k < eol && p[k] == '>')
			k++;
		/* RFC 4155 App. A: mboxrd unquotes ^>+From , mboxo only ^>From . */
		if (k > 0 && (k == 1 || box->format == MBOX_MBOXRD) &&
		    (size_t)(eol - p) >= k + 5 && memcmp(p + k, "From ", 5) == 0)
			p++;
		memcpy(o, p, (size_t)(eol - p));
		o += eol - p;
		p = eol;
	}
	return (size_t)(o - dst);
}
