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

/* t[K] = V, for the table on top of the stack (V NULL: no field). */
void lutil_set_int(lua_State *L, const char *k, lua_Integer v);
void lutil_set_str(lua_State *L, const char *k, const char *v);

/*
 * A box owns one C object while Lua code that may raise runs: a userdata
 * left on the stack whose __gc calls FREE(P) should an error unwind past
 * it. Set P once the object exists; lutil_box_release frees it at once on
 * the normal path.
 */
struct lutil_box {
	void *p;
	void (*free)(void *);
};
struct lutil_box *lutil_box(lua_State *L, void (*free_fn)(void *));
void lutil_box_release(struct lutil_box *b);

#endif
