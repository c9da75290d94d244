/*
 * Lua binding for the mail writer and SMTP sender (mailout.h):
 * require "listdigest.mailout". Reads the argument tables into strings the
 * Lua stack keeps alive; the composed message sits in a userdata with __gc
 * until it is copied into a Lua string. SMTP credentials come from the
 * environment (LISTDIGEST_SMTP_USER / LISTDIGEST_SMTP_PASSWORD) only.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <lua.h>

#include "mailout.h"
#include "lutil.h"
#include "modules.h"

#define RAW_MT "listdigest.mailout.raw"

/* Owns the composed message while Lua copies it; __gc frees it if that raises. */
struct lraw {
	char *p;
};

static int raw_gc(lua_State *L)
{
	struct lraw *r = luaL_checkudata(L, 1, RAW_MT);

	free(r->p);
	r->p = NULL;
	return 0;
}

/* String field NAME of the table at IDX, left on the stack (so it stays alive);
 * NULL when nil and not REQUIRED. */
static const char *str_field(lua_State *L, int idx, const char *name, int required, size_t *len_out)
{
	int t = lua_getfield(L, idx, name);

	if (t == LUA_TNIL && !required) {
		if (len_out)
			*len_out = 0;
		return NULL;
	}
	if (t != LUA_TSTRING)
		luaL_error(L, "field %s: string expected, got %s", name, luaL_typename(L, -1));
	return lua_tolstring(L, -1, len_out);
}

/* Field "to" of the table at IDX: a non-empty list of strings (or one string),
 * as an array in a GC-managed userdata left on the stack. */
static const char *const *to_field(lua_State *L, int idx, size_t *n_out)
{
	const char **v;
	int list;
	size_t n;

	lua_getfield(L, idx, "to");
	list = lua_gettop(L);
	if (lua_type(L, list) == LUA_TSTRING) {
		v = lua_newuserdatauv(L, sizeof *v, 0);
		v[0] = lua_tostring(L, list);
		*n_out = 1;
		return v;
	}
	if (lua_type(L, list) != LUA_TTABLE)
		luaL_error(L, "field to: list of addresses expected, got %s", luaL_typename(L, list));
	n = lua_rawlen(L, list);
	if (!n)
		luaL_error(L, "field to: no recipient");
	v = lua_newuserdatauv(L, n * sizeof *v, 0);
	for (size_t i = 0; i < n; i++) {
		if (lua_rawgeti(L, list, (lua_Integer)i + 1) != LUA_TSTRING)
			luaL_error(L, "field to[%d]: string expected", (int)i + 1);
		v[i] = lua_tostring(L, -1);  /* the list table keeps it alive */
		lua_pop(L, 1);
	}
	*n_out = n;
	return v;
}

/*
 * mailout.compose{ from=, to={...}, subject=, text=, html=, date=epoch|nil,
 * message_id=nil } -> raw message (CRLF line ends). date defaults to now;
 * message_id (without <>) to a random id at the sender's domain. Raises on
 * a wrong field or input a header cannot carry (see mailout_compose).
 */
static int l_compose(lua_State *L)
{
	static const char *const keys[] = {"from", "to", "subject", "text", "html", "date",
	                                   "message_id", NULL};
	struct mailout_message m = {0};
	struct lraw *r;
	char err[256];
	size_t len;

	luaL_checktype(L, 1, LUA_TTABLE);
	lua_settop(L, 1);
	lutil_check_keys(L, 1, keys, "mailout.compose");
	m.from = str_field(L, 1, "from", 1, NULL);
	m.to = to_field(L, 1, &m.nto);
	m.subject = str_field(L, 1, "subject", 1, NULL);
	m.text = str_field(L, 1, "text", 1, &m.text_len);
	m.html = str_field(L, 1, "html", 1, &m.html_len);
	m.message_id = str_field(L, 1, "message_id", 0, NULL);
	if (lua_getfield(L, 1, "date") == LUA_TNIL) {
		m.date = (int64_t)time(NULL);
	} else {
		int isnum;

		m.date = (int64_t)lua_tointegerx(L, -1, &isnum);
		if (!isnum)
			return luaL_error(L, "field date: integer seconds since the epoch expected");
	}
	r = lua_newuserdatauv(L, sizeof *r, 0);
	r->p = NULL;
	luaL_setmetatable(L, RAW_MT);
	if (mailout_compose(&m, &r->p, &len, err, sizeof err) < 0)
		return luaL_error(L, "mailout.compose: %s", err);
	lua_pushlstring(L, r->p, len);
	free(r->p);
	r->p = NULL;
	return 1;
}

/*
 * mailout.send{ url = "smtp://host:port", from=, to={...}, raw=, timeout=30 }
 * -> true | nil, err. STARTTLS when the server offers it; SMTP AUTH with
 * LISTDIGEST_SMTP_USER / LISTDIGEST_SMTP_PASSWORD when the user is set.
 * err never holds the password. Raises on a wrong field.
 */
static int l_send(lua_State *L)
{
	static const char *const keys[] = {"url", "from", "to", "raw", "timeout", NULL};
	struct mailout_send s = {0};
	char err[3200];

	luaL_checktype(L, 1, LUA_TTABLE);
	lua_settop(L, 1);
	lutil_check_keys(L, 1, keys, "mailout.send");
	s.url = str_field(L, 1, "url", 1, NULL);
	s.from = str_field(L, 1, "from", 1, NULL);
	s.to = to_field(L, 1, &s.nto);
	s.raw = str_field(L, 1, "raw", 1, &s.raw_len);
	if (lua_getfield(L, 1, "timeout") != LUA_TNIL) {
		if (!lua_isnumber(L, -1) || lua_tonumber(L, -1) <= 0)
			return luaL_error(L, "field timeout: positive number of seconds expected");
		s.timeout = lua_tonumber(L, -1);
	}
	if (strncmp(s.url, "smtp://", 7) != 0 && strncmp(s.url, "smtps://", 8) != 0)
		return luaL_error(L, "field url: smtp:// or smtps:// URL expected");
	s.username = getenv("LISTDIGEST_SMTP_USER");
	s.password = getenv("LISTDIGEST_SMTP_PASSWORD");
	if (mailout_send(&s, err, sizeof err) < 0) {
		luaL_pushfail(L);
		lua_pushstring(L, err);
		return 2;
	}
	lua_pushboolean(L, 1);
	return 1;
}

static const luaL_Reg funcs[] = {
	{"compose", l_compose},
	{"send", l_send},
	{NULL, NULL},
};

int luaopen_listdigest_mailout(lua_State *L)
{
	luaL_newmetatable(L, RAW_MT);
	lua_pushcfunction(L, raw_gc);
	lua_setfield(L, -2, "__gc");
	lua_pop(L, 1);
	luaL_newlib(L, funcs);
	return 1;
}
