/*
 * Small helpers shared by the C engines. Nothing here knows about mail or
 * about Lua.
 */
#ifndef LISTDIGEST_UTIL_H
#define LISTDIGEST_UTIL_H

#include <stddef.h>

/*
 * Formats the reason into ERR (ERRLEN bytes; ERR may be NULL) and returns -1,
 * so an engine can `return util_fail(err, errlen, "...", ...);`.
 */
int util_fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
