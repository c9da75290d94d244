/* Small helpers shared by the C engines; see util.h. */
#include <stdarg.h>
#include <stdio.h>

#include "util.h"

int util_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}
