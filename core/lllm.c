/*
 * Lua binding for the LLM client engine (llm.h): require "listdigest.llm".
 * A client is a userdata wrapping struct llm_client (created closed, one
 * function for __gc and __close, an error to use after close). Requests are
 * read from Lua tables into GC-managed scratch memory, schemas encoded by
 * listdigest.json; results live in a userdata with __gc until copied out, so
 * nothing malloc'ed is held across a Lua call that can raise. No prompts here.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "llm.h"
#include "lutil.h"
#include "modules.h"

#define CLIENT_MT "listdigest.llm.client"
#define RESULTS_MT "listdigest.llm.results"
#define REDACTED "[redacted]"

/* registry[&keys_key] = { [key] = true }: every key a client of this state used */
static const char keys_key = 'k';

struct lclient {
	struct llm_client *c; /* NULL once closed */
};

/* The engine's outcomes for one batch, freed by __gc whatever happens. */
struct lresults {
	size_t n;
	struct llm_result res[];
};

static struct lclient *check_lclient(lua_State *L, int idx)
{
	return luaL_checkudata(L, idx, CLIENT_MT);
}

static struct llm_client *check_client(lua_State *L, int idx)
{
	struct lclient *lc = check_lclient(L, idx);

	if (!lc->c)
		luaL_error(L, "attempt to use a closed llm client");
	return lc->c;
}

/* Number field NAME of table IDX in [MIN, MAX]; DEF if nil; FALSE_VAL if false (when allowed). */
static double num_field(lua_State *L, int idx, const char *name, double def, double min,
                        double max, int false_ok, double false_val)
{
	double v = def;
	int t = lua_getfield(L, idx, name);

	if (t == LUA_TBOOLEAN && !lua_toboolean(L, -1) && false_ok) {
		v = false_val;
	} else if (t != LUA_TNIL) {
		if (t != LUA_TNUMBER)
			luaL_error(L, "llm.client: %s must be a number", name);
		v = lua_tonumber(L, -1);
		if (!(v >= min && v <= max))
			luaL_error(L, "llm.client: %s must be in [%f, %f]", name, min, max);
	}
	lua_pop(L, 1);
	return v;
}

static lua_Integer int_field(lua_State *L, int idx, const char *name, lua_Integer def,
                             lua_Integer min, lua_Integer max, int false_ok)
{
	lua_Integer v = def;
	int t = lua_getfield(L, idx, name), ok;

	if (t == LUA_TBOOLEAN && !lua_toboolean(L, -1) && false_ok) {
		v = 0;
	} else if (t != LUA_TNIL) {
		v = lua_tointegerx(L, -1, &ok);
		if (!ok || v < min || v > max)
			luaL_error(L, "llm.client: %s must be an integer in [%I, %I]", name, min, max);
	}
	lua_pop(L, 1);
	return v;
}

/* Remembers KEY for llm.redact. */
static void remember_key(lua_State *L, const char *key)
{
	lua_rawgetp(L, LUA_REGISTRYINDEX, &keys_key);
	lua_pushboolean(L, 1);
	lua_setfield(L, -2, key);
	lua_pop(L, 1);
}

static const char *const client_keys[] = {
	"url", "model", "key", "jobs", "timeout", "retries", "backoff", "max_backoff",
	"temperature", "max_tokens", "response_format", "fallback", "progress", "params", "quirks",
	"connect_timeout", "progress_every", NULL,
};

/* LLM_QUIRK_* by the names Lua and the store use. */
static const struct {
	const char *name;
	unsigned bit;
} quirk_names[] = {
	{"max_completion_tokens", LLM_QUIRK_MAX_COMPLETION_TOKENS},
	{"no_temperature", LLM_QUIRK_NO_TEMPERATURE},
};

/*
 * SIGINT or SIGTERM received while c:complete runs: the batch cancels what
 * has not been answered (llm_options.stop) and complete says which signal.
 */
static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	interrupted = sig;
}

/*
 * c = llm.client{ url=, model=, key=nil|false|"...", jobs=4, timeout=120,
 *   retries=4, backoff=1.0, max_backoff=30, temperature=0.2|false,
 *   max_tokens=1500|false, response_format=nil|"json_schema"|"json_object"|"text",
 *   fallback=true, progress=nil|true|false|"lines", params=nil|{...}, quirks=nil|"a,b",
 *   connect_timeout=10 }
 * url and model are required. key nil = env LISTDIGEST_LLM_KEY, else
 * OPENAI_API_KEY, else none; false or "" = none. response_format is the level
 * to start at (nil = json_schema); with fallback=false it is forced. progress
 * nil: a "\r" line on a terminal, else "lines": a whole line on stderr every
 * progress_every (10) s while requests wait; false: none. false for
 * temperature or max_tokens leaves the field out of requests. params: a
 * table merged into every request body (json.null removes a field); quirks:
 * what the server is known to need ("max_completion_tokens",
 * "no_temperature"), as c.quirks reports after a batch learned them. Bad
 * options raise.
 */
static int l_client(lua_State *L)
{
	struct llm_options o;
	struct lclient *lc;
	char err[256];
	int t, progress;

	memset(&o, 0, sizeof o);
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_settop(L, 1);
	lutil_check_keys(L, 1, client_keys, "llm.client");
	if (lua_getfield(L, 1, "url") != LUA_TSTRING)
		return luaL_error(L, "llm.client: url must be a string");
	o.url = lua_tostring(L, -1);  /* stays on the stack until llm_client_new copied it */
	if (strncmp(o.url, "http://", 7) != 0 && strncmp(o.url, "https://", 8) != 0)
		return luaL_error(L, "llm.client: url must be an http:// or https:// URL");
	if (lua_getfield(L, 1, "model") != LUA_TSTRING || !*lua_tostring(L, -1))
		return luaL_error(L, "llm.client: model must be a non-empty string");
	o.model = lua_tostring(L, -1);
	t = lua_getfield(L, 1, "key");
	if (t == LUA_TSTRING)
		o.key = lua_tostring(L, -1);
	else if (t == LUA_TBOOLEAN && !lua_toboolean(L, -1))
		o.key = "";
	else if (t != LUA_TNIL)
		return luaL_error(L, "llm.client: key must be a string, false or nil");
	o.jobs = (int)int_field(L, 1, "jobs", 4, 1, 256, 0);
	o.timeout = num_field(L, 1, "timeout", 120, 0.001, 1e6, 0, 0);
	o.retries = (int)int_field(L, 1, "retries", 4, 0, 100, 0);
	o.backoff = num_field(L, 1, "backoff", 1.0, 0.001, 1e6, 0, 0);
	o.max_backoff = num_field(L, 1, "max_backoff", 30, 0.001, 1e6, 0, 0);
	o.temperature = num_field(L, 1, "temperature", 0.2, 0, 2, 1, -1);
	o.max_tokens = (int)int_field(L, 1, "max_tokens", 1500, 1, 10000000, 1);
	o.format = LLM_JSON_SCHEMA;
	if ((t = lua_getfield(L, 1, "response_format")) != LUA_TNIL) {
		int f = t == LUA_TSTRING ? llm_format_parse(lua_tostring(L, -1)) : -1;

		if (f < 0)
			return luaL_error(L, "llm.client: response_format must be \"json_schema\", "
			                  "\"json_object\" or \"text\"");
		o.format = (enum llm_format)f;
	}
	lua_pop(L, 1);
	if ((t = lua_getfield(L, 1, "fallback")) != LUA_TNIL) {
		if (t != LUA_TBOOLEAN)
			return luaL_error(L, "llm.client: fallback must be a boolean");
		o.no_fallback = !lua_toboolean(L, -1);
	}
	lua_pop(L, 1);
	/* on a terminal a "\r" line; in a log (cron, CI) a whole line every few seconds */
	if ((t = lua_getfield(L, 1, "progress")) == LUA_TNIL) {
		progress = 1;
		o.progress_lines = !isatty(2);
	} else if (t == LUA_TBOOLEAN) {
		progress = lua_toboolean(L, -1);
	} else if (t == LUA_TSTRING && strcmp(lua_tostring(L, -1), "lines") == 0) {
		progress = o.progress_lines = 1;
	} else {
		return luaL_error(L, "llm.client: progress must be a boolean, \"lines\" or nil");
	}
	lua_pop(L, 1);
	o.progress = progress ? stderr : NULL;
	o.stop = &interrupted;
	o.connect_timeout = num_field(L, 1, "connect_timeout", 10, 0.001, 1e6, 0, 0);
	o.progress_every = num_field(L, 1, "progress_every", 10, 0.01, 1e6, 0, 0);
	if ((t = lua_getfield(L, 1, "params")) == LUA_TTABLE) {
		luaL_requiref(L, "listdigest.json", luaopen_listdigest_json, 0);
		lua_getfield(L, -1, "encode");
		lua_pushvalue(L, -3);
		lua_call(L, 1, 1);
		o.params = lua_tostring(L, -1);  /* stays on the stack until the client copied it */
	} else if (t != LUA_TNIL) {
		return luaL_error(L, "llm.client: params must be a table");
	}
	if ((t = lua_getfield(L, 1, "quirks")) == LUA_TSTRING) {
		const char *q = lua_tostring(L, -1);

		for (size_t k = 0; k < sizeof quirk_names / sizeof *quirk_names; k++)
			if (strstr(q, quirk_names[k].name))
				o.quirks |= quirk_names[k].bit;
	} else if (t != LUA_TNIL) {
		return luaL_error(L, "llm.client: quirks must be a string");
	}
	lua_pop(L, 1);
	lc = lua_newuserdatauv(L, sizeof *lc, 0);
	lc->c = NULL;
	luaL_setmetatable(L, CLIENT_MT);
	if (llm_client_new(&o, &lc->c, err, sizeof err) < 0)
		return luaL_error(L, "llm.client: %s", err);
	if (llm_client_key(lc->c))
		remember_key(L, llm_client_key(lc->c));
	return 1;
}

/* Keeps the value on top of the stack alive in the scratch table; pops it. */
static void anchor(lua_State *L, int scratch)
{
	lua_rawseti(L, scratch, (lua_Integer)lua_rawlen(L, scratch) + 1);
}

/* String field NAME of table IDX, anchored in SCRATCH; NULL if nil. */
static const char *str_field(lua_State *L, int idx, const char *name, int scratch, size_t *len,
                             const char *what)
{
	const char *s;
	int t = lua_getfield(L, idx, name);

	if (t == LUA_TNIL) {
		lua_pop(L, 1);
		return NULL;
	}
	if (t != LUA_TSTRING)
		luaL_error(L, "%s.%s must be a string", what, name);
	s = lua_tolstring(L, -1, len);
	anchor(L, scratch);
	return s;
}

static const char *const request_keys[] = {"messages", "schema", "name", "text", NULL};
static const char *const message_keys[] = {"role", "content", NULL};

/*
 * Reads request table IDX (number I from 1) into R; strings are borrowed
 * from Lua and anchored in SCRATCH. ENCODE is the stack index of json.encode.
 */
static void read_request(lua_State *L, int idx, lua_Integer i, int scratch, int encode,
                         struct llm_request *r)
{
	struct llm_message *msgs;
	size_t n, len;
	int t;

	if (lua_type(L, idx) != LUA_TTABLE)
		luaL_error(L, "llm: request %I must be a table", i);
	lutil_check_keys(L, idx, request_keys, "llm request");
	memset(r, 0, sizeof *r);
	if (lua_getfield(L, idx, "messages") != LUA_TTABLE || !(n = lua_rawlen(L, -1)))
		luaL_error(L, "llm: request %I: messages must be a non-empty list", i);
	msgs = lua_newuserdatauv(L, n * sizeof *msgs, 0);
	anchor(L, scratch);
	for (size_t m = 0; m < n; m++) {
		int mi;

		lua_rawgeti(L, -1, (lua_Integer)m + 1);
		mi = lua_gettop(L);
		if (lua_type(L, mi) != LUA_TTABLE)
			luaL_error(L, "llm: request %I: message %d must be a table", i, (int)m + 1);
		lutil_check_keys(L, mi, message_keys, "llm message");
		msgs[m].role = str_field(L, mi, "role", scratch, &len, "message");
		/* the roles every provider takes ("developer" is refused by DeepSeek and Qwen) */
		if (!msgs[m].role || (strcmp(msgs[m].role, "system") != 0 && strcmp(msgs[m].role, "user") != 0 &&
		                      strcmp(msgs[m].role, "assistant") != 0))
			luaL_error(L, "llm: request %I: message %d: role must be system, user or assistant",
			           i, (int)m + 1);
		msgs[m].content = str_field(L, mi, "content", scratch, &msgs[m].content_len, "message");
		if (!msgs[m].content)
			luaL_error(L, "llm: request %I: message %d: content must be a string", i, (int)m + 1);
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	r->messages = msgs;
	r->nmessages = n;
	t = lua_getfield(L, idx, "schema");
	if (t == LUA_TTABLE) {
		lua_pushvalue(L, encode);
		lua_insert(L, -2);
		lua_call(L, 1, 1);  /* json.encode raises on what JSON cannot carry: a caller mistake */
		r->schema = lua_tostring(L, -1);
		anchor(L, scratch);
	} else if (t == LUA_TSTRING) {
		r->schema = lua_tostring(L, -1);  /* JSON text already; the engine checks it */
		anchor(L, scratch);
	} else if (t != LUA_TNIL) {
		luaL_error(L, "llm: request %I: schema must be a table (a JSON Schema)", i);
	} else {
		lua_pop(L, 1);
	}
	t = lua_getfield(L, idx, "text");
	if (t != LUA_TNIL && t != LUA_TBOOLEAN)
		luaL_error(L, "llm: request %I: text must be a boolean", i);
	r->text = lua_toboolean(L, -1);
	lua_pop(L, 1);
	r->name = str_field(L, idx, "name", scratch, &len, "llm request");
	/* OpenAI: ^[a-zA-Z0-9_-]{1,64}$ */
	if (r->name && (!len || len > 64 || strspn(r->name, "abcdefghijklmnopqrstuvwxyz"
	                                                     "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != len))
		luaL_error(L, "llm: request %I: name must be 1 to 64 letters, digits, _ or -", i);
}

static int results_gc(lua_State *L)
{
	struct lresults *r = luaL_checkudata(L, 1, RESULTS_MT);

	for (size_t i = 0; i < r->n; i++)
		llm_result_clear(&r->res[i]);
	r->n = 0;
	return 0;
}

/* Pushes the result table for RES; DECODE is the stack index of json.decode. */
static void push_result(lua_State *L, const struct llm_result *res, int decode)
{
	if (res->error) {
		char *end;
		long v = strtol(res->code, &end, 10);

		lua_createtable(L, 0, 4);
		lutil_set_str(L, "error", res->error);
		if (*res->code && !*end)
			lutil_set_int(L, "code", v);
		else
			lutil_set_str(L, "code", res->code);
		lutil_set_int(L, "attempts", res->attempts);
		if (res->fatal) {
			lua_pushboolean(L, 1);
			lua_setfield(L, -2, "fatal");
		}
		return;
	}
	lua_createtable(L, 0, 7);
	lua_pushlstring(L, res->content ? res->content : "", res->content_len);
	lua_setfield(L, -2, "content");
	if (res->json) {
		lua_pushvalue(L, decode);
		lua_pushlstring(L, res->json, res->json_len);
		lua_call(L, 1, 1);
		lua_setfield(L, -2, "json");
	}
	lutil_set_str(L, "format", llm_format_name(res->format));
	lua_createtable(L, 0, 2);
	if (res->prompt_tokens >= 0)
		lutil_set_int(L, "prompt_tokens", res->prompt_tokens);
	if (res->completion_tokens >= 0)
		lutil_set_int(L, "completion_tokens", res->completion_tokens);
	lua_setfield(L, -2, "usage");
	lutil_set_str(L, "finish_reason", res->finish_reason);
	lutil_set_int(L, "attempts", res->attempts);
	lutil_set_str(L, "model", res->model);
}

/* What the per-result hook needs to call the Lua function on_result. */
struct hook {
	lua_State *L;
	int fn, decode;
	char err[512];
};

static int on_result(void *ud, size_t i, const struct llm_result *res)
{
	struct hook *h = ud;
	lua_State *L = h->L;
	int stop;

	lua_pushvalue(L, h->fn);
	lua_pushinteger(L, (lua_Integer)i + 1);
	push_result(L, res, h->decode);
	if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
		snprintf(h->err, sizeof h->err, "on_result: %s", lua_tostring(L, -1) ? lua_tostring(L, -1) : "error");
		lua_pop(L, 1);
		return -1;
	}
	stop = lua_toboolean(L, -1);
	lua_pop(L, 1);
	return stop ? 1 : 0;
}

/*
 * results = c:complete({ {messages={{role=, content=}, ...}, schema=<table>|nil,
 *                         name="thread_summary", text=true|nil}, ... }, on_result)
 * text=true asks that request for text (no response_format) whatever the
 * client's level. Concurrently (jobs in flight), each retried on its own. results[i] =
 * { content=, json=<decoded object or nil>, format="json_schema"|"json_object"|"text",
 *   usage={prompt_tokens=, completion_tokens=}, finish_reason=, attempts=, model= }
 * or { error=, code=<status or word>, attempts=, fatal=true|nil }. on_result
 * (optional) is called as on_result(i, results[i]) the moment request i has
 * its outcome; it returning true cancels what is not answered yet (code
 * "cancelled"), and an error in it stops the batch and is raised. A fatal
 * failure (a refused key, an unknown model) cancels the rest too. SIGINT and
 * SIGTERM during the call cancel the rest and set results.interrupted =
 * "SIGINT" | "SIGTERM" (unless the process ignores them; the handlers
 * before the call are restored after it). Malformed requests raise; no failure of a request does.
 */
static int l_complete(lua_State *L)
{
	struct llm_client *c = check_client(L, 1);
	struct llm_request *rq;
	struct lresults *res;
	struct hook hook = {0};
	struct sigaction sa, old_int, old_term;
	char err[512];
	int scratch, json, encode, decode, rc, sig;
	size_t n;

	luaL_checktype(L, 2, LUA_TTABLE);
	if (!lua_isnoneornil(L, 3))
		luaL_checktype(L, 3, LUA_TFUNCTION);
	lua_settop(L, 3);
	n = lua_rawlen(L, 2);
	if (n > ((size_t)1 << 20))
		return luaL_error(L, "llm: too many requests in one batch");
	lua_createtable(L, (int)n * 4, 0);
	scratch = lua_gettop(L);
	luaL_requiref(L, "listdigest.json", luaopen_listdigest_json, 0);
	json = lua_gettop(L);
	lua_getfield(L, json, "encode");
	encode = lua_gettop(L);
	lua_getfield(L, json, "decode");
	decode = lua_gettop(L);
	rq = lua_newuserdatauv(L, (n ? n : 1) * sizeof *rq, 0);
	anchor(L, scratch);
	for (size_t i = 0; i < n; i++) {
		lua_rawgeti(L, 2, (lua_Integer)i + 1);
		read_request(L, lua_gettop(L), (lua_Integer)i + 1, scratch, encode, &rq[i]);
		lua_pop(L, 1);
	}
	res = lua_newuserdatauv(L, sizeof *res + (n ? n : 1) * sizeof res->res[0], 0);
	memset(res, 0, sizeof *res + (n ? n : 1) * sizeof res->res[0]);
	luaL_setmetatable(L, RESULTS_MT);
	res->n = n;
	hook.L = L;
	hook.fn = 3;
	hook.decode = decode;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	interrupted = 0;
	/* a signal the process ignores (nohup, a shell's background job) stays ignored */
	sigaction(SIGINT, NULL, &old_int);
	sigaction(SIGTERM, NULL, &old_term);
	if (old_int.sa_handler != SIG_IGN)
		sigaction(SIGINT, &sa, NULL);
	if (old_term.sa_handler != SIG_IGN)
		sigaction(SIGTERM, &sa, NULL);
	rc = llm_complete(c, rq, n, res->res, lua_isfunction(L, 3) ? on_result : NULL, &hook, err, sizeof err);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	sig = interrupted;
	interrupted = 0;
	if (rc < 0)
		return luaL_error(L, "llm: %s", hook.err[0] ? hook.err : err);
	lua_createtable(L, (int)n, 1);
	for (size_t i = 0; i < n; i++) {
		push_result(L, &res->res[i], decode);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	if (sig) {
		lua_pushstring(L, sig == SIGINT ? "SIGINT" : "SIGTERM");
		lua_setfield(L, -2, "interrupted");
	}
	return 1;
}

/* { requests=, retries=, prompt_tokens=, completion_tokens=, failed=, fallbacks= } */
static int l_stats(lua_State *L)
{
	struct llm_stats s;

	llm_client_stats(check_client(L, 1), &s);
	lua_createtable(L, 0, 6);
	lutil_set_int(L, "requests", (lua_Integer)s.requests);
	lutil_set_int(L, "retries", (lua_Integer)s.retries);
	lutil_set_int(L, "prompt_tokens", (lua_Integer)s.prompt_tokens);
	lutil_set_int(L, "completion_tokens", (lua_Integer)s.completion_tokens);
	lutil_set_int(L, "failed", (lua_Integer)s.failed);
	lutil_set_int(L, "fallbacks", (lua_Integer)s.fallbacks);
	return 1;
}

/* c:close(); also __gc and __close. Closing twice is harmless. */
static int l_close(lua_State *L)
{
	struct lclient *lc = check_lclient(L, 1);

	llm_client_free(lc->c);
	lc->c = NULL;
	return 0;
}

static int l_tostring(lua_State *L)
{
	struct lclient *lc = check_lclient(L, 1);

	lua_pushstring(L, lc->c ? "llm client" : "llm client (closed)");
	return 1;
}

/* c.format: the level in use (after fallbacks); methods otherwise. */
static int l_index(lua_State *L)
{
	struct lclient *lc = check_lclient(L, 1);
	const char *k = lua_tostring(L, 2);

	if (k && strcmp(k, "format") == 0) {
		if (!lc->c)
			return luaL_error(L, "attempt to use a closed llm client");
		lua_pushstring(L, llm_format_name(llm_client_format(lc->c)));
		return 1;
	}
	if (k && strcmp(k, "quirks") == 0) {
		luaL_Buffer b;
		unsigned q;

		if (!lc->c)
			return luaL_error(L, "attempt to use a closed llm client");
		q = llm_client_quirks(lc->c);
		luaL_buffinit(L, &b);
		for (size_t i = 0; i < sizeof quirk_names / sizeof *quirk_names; i++)
			if (q & quirk_names[i].bit) {
				if (luaL_bufflen(&b))
					luaL_addchar(&b, ',');
				luaL_addstring(&b, quirk_names[i].name);
			}
		luaL_pushresult(&b);
		return 1;
	}
	lua_pushvalue(L, 2);
	lua_rawget(L, lua_upvalueindex(1));
	return 1;
}

/* Appends S with each occurrence of KEY replaced, to B. */
static void replace_into(luaL_Buffer *b, const char *s, size_t len, const char *key, size_t klen)
{
	const char *p = s, *end = s + len, *hit;

	while ((hit = memmem(p, (size_t)(end - p), key, klen))) {
		luaL_addlstring(b, p, (size_t)(hit - p));
		luaL_addstring(b, REDACTED);
		p = hit + klen;
	}
	luaL_addlstring(b, p, (size_t)(end - p));
}

/*
 * llm.redact(s) -> s with every key a client of this Lua state used, and the
 * values of LISTDIGEST_LLM_KEY and OPENAI_API_KEY, replaced by "[redacted]".
 * Longer keys first, so a key that contains another goes whole.
 */
static int l_redact(lua_State *L)
{
	const char *env[2] = {getenv("LISTDIGEST_LLM_KEY"), getenv("OPENAI_API_KEY")};
	int keys;

	luaL_checkstring(L, 1);
	lua_settop(L, 1);
	lua_newtable(L);  /* the keys, as a list */
	keys = 2;
	for (int i = 0; i < 2; i++)
		if (env[i] && *env[i]) {
			lua_pushstring(L, env[i]);
			lua_rawseti(L, keys, (lua_Integer)lua_rawlen(L, keys) + 1);
		}
	lua_rawgetp(L, LUA_REGISTRYINDEX, &keys_key);
	lua_pushnil(L);
	while (lua_next(L, -2)) {
		lua_pop(L, 1);
		lua_pushvalue(L, -1);
		lua_rawseti(L, keys, (lua_Integer)lua_rawlen(L, keys) + 1);
	}
	lua_pop(L, 1);
	for (;;) {  /* few keys: pick the longest left each round */
		lua_Integer best = 0, nk = (lua_Integer)lua_rawlen(L, keys);
		size_t blen = 0, len;
		const char *s, *key;
		luaL_Buffer b;

		for (lua_Integer i = 1; i <= nk; i++) {
			size_t l;

			lua_rawgeti(L, keys, i);
			if (lua_type(L, -1) == LUA_TSTRING && (lua_tolstring(L, -1, &l), l > blen)) {
				blen = l;
				best = i;
			}
			lua_pop(L, 1);
		}
		if (!best)
			break;
		lua_rawgeti(L, keys, best);
		key = lua_tostring(L, -1);
		lua_pushboolean(L, 0);
		lua_rawseti(L, keys, best);
		s = lua_tolstring(L, 1, &len);
		luaL_buffinit(L, &b);
		replace_into(&b, s, len, key, blen);
		luaL_pushresult(&b);
		lua_replace(L, 1);
		lua_pop(L, 1);
	}
	lua_settop(L, 1);
	return 1;
}

static const luaL_Reg client_methods[] = {
	{"complete", l_complete},
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
	{"redact", l_redact},
	{NULL, NULL},
};

int luaopen_listdigest_llm(lua_State *L)
{
	luaL_newmetatable(L, CLIENT_MT);
	luaL_setfuncs(L, client_meta, 0);
	luaL_newlib(L, client_methods);
	lua_pushcclosure(L, l_index, 1);
	lua_setfield(L, -2, "__index");
	lua_pop(L, 1);
	luaL_newmetatable(L, RESULTS_MT);
	lua_pushcfunction(L, results_gc);
	lua_setfield(L, -2, "__gc");
	lua_pop(L, 1);
	if (lua_rawgetp(L, LUA_REGISTRYINDEX, &keys_key) == LUA_TNIL) {
		lua_newtable(L);
		lua_rawsetp(L, LUA_REGISTRYINDEX, &keys_key);
	}
	lua_pop(L, 1);
	luaL_newlib(L, funcs);
	return 1;
}
