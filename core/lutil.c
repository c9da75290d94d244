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
