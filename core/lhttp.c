/*
 * Lua binding for the HTTP client engine (http.h): require "listdigest.http".
 * A client is a userdata wrapping struct http_client, created closed, closed
 * by one function shared by __gc and __close, an error to use after close.
 * Requests are read from Lua tables into GC-managed scratch memory; results
 * live in a userdata with __gc until they are copied out, so nothing malloc'ed
 * is ever held across a Lua call that can raise. No retry policy here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "http.h"
#include "lutil.h"
#include "modules.h"

#define CLIENT_MT "listdigest.http.client"
#define RESULTS_MT "listdigest.http.results"

struct lclient {
	struct http_client *c; /* NULL once closed */
	int busy;              /* in a batch: a check may not re-enter or close it */
};

/* The engine's outcomes for one batch, freed by __gc whatever happens. */
struct lresults {
	size_t n;
	struct http_response res[];
};

/* What a check callback needs to reach Lua while the engine runs. */
struct lbatch {
	lua_State *L;
	int scratch;        /* absolute index of the scratch table in l_perform's frame */
	char raised;        /* a check raised; its error is scratch[0] */
};

static struct lclient *check_lclient(lua_State *L, int idx)
{
	return luaL_checkudata(L, idx, CLIENT_MT);
}

static struct http_client *check_client(lua_State *L, int idx)
{
	struct lclient *lc = check_lclient(L, idx);

	if (!lc->c)
		luaL_error(L, "attempt to use a closed http client");
	if (lc->busy)
		luaL_error(L, "attempt to use an http client from its own request's check");
	return lc->c;
}

/* Number field NAME of the table at IDX, > 0 (or >= 0 with ZERO_OK); DEF if nil. */
static double num_field(lua_State *L, int idx, const char *name, double def, int zero_ok)
{
	double v = def;

	if (lua_getfield(L, idx, name) != LUA_TNIL) {
		if (!lua_isnumber(L, -1))
			luaL_error(L, "%s must be a number", name);
		v = lua_tonumber(L, -1);
		if (!(zero_ok ? v >= 0 : v > 0) || v > 1e9)
			luaL_error(L, "%s must be a %s number of seconds", name,
			           zero_ok ? "non-negative" : "positive");
	}
	lua_pop(L, 1);
	return v;
}

static lua_Integer int_field(lua_State *L, int idx, const char *name, lua_Integer def,
                             lua_Integer min, lua_Integer max)
{
	lua_Integer v = def;

	if (lua_getfield(L, idx, name) != LUA_TNIL) {
		int ok;

		v = lua_tointegerx(L, -1, &ok);
		if (!ok || v < min || v > max)
			luaL_error(L, "%s must be an integer in [%I, %I]", name, min, max);
	}
	lua_pop(L, 1);
	return v;
}

/* No CR, LF or NUL may reach a header line (RFC 9110 §5.5: no smuggling). */
static int clean_header_text(const char *s, size_t len)
{
	return strcspn(s, "\r\n") == len;
}

static const char *const client_keys[] = {
	"user_agent", "connect_timeout", "timeout", "stall_timeout", "max_per_host", "max_total", "retries",
	"backoff", "max_backoff", "max_retry_after", "max_body", "progress", "progress_label",
	NULL,
};

/*
 * c = http.client{ user_agent=, connect_timeout=10, timeout=120, stall_timeout=0,
 *   max_per_host=2,
 *   max_total=8, retries=4, backoff=0.5, max_backoff=30, max_retry_after=120,
 *   max_body=1<<30, progress=isatty(2), progress_label="fetch" }
 * Every field is optional; an unknown field or a bad value raises.
 */
static int l_client(lua_State *L)
{
	struct http_options o;
	struct lclient *lc;
	char err[256];
	int progress;

	memset(&o, 0, sizeof o);
	if (lua_isnoneornil(L, 1)) {
		lua_settop(L, 0);
		lua_newtable(L);
	}
	luaL_checktype(L, 1, LUA_TTABLE);
	lutil_check_keys(L, 1, client_keys, "http.client");
	if (lua_getfield(L, 1, "user_agent") != LUA_TNIL) {
		size_t len;

		o.user_agent = luaL_checklstring(L, -1, &len);  /* stays on the stack: copied below */
		if (!clean_header_text(o.user_agent, len))
			return luaL_error(L, "user_agent: CR or LF in a header");
	}
	if (lua_getfield(L, 1, "progress_label") != LUA_TNIL)
		o.progress_label = luaL_checkstring(L, -1);
	o.connect_timeout = num_field(L, 1, "connect_timeout", 10, 0);
	o.timeout = num_field(L, 1, "timeout", 120, 0);
	o.stall_timeout = num_field(L, 1, "stall_timeout", 0, 1);
	o.max_per_host = (int)int_field(L, 1, "max_per_host", 2, 1, 1000);
	o.max_total = (int)int_field(L, 1, "max_total", 8, 1, 10000);
	o.retries = (int)int_field(L, 1, "retries", 4, 0, 100);
	o.backoff = num_field(L, 1, "backoff", 0.5, 0);
	o.max_backoff = num_field(L, 1, "max_backoff", 30, 0);
	o.max_retry_after = num_field(L, 1, "max_retry_after", 120, 0);
	o.max_body = (size_t)int_field(L, 1, "max_body", (lua_Integer)1 << 30, 1, LUA_MAXINTEGER);
	if (lua_getfield(L, 1, "progress") == LUA_TNIL)
		progress = isatty(2);
	else if (lua_isboolean(L, -1))
		progress = lua_toboolean(L, -1);
	else
		return luaL_error(L, "progress must be a boolean or nil");
	lua_pop(L, 1);
	o.progress = progress ? stderr : NULL;
	lc = lua_newuserdatauv(L, sizeof *lc, 0);
	lc->c = NULL;
	lc->busy = 0;
	luaL_setmetatable(L, CLIENT_MT);
	if (http_client_new(&o, &lc->c, err, sizeof err) < 0)
		return luaL_error(L, "http.client: %s", err);
	return 1;
}

/* Keeps the value on top of the stack alive in the scratch table; pops it. */
static void anchor(lua_State *L, int scratch)
{
	lua_rawseti(L, scratch, (lua_Integer)lua_rawlen(L, scratch) + 1);
}

/* A header name is a token (RFC 9110 §5.1): no separators, no spaces. */
static int is_token(const char *s, size_t len)
{
	if (!len)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (s[i] <= 32 || s[i] >= 127 || strchr("\"(),/:;<=>?@[\\]{}", s[i]))
			return 0;
	return 1;
}

/*
 * Reads headers = { ["Name"] = "value", ... } or { "Name: value", ... } at
 * IDX into an array of line pointers anchored in SCRATCH.
 */
static void read_headers(lua_State *L, int idx, int scratch, struct http_request *r)
{
	size_t n = 0, cap = 0;
	const char **lines;

	lua_pushnil(L);
	while (lua_next(L, idx)) {
		cap++;
		lua_pop(L, 1);
	}
	lines = lua_newuserdatauv(L, (cap ? cap : 1) * sizeof *lines, 0);
	anchor(L, scratch);
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		size_t len, nlen;
		const char *line;

		if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER)
			luaL_error(L, "request.headers: values must be strings");
		if (lua_type(L, -2) == LUA_TSTRING) {
			const char *name = lua_tolstring(L, -2, &nlen);
			size_t vlen;
			const char *value;

			lua_pushvalue(L, -1);  /* tolstring on a copy: lua_next needs the key as is */
			value = lua_tolstring(L, -1, &vlen);
			if (!is_token(name, nlen))
				luaL_error(L, "request.headers: bad header name '%s'", name);
			/* "Name;" is how curl sends a header with an empty value */
			line = vlen ? lua_pushfstring(L, "%s: %s", name, value) : lua_pushfstring(L, "%s;", name);
			lua_remove(L, -2);
		} else if (lua_isinteger(L, -2)) {
			lua_pushvalue(L, -1);
			line = lua_tolstring(L, -1, &len);
			nlen = strcspn(line, ":");
			if (nlen == len || !is_token(line, nlen))
				luaL_error(L, "request.headers: '%s' is not \"Name: value\"", line);
		} else {
			return (void)luaL_error(L, "request.headers: keys must be names or array indices");
		}
		line = lua_tolstring(L, -1, &len);
		if (!clean_header_text(line, len))
			luaL_error(L, "request.headers: CR or LF in a header");
		lines[n++] = line;
		anchor(L, scratch);
		lua_pop(L, 1);
	}
	r->headers = lines;
	r->nheaders = n;
}

static const char *const request_keys[] = {
	"method", "url", "headers", "body", "timeout", "retry_on", "check", NULL,
};

static int check_cb(void *ud, size_t i, const struct http_response *res, char *reason,
                    size_t reasonlen);

/*
 * Reads request table IDX (index I, 0-based) into R. Strings
 * are borrowed from Lua and anchored in SCRATCH so that nothing the batch
 * runs may collect them.
 */
static void read_request(lua_State *L, int idx, int scratch, size_t i, struct http_request *r,
                         struct lbatch *lb)
{
	int t;

	idx = lua_absindex(L, idx);
	if (lua_type(L, idx) != LUA_TTABLE)
		luaL_error(L, "request must be a table");
	lutil_check_keys(L, idx, request_keys, "request");
	memset(r, 0, sizeof *r);
	if (lua_getfield(L, idx, "url") != LUA_TSTRING)
		luaL_error(L, "request.url must be a string");
	r->url = lua_tostring(L, -1);
	if (strncmp(r->url, "http://", 7) != 0 && strncmp(r->url, "https://", 8) != 0)
		luaL_error(L, "request.url must be an http:// or https:// URL");
	anchor(L, scratch);
	if ((t = lua_getfield(L, idx, "method")) != LUA_TNIL) {
		size_t len;

		r->method = lua_tolstring(L, -1, &len);
		if (t != LUA_TSTRING || !is_token(r->method, len))
			luaL_error(L, "request.method must be a method name such as \"GET\"");
		anchor(L, scratch);
	} else {
		lua_pop(L, 1);
	}
	if ((t = lua_getfield(L, idx, "body")) != LUA_TNIL) {
		if (t != LUA_TSTRING)
			luaL_error(L, "request.body must be a string");
		r->body = lua_tolstring(L, -1, &r->body_len);
		anchor(L, scratch);
	} else {
		lua_pop(L, 1);
	}
	r->timeout = num_field(L, idx, "timeout", 0, 0);
	if ((t = lua_getfield(L, idx, "headers")) != LUA_TNIL) {
		if (t != LUA_TTABLE)
			luaL_error(L, "request.headers must be a table");
		read_headers(L, lua_gettop(L), scratch, r);
	}
	lua_pop(L, 1);
	if ((t = lua_getfield(L, idx, "retry_on")) != LUA_TNIL) {
		size_t n = lua_rawlen(L, -1);
		int *codes;

		if (t != LUA_TTABLE)
			luaL_error(L, "request.retry_on must be a list of statuses");
		codes = lua_newuserdatauv(L, (n ? n : 1) * sizeof *codes, 0);
		anchor(L, scratch);
		for (size_t i = 0; i < n; i++) {
			int ok;
			lua_Integer v;

			lua_rawgeti(L, -1, (lua_Integer)i + 1);
			v = lua_tointegerx(L, -1, &ok);
			if (!ok || v < 100 || v > 599)
				luaL_error(L, "request.retry_on: statuses are integers in [100, 599]");
			codes[i] = (int)v;
			lua_pop(L, 1);
		}
		r->retry_on = codes;
		r->nretry_on = n;
	}
	lua_pop(L, 1);
	if ((t = lua_getfield(L, idx, "check")) != LUA_TNIL) {
		if (t != LUA_TFUNCTION)
			luaL_error(L, "request.check must be a function");
		r->check = check_cb;
		r->check_ud = lb;
		lua_rawseti(L, scratch, -(lua_Integer)i - 1);  /* found by check_cb without allocating */
	} else {
		lua_pop(L, 1);
	}
}

/* Pushes code as an integer when it is a status ("503"), else as a string. */
static void push_code(lua_State *L, const char *code)
{
	char *end;
	long v = strtol(code, &end, 10);

	if (*code && !*end)
		lua_pushinteger(L, v);
	else
		lua_pushstring(L, code);
}

/* { status=, headers={name=value}, body=, url=, attempts=, http_version=, elapsed= } */
static void push_response(lua_State *L, const struct http_response *res)
{
	lua_createtable(L, 0, 7);
	lutil_set_int(L, "status", res->status);
	lua_createtable(L, 0, (int)(res->nheaders < 64 ? res->nheaders : 64));
	for (size_t i = 0; i < res->nheaders; i++)  /* the last value wins */
		lutil_set_str(L, res->headers[i].name, res->headers[i].value);
	lua_setfield(L, -2, "headers");
	lua_pushlstring(L, res->body ? res->body : "", res->body_len);
	lua_setfield(L, -2, "body");
	lutil_set_str(L, "url", res->url ? res->url : "");
	lutil_set_int(L, "attempts", res->attempts);
	lutil_set_str(L, "http_version", res->http_version ? res->http_version : "1.1");
	lua_pushnumber(L, res->elapsed);
	lua_setfield(L, -2, "elapsed");
}

/* Runs under lua_pcall: ok, reason = check(res), called as call_check(check, res). */
static int call_check(lua_State *L)
{
	const struct http_response *res = lua_touserdata(L, 2);

	lua_settop(L, 1);
	push_response(L, res);
	lua_call(L, 1, 2);
	return 2;
}

/*
 * The engine's check hook. The Lua function is called protected, so it can
 * never unwind through the engine; if it raises, the batch is aborted (the
 * engine frees everything) and l_perform raises the same error afterwards.
 */
static int check_cb(void *ud, size_t i, const struct http_response *res, char *reason,
                    size_t reasonlen)
{
	struct lbatch *lb = ud;
	lua_State *L = lb->L;
	int verdict;

	if (!lua_checkstack(L, 8)) {
		snprintf(reason, reasonlen, "request.check: Lua stack overflow");
		return -1;
	}
	lua_pushcfunction(L, call_check);
	lua_rawgeti(L, lb->scratch, -(lua_Integer)i - 1);
	lua_pushlightuserdata(L, (void *)res);
	if (lua_pcall(L, 2, 2, 0) != LUA_OK) {
		lua_rawseti(L, lb->scratch, 0);  /* the key exists: no allocation */
		lb->raised = 1;
		snprintf(reason, reasonlen, "request.check raised an error");
		return -1;
	}
	verdict = lua_toboolean(L, -2) ? 0 : 1;
	if (verdict)
		snprintf(reason, reasonlen, "%s",
		         lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "rejected by check");
	lua_pop(L, 2);
	return verdict;
}

static int results_gc(lua_State *L)
{
	struct lresults *r = luaL_checkudata(L, 1, RESULTS_MT);

	for (size_t i = 0; i < r->n; i++)
		http_response_clear(&r->res[i]);
	r->n = 0;
	return 0;
}

/*
 * Runs the requests in the array at REQS (stack index) and leaves the
 * results userdata on top of the stack.
 */
static struct lresults *run(lua_State *L, struct lclient *lc, int reqs, size_t n)
{
	struct http_request *rq;
	struct lresults *res;
	struct lbatch *lb;
	char err[512];
	int scratch, rc;

	if (n > ((size_t)1 << 24))
		luaL_error(L, "too many requests in one batch");
	lua_createtable(L, (int)(n * 2), 1);
	scratch = lua_gettop(L);
	lua_pushboolean(L, 0);
	lua_rawseti(L, scratch, 0);  /* for a check's error: check_cb's store never allocates */
	lb = lua_newuserdatauv(L, sizeof *lb, 0);
	anchor(L, scratch);
	lb->L = L;
	lb->scratch = scratch;
	lb->raised = 0;
	rq = lua_newuserdatauv(L, (n ? n : 1) * sizeof *rq, 0);
	anchor(L, scratch);
	for (size_t i = 0; i < n; i++) {
		lua_rawgeti(L, reqs, (lua_Integer)i + 1);
		read_request(L, -1, scratch, i, &rq[i], lb);
		lua_pop(L, 1);
	}
	res = lua_newuserdatauv(L, sizeof *res + (n ? n : 1) * sizeof res->res[0], 0);
	memset(res, 0, sizeof *res + (n ? n : 1) * sizeof res->res[0]);
	luaL_setmetatable(L, RESULTS_MT);
	res->n = n;
	lc->busy = 1;
	rc = http_perform(lc->c, rq, n, res->res, err, sizeof err);
	lc->busy = 0;
	if (rc < 0) {
		if (lb->raised) {
			lua_rawgeti(L, scratch, 0);
			lua_error(L);
		}
		luaL_error(L, "http: %s", err);
	}
	return res;
}

/*
 * res, err, code = c:request{ method=, url=, headers=, body=, timeout=,
 *                             retry_on=, check= }
 * res = { status, headers, body, url, attempts, http_version, elapsed };
 * failures: nil, "METHOD URL: cause", code (a status, or "timeout", ...).
 */
static int l_request(lua_State *L)
{
	struct lresults *r;

	check_client(L, 1);
	luaL_checktype(L, 2, LUA_TTABLE);
	lua_settop(L, 2);
	lua_createtable(L, 1, 0);
	lua_pushvalue(L, 2);
	lua_rawseti(L, 3, 1);
	r = run(L, check_lclient(L, 1), 3, 1);
	if (r->res[0].error) {
		luaL_pushfail(L);
		lua_pushstring(L, r->res[0].error);
		push_code(L, r->res[0].code);
		return 3;
	}
	push_response(L, &r->res[0]);
	return 1;
}

/*
 * results = c:perform{ req1, req2, ... }: concurrently; results[i] is the
 * response or { error = msg, code = code, attempts = n }, in input order.
 */
static int l_perform(lua_State *L)
{
	struct lresults *r;
	size_t n;

	check_client(L, 1);
	luaL_checktype(L, 2, LUA_TTABLE);
	lua_settop(L, 2);
	n = lua_rawlen(L, 2);
	r = run(L, check_lclient(L, 1), 2, n);
	lua_createtable(L, (int)n, 0);
	for (size_t i = 0; i < n; i++) {
		if (r->res[i].error) {
			lua_createtable(L, 0, 3);
			lutil_set_str(L, "error", r->res[i].error);
			push_code(L, r->res[i].code);
			lua_setfield(L, -2, "code");
			lutil_set_int(L, "attempts", r->res[i].attempts);
		} else {
			push_response(L, &r->res[i]);
		}
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	return 1;
}

/* { requests=, retries=, bytes_received=, bytes_sent= } */
static int l_stats(lua_State *L)
{
	struct http_stats s;

	http_client_stats(check_client(L, 1), &s);
	lua_createtable(L, 0, 4);
	lutil_set_int(L, "requests", (lua_Integer)s.requests);
	lutil_set_int(L, "retries", (lua_Integer)s.retries);
	lutil_set_int(L, "bytes_received", (lua_Integer)s.bytes_received);
	lutil_set_int(L, "bytes_sent", (lua_Integer)s.bytes_sent);
	return 1;
}

/* c:close(); also __gc and __close. Closing twice is harmless. */
static int l_close(lua_State *L)
{
	struct lclient *lc = check_lclient(L, 1);

	if (lc->busy)
		return luaL_error(L, "attempt to close an http client from its own request's check");
	http_client_free(lc->c);
	lc->c = NULL;
	return 0;
}

static int l_tostring(lua_State *L)
{
	struct lclient *lc = check_lclient(L, 1);

	lua_pushstring(L, lc->c ? "http client" : "http client (closed)");
	return 1;
}

static const luaL_Reg client_methods[] = {
	{"request", l_request},
	{"perform", l_perform},
	{"stats", l_stats},
	{"close", l_close},
	{NULL, NULL},
};

static const luaL_Reg client_meta[] = {
	{"__gc", l_close},
	{"__close", l_close},
	{"__tostring", l_tostring},
	{NULL, NULL},
};

static const luaL_Reg funcs[] = {
	{"client", l_client},
	{NULL, NULL},
};

int luaopen_listdigest_http(lua_State *L)
{
	luaL_newmetatable(L, CLIENT_MT);
	luaL_setfuncs(L, client_meta, 0);
	luaL_newlib(L, client_methods);
	lua_setfield(L, -2, "__index");
	lua_pop(L, 1);
	luaL_newmetatable(L, RESULTS_MT);
	lua_pushcfunction(L, results_gc);
	lua_setfield(L, -2, "__gc");
	lua_pop(L, 1);
	luaL_newlib(L, funcs);
	return 1;
}
