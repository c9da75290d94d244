/* libFuzzer target: mime_parse + mime_decode_body + every accessor. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mime.h"

static volatile unsigned sink;

static void touch(const char *s, size_t n)
{
	for (size_t i = 0; s && i < n; i++)
		sink += (unsigned char)s[i];
}

static void touch_z(const char *s)
{
	if (s)
		touch(s, strlen(s));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mime_msg *m;
	char err[256];
	const char *raw = (const char *)data;
	size_t len;

	/* Half the inputs go through mime_parse_mbox with their first line as From_. */
	int mbox = size > 0 && (data[0] & 1);
	int rc;
	if (mbox) {
		const char *nl = memchr(raw, '\n', size);
		size_t fl = nl ? (size_t)(nl - raw) : size;
		rc = mime_parse_mbox(raw, size, raw, fl, MIME_HEADERS_ONLY, &m, err, sizeof err);
	} else {
		rc = mime_parse(raw, size, MIME_HEADERS_ONLY, &m, err, sizeof err);
	}
	if (rc < 0)
		return 0;

	for (size_t i = 0; i < mime_header_count(m); i++) {
		const struct mime_header *h = mime_header_at(m, i);
		touch(h->name, h->name_len);
		touch(h->value, h->value_len);
		char *d = mime_header_decode(h->value, h->value_len, &len);
		if (d) {
			if (d[len] != '\0')
				abort();
			free(d);
		}
	}
	const struct mime_header *h = mime_header_find(m, "subject");
	if (h)
		touch(h->value, h->value_len);

	const char *s = mime_message_id(m, &len);
	if (s == NULL)
		abort();
	touch(s, len);
	(void)mime_message_id_synthetic(m);
	s = mime_in_reply_to(m, &len);
	if (s)
		touch(s, len);
	for (size_t i = 0; i < mime_reference_count(m); i++)
		touch(mime_reference(m, i, &len), len);
	int64_t t;
	int tz, has_tz;
	(void)mime_date(m, &t, &tz, &has_tz);
	touch(mime_subject(m, &len), len);
	touch(mime_from_name(m, &len), len);
	touch(mime_from_addr(m, &len), len);
	s = mime_list_id(m, &len);
	if (s)
		touch(s, len);

	if (mime_decode_body(m, err, sizeof err) == 0)
		(void)mime_decode_body(m, err, sizeof err); /* idempotent */

	s = mime_text(m, &len);
	if (s) {
		touch(s, len);
		if (s[len] != '\0')
			abort();
	}
	for (size_t i = 0; i < mime_part_count(m); i++) {
		const struct mime_part *p = mime_part_at(m, i);
		touch_z(p->type);
		touch_z(p->charset);
		touch_z(p->filename);
		touch_z(p->disposition);
		touch_z(p->path);
	}
	for (size_t i = 0; i < mime_segment_count(m); i++)
		(void)mime_segment_at(m, i);
	size_t n;
	const struct mime_address *a = mime_to(m, &n);
	for (size_t i = 0; a && i < n; i++) {
		touch_z(a[i].name);
		touch_z(a[i].addr);
	}
	a = mime_cc(m, &n);
	for (size_t i = 0; a && i < n; i++) {
		touch_z(a[i].name);
		touch_z(a[i].addr);
	}
	for (size_t i = 0; i < mime_defect_count(m); i++)
		touch_z(mime_defect(m, i));
	mime_free(m);
	return 0;
}
