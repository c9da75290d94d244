/* libFuzzer target: mbox_open_mem over the input, every message, mbox_unquote. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mbox.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mbox_options opts = { .max_inflated = (size_t)64 << 20 };
	struct mbox *box;
	char err[256];

	if (mbox_open_mem(data, size, &opts, &box, err, sizeof err) < 0) {
		if (box != NULL || strlen(err) >= sizeof err)
			abort();
		return 0;
	}
	size_t n = mbox_count(box);
	(void)mbox_format_name(mbox_format(box));
	(void)mbox_compressed(box);
	volatile unsigned sink = 0;
	for (size_t i = 0; i < n; i++) {
		const struct mbox_msg *m = mbox_message(box, i);
		if (m == NULL)
			abort();
		for (size_t k = 0; k < m->len; k++) /* span must be readable */
			sink += (unsigned char)m->raw[k];
		for (size_t k = 0; m->from_line && k < m->from_len; k++)
			sink += (unsigned char)m->from_line[k];
		char *dst = malloc(m->len ? m->len : 1);
		if (dst == NULL)
			abort();
		size_t w = mbox_unquote(box, i, dst);
		if (w > m->len)
			abort();
		if (!m->quoted && (w != m->len || memcmp(dst, m->raw, w) != 0))
			abort(); /* nothing to unquote must copy unchanged */
		free(dst);
	}
	if (mbox_message(box, n) != NULL)
		abort();
	(void)sink;
	mbox_close(box);
	return 0;
}
