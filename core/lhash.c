/*
 * listdigest.hash: digests for Lua, for cache keys. Binding only; the
 * algorithm is core/sha256.c.
 */
#include <lauxlib.h>
#include <lua.h>

#include "modules.h"
#include "sha256.h"

/* hash.sha256(s [, ...]) -> 64 lower-case hex digits of SHA-256 over the
 * strings given, each prefixed by its length so ("ab","c") ~= ("a","bc"). */
static int l_sha256(lua_State *L)
{
	static const char hex[] = "0123456789abcdef";
	int n = lua_gettop(L);
	struct sha256 s;
	unsigned char d[32];
	char out[64];

	luaL_checkstring(L, 1);
	sha256_init(&s);
	for (int i = 1; i <= n; i++) {
		size_t len;
		const char *p = luaL_checklstring(L, i, &len);
		unsigned char lenbuf[8];
		if (n > 1) {
			for (int k = 0; k < 8; k++)
				lenbuf[k] = (unsigned char)((uint64_t)len >> (56 - 8 * k));
			sha256_update(&s, lenbuf, sizeof lenbuf);
		}
		sha256_update(&s, p, len);
	}
	sha256_final(&s, d);
	for (int i = 0; i < 32; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	lua_pushlstring(L, out, sizeof out);
	return 1;
}

int luaopen_listdigest_hash(lua_State *L)
{
	static const luaL_Reg fns[] = {{"sha256", l_sha256}, {NULL, NULL}};
	luaL_newlib(L, fns);
	return 1;
}
