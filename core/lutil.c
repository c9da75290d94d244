/* Helpers shared by the Lua bindings; see lutil.h. */
#include <string.h>

#include <lauxlib.h>

#include "lutil.h"

void lutil_check_keys(lua_State *L, int idx, const char *const *names, const char *what)
{
	idx = lua_absindex(L, idx);
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
		size_t i;

		for (i = 0; k && names[i] && strcmp(names[i], k) != 0; i++)
			;
		if (!k || !names[i])
			luaL_error(L, "%s: unknown field %s", what, k ? k : luaL_typename(L, -2));
		lua_pop(L, 1);
	}
}

void lutil_set_int(lua_State *L, const char *k, lua_Integer v)
{
	lua_pushinteger(L, v);
	lua_setfield(L, -2, k);
}

void lutil_set_str(lua_State *L, const char *k, const char *v)
{
	lua_pushstring(L, v);
	lua_setfield(L, -2, k);
}

#define BOX_MT "listdigest.box"

void lutil_box_release(struct lutil_box *b)
{
	if (b->p && b->free)
		b->free(b->p);
	b->p = NULL;
}

static int box_gc(lua_State *L)
{
	lutil_box_release(luaL_checkudata(L, 1, BOX_MT));
	return 0;
}

struct lutil_box *lutil_box(lua_State *L, void (*free_fn)(void *))
{
	struct lutil_box *b = lua_newuserdatauv(L, sizeof *b, 0);

	b->p = NULL;
	b->free = free_fn;
	if (luaL_newmetatable(L, BOX_MT)) {
		lua_pushcfunction(L, box_gc);
		lua_setfield(L, -2, "__gc");
	}
	lua_setmetatable(L, -2);
	return b;
}
