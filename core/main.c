/*
 * listdigest's entry point: builds the Lua state, preloads the C modules,
 * finds the Lua tree and runs listdigest.cli.main(argv) under lua_pcall with a
 * traceback. All the program's logic lives in Lua; this file only exits.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "modules.h"

/* Is DIR the root of a listdigest tree (holding lua/listdigest/cli.lua)? */
static int is_root(const char *dir)
{
	char path[PATH_MAX];
	struct stat st;

	if (snprintf(path, sizeof path, "%s/lua/listdigest/cli.lua", dir) >= (int)sizeof path)
		return 0;
	return stat(path, &st) == 0;
}

/*
 * The Lua tree: $LISTDIGEST_HOME; else relative to the executable: a source
 * tree (build/listdigest or build/asan/listdigest) or an installed prefix
 * (PREFIX/bin/listdigest with PREFIX/share/listdigest), so a relocated or
 * DESTDIR-staged install works too; else the DATADIR compiled in.
 */
static int find_root(char *out, size_t outlen)
{
	static const char *const rel[] = {"/..", "/../..", "/../share/listdigest"};
	const char *env = getenv("LISTDIGEST_HOME");
	char exe[PATH_MAX];
	ssize_t n;

	if (env && *env) {
		snprintf(out, outlen, "%s", env);
		return is_root(out);
	}
	n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash)
			*slash = '\0';
		for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
			if (snprintf(out, outlen, "%s%s", exe, rel[i]) < (int)outlen && is_root(out))
				return 1;
		}
	}
	snprintf(out, outlen, "%s", LISTDIGEST_DATADIR);
	return is_root(out);
}

static int traceback(lua_State *L)
{
	const char *msg = lua_tostring(L, 1);

	if (!msg)
		msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
	luaL_traceback(L, L, msg, 1);
	return 1;
}

static void preload(lua_State *L, const char *root)
{
	luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
#define X(name, fn) lua_pushcfunction(L, fn); lua_setfield(L, -2, name);
	LISTDIGEST_MODULES(X)
#undef X
	lua_pop(L, 1);

	/* package.loaded["listdigest._build"] = {version=, root=} */
	luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
	lua_createtable(L, 0, 2);
	lua_pushstring(L, LISTDIGEST_VERSION);
	lua_setfield(L, -2, "version");
	lua_pushstring(L, root);
	lua_setfield(L, -2, "root");
	lua_setfield(L, -2, "listdigest._build");
	lua_pop(L, 1);

	lua_getglobal(L, "package");
	lua_pushfstring(L, "%s/lua/?.lua;%s/lua/?/init.lua;", root, root);
	lua_getfield(L, -2, "path");
	lua_concat(L, 2);
	lua_setfield(L, -2, "path");
	lua_pop(L, 1);
}

int main(int argc, char **argv)
{
	char root[PATH_MAX];
	lua_State *L;
	int status, code;

	if (!find_root(root, sizeof root)) {
		fprintf(stderr, "listdigest: cannot find its Lua files (looked in %s; set LISTDIGEST_HOME)\n", root);
		return 1;
	}
	L = luaL_newstate();
	if (!L) {
		fprintf(stderr, "listdigest: out of memory\n");
		return 1;
	}
	luaL_openlibs(L);
	preload(L, root);

	lua_pushcfunction(L, traceback);
	lua_getglobal(L, "require");
	lua_pushstring(L, "listdigest.cli");
	status = lua_pcall(L, 1, 1, 1);
	if (status == LUA_OK) {
		lua_getfield(L, -1, "main");
		lua_createtable(L, argc, 0);
		for (int i = 1; i < argc; i++) {
			lua_pushstring(L, argv[i]);
			lua_rawseti(L, -2, i);
		}
		status = lua_pcall(L, 1, 1, 1);
	}
	if (status != LUA_OK) {
		fprintf(stderr, "listdigest: internal error: %s\n", lua_tostring(L, -1));
		code = 70; /* EX_SOFTWARE: a bug, not the user's input */
	} else {
		code = (int)luaL_optinteger(L, -1, 0);
	}
	lua_close(L);
	return code;
}
