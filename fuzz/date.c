/* libFuzzer target: date_parse. */
#include <stdint.h>
#include <stdlib.h>

#include "date.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int64_t t = 12345;
	int tz = 77, has_tz = 5;

	if (date_parse((const char *)data, size, &t, &tz, &has_tz) < 0) {
		if (t != 12345 || tz != 77 || has_tz != 5)
			abort(); /* documented: outs untouched on failure */
		return 0;
	}
	if (has_tz != 0 && has_tz != 1)
		abort();
	if (!has_tz && tz != 0)
		abort();
	return 0;
}
