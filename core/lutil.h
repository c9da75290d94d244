/*
 * Helpers shared by the Lua bindings (l*.c). Binding code only: engines do
 * not include this.
 */
#ifndef LISTDIGEST_LUTIL_H
#define LISTDIGEST_LUTIL_H

#include <lua.h>

/*
 * Raises "WHAT: unknown field K" unless every key of the table at IDX is
 * one of NAMES (NULL-terminated): a typo in an options table is a caller
 * mistake, not something to ignore.
 */
void lutil_check_keys(lua_State *L, int idx, const char *const *names, const char *what);

#endif
