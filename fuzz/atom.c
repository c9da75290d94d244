/* libFuzzer target: atom_parse, and the percent-coding round trip. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "atom.h"

static volatile unsigned sink;

static void touch(const char *s)
{
	for (; s && *s; s++)
		sink += (unsigned char)*s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct atom_feed *f = NULL;
	char err[256];

	if (atom_parse(s, size, &f, err, sizeof err) == 0) {
		touch(f->title);
		touch(f->updated);
		for (size_t i = 0; i < f->n_entries; i++) {
			const struct atom_entry *e = &f->entries[i];
			touch(e->message_id);
			touch(e->href);
			touch(e->title);
			touch(e->updated);
			touch(e->author_name);
			touch(e->author_email);
			touch(e->in_reply_to);
		}
		atom_free(f);
	}

	char *enc = malloc(3 * size + 1), *dec = malloc(size + 1);
	if (!enc || !dec)
		abort();
	size_t el = atom_pct_encode(s, size, enc);
	if (el > 3 * size)
		abort();
	size_t dl = atom_pct_decode(enc, el, dec);
	if (dl != size || memcmp(dec, s, size) != 0)
		abort(); /* decode(encode(x)) == x */
	dl = atom_pct_decode(s, size, dec);
	if (dl > size)
		abort();
	free(enc);
	free(dec);
	return 0;
}
