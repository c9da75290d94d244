/* libFuzzer target: rfc2047_decode, rfc2047_to_utf8, base64, quoted-printable.
 * Input: the header value; for to_utf8 the first line is the charset. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rfc2047.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct mime_buf b = {0};

	(void)rfc2047_decode(s, size, &b);
	if (!b.oom && !rfc2047_utf8_valid(b.p ? b.p : "", b.len))
		abort(); /* documented: the result is UTF-8 */
	mime_buf_free(&b);

	const char *nl = memchr(s, '\n', size);
	if (nl) {
		size_t cs_len = (size_t)(nl - s);
		memset(&b, 0, sizeof b);
		(void)rfc2047_to_utf8(s, cs_len, nl + 1, size - cs_len - 1, &b);
		if (!b.oom && !rfc2047_utf8_valid(b.p ? b.p : "", b.len))
			abort();
		mime_buf_free(&b);
	}

	memset(&b, 0, sizeof b);
	(void)rfc2047_base64(s, size, &b);
	mime_buf_free(&b);
	memset(&b, 0, sizeof b);
	(void)rfc2047_qp(s, size, size > 0 && (data[0] & 1), &b);
	mime_buf_free(&b);
	return 0;
}
