/*
 * listdigest.json: JSON (RFC 8259) for Lua on top of jansson. Encoding is
 * deterministic (keys sorted) so reports and caches diff cleanly. This is a
 * binding only: jansson does the wire format, this file maps Lua values.
 */
#include <math.h>
#include <string.h>

#include <jansson.h>
#include <lauxlib.h>
#include <lua.h>

#include "modules.h"

#define JSON_BOX "listdigest.json.box"
#define MAX_DEPTH 200

/* json.null and the array/object markers are unique light userdata / tables. */
static const char null_key = 'n';
static const char array_mt_key = 'a';
static const char object_mt_key = 'o';

/* Anchors a json_t so that a Lua error during the walk cannot leak it. */
struct box {
	json_t *root;
};

static int box_gc(lua_State *L)
{
	struct box *b = luaL_checkudata(L, 1, JSON_BOX);
	json_decref(b->root);
	b->root = NULL;
	return 0;
}

static int is_marked(lua_State *L, int idx, const char *key)
{
	int r = 0;

	if (lua_getmetatable(L, idx)) {
		lua_rawgetp(L, LUA_REGISTRYINDEX, key);
		r = lua_rawequal(L, -1, -2);
		lua_pop(L, 2);
	}
	return r;
}

/* A table is an array when marked so, or when its keys are exactly 1..n
 * (n >= 0: an unmarked empty table is an array, the commoner case in our
 * report model; json.object() marks an empty object). */
static int is_array(lua_State *L, int idx, lua_Integer *n_out)
{
	lua_Integer n = (lua_Integer)lua_rawlen(L, idx), count = 0;

	*n_out = n;
	if (is_marked(L, idx, &array_mt_key))
		return 1;
	if (is_marked(L, idx, &object_mt_key))
		return 0;
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		lua_pop(L, 1);
		if (!lua_isinteger(L, -1)) {
			lua_pop(L, 1);
			return 0;
		}
		count++;
	}
	return count == n;
}

static json_t *to_json(lua_State *L, int idx, int depth);

static json_t *table_to_json(lua_State *L, int idx, int depth)
{
	lua_Integer n;
	json_t *j;

	if (depth > MAX_DEPTH)
		luaL_error(L, "json.encode: nesting deeper than %d (a cycle?)", MAX_DEPTH);
	luaL_checkstack(L, 4, "json.encode");
	if (is_array(L, idx, &n)) {
		j = json_array();
		/* anchor j on the stack before recursing, which may raise */
		struct box *b = lua_newuserdatauv(L, sizeof *b, 0);
		b->root = j;
		luaL_setmetatable(L, JSON_BOX);
		for (lua_Integer i = 1; i <= n; i++) {
			lua_rawgeti(L, idx, i);
			json_array_append_new(j, to_json(L, lua_gettop(L), depth + 1));
			lua_pop(L, 1);
		}
		json_incref(j);
		lua_pop(L, 1); /* the box's __gc drops its reference */
		return j;
	}
	j = json_object();
	struct box *b = lua_newuserdatauv(L, sizeof *b, 0);
	b->root = j;
	luaL_setmetatable(L, JSON_BOX);
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		size_t klen = 0;
		const char *k = NULL;

		if (lua_type(L, -2) == LUA_TSTRING) {
			k = lua_tolstring(L, -2, &klen);
		} else if (lua_type(L, -2) == LUA_TNUMBER) {
			luaL_error(L, "json.encode: a table mixes array items and string keys");
			return NULL;
		} else {
			luaL_error(L, "json.encode: table key of type %s", luaL_typename(L, -2));
		}
		json_t *v = to_json(L, lua_gettop(L), depth + 1);
		if (json_object_setn_new(j, k, klen, v) != 0)
			luaL_error(L, "json.encode: key is not valid UTF-8");
		lua_pop(L, 1);
	}
	json_incref(j);
	lua_pop(L, 1);
	return j;
}

/* Returns a new reference; raises on values JSON cannot carry. */
static json_t *to_json(lua_State *L, int idx, int depth)
{
	switch (lua_type(L, idx)) {
	case LUA_TNIL:
		return json_null();
	case LUA_TBOOLEAN:
		return json_boolean(lua_toboolean(L, idx));
	case LUA_TNUMBER:
		if (lua_isinteger(L, idx))
			return json_integer((json_int_t)lua_tointeger(L, idx));
		else {
			double d = lua_tonumber(L, idx);
			if (!isfinite(d))
				luaL_error(L, "json.encode: %f cannot be represented in JSON", d);
			return json_real(d);
		}
	case LUA_TSTRING: {
		size_t len;
		const char *s = lua_tolstring(L, idx, &len);
		json_t *j = json_stringn(s, len);
		if (!j)
			luaL_error(L, "json.encode: string is not valid UTF-8: %.40s", s);
		return j;
	}
	case LUA_TTABLE:
		return table_to_json(L, idx, depth);
	case LUA_TLIGHTUSERDATA:
		if (lua_touserdata(L, idx) == (void *)&null_key)
			return json_null();
		/* fall through */
	default:
		luaL_error(L, "json.encode: cannot encode a %s", luaL_typename(L, idx));
		return NULL;
	}
}

/*
 * json.encode(value [, {indent = N}]) -> string. Keys sorted; tables with keys
 * 1..n (or marked with json.array) become arrays; json.null is null. Raises on
 * functions, non-UTF-8 strings, NaN, mixed keys and cycles.
 */
static int l_encode(lua_State *L)
{
	size_t flags = JSON_SORT_KEYS | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17);
	lua_Integer indent = 0;
	struct box *b;
	char *s;

	luaL_checkany(L, 1);
	if (lua_istable(L, 2)) {
		lua_getfield(L, 2, "indent");
		indent = luaL_optinteger(L, -1, 0);
		lua_pop(L, 1);
	}
	if (indent < 0 || indent > 31)
		luaL_argerror(L, 2, "indent must be 0..31");
	flags |= indent ? JSON_INDENT(indent) : JSON_COMPACT;
	lua_settop(L, 1);
	b = lua_newuserdatauv(L, sizeof *b, 0);
	b->root = NULL;
	luaL_setmetatable(L, JSON_BOX);
	b->root = to_json(L, 1, 0);
	s = json_dumps(b->root, flags);
	if (!s)
		return luaL_error(L, "json.encode: out of memory");
	lua_pushstring(L, s);
	free(s);
	return 1;
}

static void push_json(lua_State *L, json_t *j, int depth)
{
	luaL_checkstack(L, 3, "json.decode");
	switch (json_typeof(j)) {
	case JSON_OBJECT: {
		const char *k;
		json_t *v;
		lua_createtable(L, 0, (int)json_object_size(j));
		json_object_foreach(j, k, v) {
			push_json(L, v, depth + 1);
			lua_setfield(L, -2, k);
		}
		break;
	}
	case JSON_ARRAY: {
		size_t i;
		json_t *v;
		lua_createtable(L, (int)json_array_size(j), 0);
		json_array_foreach(j, i, v) {
			push_json(L, v, depth + 1);
			lua_rawseti(L, -2, (lua_Integer)i + 1);
		}
		lua_rawgetp(L, LUA_REGISTRYINDEX, &array_mt_key);
		lua_setmetatable(L, -2);
		break;
	}
	case JSON_STRING:
		lua_pushlstring(L, json_string_value(j), json_string_length(j));
		break;
	case JSON_INTEGER:
		lua_pushinteger(L, (lua_Integer)json_integer_value(j));
		break;
	case JSON_REAL:
		lua_pushnumber(L, json_real_value(j));
		break;
	case JSON_TRUE:
		lua_pushboolean(L, 1);
		break;
	case JSON_FALSE:
		lua_pushboolean(L, 0);
		break;
	case JSON_NULL:
		lua_pushlightuserdata(L, (void *)&null_key);
		break;
	}
}

/*
 * json.decode(string) -> value, or nil, "line L column C: reason" for text
 * that is not JSON (malformed input is the world's failure, not a bug).
 * Arrays come back marked with json.array's metatable so they re-encode as
 * arrays even when empty; null is json.null.
 */
static int l_decode(lua_State *L)
{
	size_t len;
	const char *s = luaL_checklstring(L, 1, &len);
	json_error_t e;
	struct box *b;

	b = lua_newuserdatauv(L, sizeof *b, 0);
	b->root = NULL;
	luaL_setmetatable(L, JSON_BOX);
	b->root = json_loadb(s, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
	if (!b->root) {
		lua_pushnil(L);
		lua_pushfstring(L, "line %d column %d: %s", e.line, e.column, e.text);
		return 2;
	}
	push_json(L, b->root, 0);
	return 1;
}

static int mark(lua_State *L, const char *key)
{
	if (lua_isnoneornil(L, 1))
		lua_newtable(L);
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_settop(L, 1);
	lua_rawgetp(L, LUA_REGISTRYINDEX, key);
	lua_setmetatable(L, 1);
	return 1;
}

/* json.array([t]) / json.object([t]): mark t (or a new table) as an array or object. */
static int l_array(lua_State *L) { return mark(L, &array_mt_key); }
static int l_object(lua_State *L) { return mark(L, &object_mt_key); }

int luaopen_listdigest_json(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{"encode", l_encode}, {"decode", l_decode},
		{"array", l_array}, {"object", l_object},
		{NULL, NULL},
	};

	if (luaL_newmetatable(L, JSON_BOX)) {
		lua_pushcfunction(L, box_gc);
		lua_setfield(L, -2, "__gc");
	}
	lua_pop(L, 1);
	/* created once per state, so tables marked earlier stay recognised */
	if (lua_rawgetp(L, LUA_REGISTRYINDEX, &array_mt_key) == LUA_TNIL) {
		lua_newtable(L);
		lua_rawsetp(L, LUA_REGISTRYINDEX, &array_mt_key);
		lua_newtable(L);
		lua_rawsetp(L, LUA_REGISTRYINDEX, &object_mt_key);
	}
	lua_pop(L, 1);

	luaL_newlib(L, fns);
	lua_pushlightuserdata(L, (void *)&null_key);
	lua_setfield(L, -2, "null");
	return 1;
}
