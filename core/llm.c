/*
 * LLM client engine (see llm.h): chat completions over the HTTP engine. The
 * engine's prepare hook picks each attempt's body (the client's current
 * response_format level) and its check hook judges each answer: accept,
 * retry like a 5xx, or fall back one level and send again at once. Not a
 * prompt builder, a cache or a Lua binding; never prints except progress.
 */
#include "llm.h"
#include "http.h"
#include "util.h"

#include <ctype.h>
#include <strings.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#define MAX_BODY ((size_t)64 << 20)   /* no chat answer is near this */
#define MAX_SCAN 64                   /* '{' positions tried when digging JSON out of prose */
#define REDACTED "[redacted]"
#define JSON_HINT "Answer in JSON."   /* json_object needs the word on OpenAI/DeepSeek/Qwen */

struct batch;

struct llm_client {
	struct llm_options o;
	struct batch *cur;           /* the batch llm_complete runs, for the progress tick */
	char *url, *model, *key, *auth;
	json_t *params;              /* llm_options.params, parsed */
	unsigned quirks;             /* LLM_QUIRK_*: what bodies are built for */
	struct http_client *http;
	enum llm_format format;
	struct llm_stats stats;
	double last_progress;
};

/* One request of a batch across its attempts. */
struct job {
	const struct llm_request *req;
	struct llm_result *out;
	json_t *schema;
	char *body[3];               /* per level, built on first use, freed after the batch */
	size_t body_len[3];
	unsigned quirks_at[3];       /* the client's quirks when body[level] was built */
	double started;              /* monotonic time of the first attempt, 0 before */
	char **stale;                /* bodies replaced after a quirk was learned: an attempt
	                                in flight may still send one; freed after the batch */
	size_t nstale;
	enum llm_format sent;        /* level of the attempt in flight */
	int lengths;                 /* answers cut by max_tokens so far */
	int rejected, failed;        /* the last attempt: rejected by the check / accepted as a failure */
	char reason[512];
	char code[16];
};

struct batch {
	struct llm_client *c;
	struct job *jobs;
	struct job **active;         /* the jobs given to the HTTP engine, by its index */
	size_t n, nactive, ndone;
	llm_result_fn on_result;
	void *ud;
};

static const char *const format_names[] = {"text", "json_object", "json_schema"};

const char *llm_format_name(enum llm_format f)
{
	return f >= LLM_TEXT && f <= LLM_JSON_SCHEMA ? format_names[f] : "?";
}

int llm_format_parse(const char *s)
{
	for (int i = 0; i < 3; i++)
		if (strcmp(s, format_names[i]) == 0)
			return i;
	return -1;
}

static double now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Copies IN to OUT (OUTLEN bytes) with every run of at least min(8, len)
 * characters that also occurs in KEY replaced by "[redacted]": a server may
 * echo the whole Authorization header or a cut of it in an error body.
 */
static void redact(const char *in, const char *key, char *out, size_t outlen)
{
	size_t klen = key ? strlen(key) : 0, thr = klen < 8 ? klen : 8, o = 0;

	if (!outlen)
		return;
	while (*in && o + 1 < outlen) {
		size_t best = 0, stars = 0;
		int masked = 0;

		/* a masked key that shows its end ("Your api key: ****cd15"): the
		   stars and the shown end go, however short that end is */
		while (in[stars] == '*')
			stars++;
		if (klen && stars >= 3) {
			size_t l = 0;

			while (isalnum((unsigned char)in[stars + l]))
				l++;
			if (l >= 2 && l < klen && memcmp(in + stars, key + klen - l, l) == 0) {
				best = stars + l;
				masked = 1;
			}
		}
		for (size_t j = 0; klen && !best && j < klen; j++) {
			size_t l = 0;

			while (in[l] && key[j + l] && in[l] == key[j + l])
				l++;
			if (l > best)
				best = l;
		}
		if (klen && (masked || best >= thr)) {
			size_t r = strlen(REDACTED);

			if (o + r >= outlen)
				break;
			memcpy(out + o, REDACTED, r);
			o += r;
			in += best;
		} else {
			out[o++] = *in++;
		}
	}
	out[o] = '\0';
}

static char *dup_redacted(const char *s, const char *key)
{
	/* a redaction replaces 5 bytes at least ("***cd") */
	size_t cap = strlen(s) + 1 + (key ? strlen(REDACTED) * (strlen(s) / 5 + 1) : 0);
	char *out = malloc(cap);

	if (out)
		redact(s, key, out, cap);
	return out;
}

/* Case-insensitive search for NEEDLE (lower-case) in S[0..LEN). */
static int has_word(const char *s, size_t len, const char *needle)
{
	size_t nl = strlen(needle);

	for (size_t i = 0; i + nl <= len; i++) {
		size_t k = 0;

		while (k < nl && tolower((unsigned char)s[i + k]) == needle[k])
			k++;
		if (k == nl)
			return 1;
	}
	return 0;
}

static int blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!isspace((unsigned char)s[i]))
			return 0;
	return 1;
}

void llm_result_clear(struct llm_result *res)
{
	if (!res)
		return;
	free(res->content);
	free(res->finish_reason);
	free(res->model);
	free(res->error);
	memset(res, 0, sizeof *res);
	res->prompt_tokens = res->completion_tokens = -1;
}

static void on_tick(void *ud);

int llm_client_new(const struct llm_options *opts, struct llm_client **client_out,
                   char *err, size_t errlen)
{
	struct http_options ho;
	struct llm_client *c;
	const char *key;
	size_t ulen;
	char auth_fmt[] = "Authorization: Bearer %s";

	*client_out = NULL;
	if (!opts || !opts->url || !opts->model || !*opts->model)
		return util_fail(err, errlen, "llm: a url and a model are required");
	if (strncmp(opts->url, "http://", 7) != 0 && strncmp(opts->url, "https://", 8) != 0)
		return util_fail(err, errlen, "llm: url must be http:// or https://");
	key = opts->key;
	if (!key) {
		key = getenv("LISTDIGEST_LLM_KEY");
		if (!key || !*key)
			key = getenv("OPENAI_API_KEY");
	}
	if (key && !*key)
		key = NULL;
	/* the key goes into a header line: RFC 9110 §5.5, no CR/LF; never echoed */
	if (key && strcspn(key, "\r\n") != strlen(key))
		return util_fail(err, errlen, "llm: the API key contains a line break");
	if (opts->format < LLM_TEXT || opts->format > LLM_JSON_SCHEMA)
		return util_fail(err, errlen, "llm: bad response_format level");
	c = calloc(1, sizeof *c);
	if (!c)
		return util_fail(err, errlen, "out of memory");
	c->o = *opts;
	c->o.jobs = opts->jobs > 0 ? opts->jobs : 4;
	c->o.timeout = opts->timeout > 0 ? opts->timeout : 120;
	c->o.retries = opts->retries >= 0 ? opts->retries : 4;
	c->o.backoff = opts->backoff > 0 ? opts->backoff : 1;
	c->o.max_backoff = opts->max_backoff > 0 ? opts->max_backoff : 30;
	c->o.progress_every = opts->progress_every > 0 ? opts->progress_every : 10;
	c->format = opts->format;
	c->quirks = opts->quirks;
	if (opts->params) {
		json_error_t e;

		c->params = json_loads(opts->params, 0, &e);
		if (!json_is_object(c->params)) {
			llm_client_free(c);
			return util_fail(err, errlen, "llm: the parameters are not a JSON object");
		}
	}
	c->o.params = NULL;
	ulen = strlen(opts->url);
	while (ulen > 8 && opts->url[ulen - 1] == '/')
		ulen--;
	c->url = malloc(ulen + sizeof "/chat/completions");
	c->model = strdup(opts->model);
	c->key = key ? strdup(key) : NULL;
	c->auth = key ? malloc(strlen(key) + sizeof auth_fmt) : NULL;
	c->o.url = c->o.model = c->o.key = NULL;
	if (!c->url || !c->model || (key && (!c->key || !c->auth))) {
		llm_client_free(c);
		return util_fail(err, errlen, "out of memory");
	}
	memcpy(c->url, opts->url, ulen);
	strcpy(c->url + ulen, "/chat/completions");
	if (key)
		snprintf(c->auth, strlen(key) + sizeof auth_fmt, auth_fmt, key);
	memset(&ho, 0, sizeof ho);
	ho.timeout = c->o.timeout;
	ho.connect_timeout = opts->connect_timeout;
	ho.max_per_host = ho.max_total = c->o.jobs;
	ho.retries = c->o.retries;
	ho.backoff = c->o.backoff;
	ho.max_backoff = c->o.max_backoff;
	ho.max_body = MAX_BODY;
	ho.progress = NULL;  /* ours counts threads and tokens, not bytes */
	ho.tick = on_tick;
	ho.tick_ud = c;
	ho.stop = c->o.stop;
	if (http_client_new(&ho, &c->http, err, errlen) < 0) {
		llm_client_free(c);
		return -1;
	}
	*client_out = c;
	return 0;
}

void llm_client_free(struct llm_client *c)
{
	if (!c)
		return;
	http_client_free(c->http);
	json_decref(c->params);
	if (c->key)  /* the key is a secret: do not leave it in freed memory */
		memset(c->key, 0, strlen(c->key));
	if (c->auth)
		memset(c->auth, 0, strlen(c->auth));
	free(c->url);
	free(c->model);
	free(c->key);
	free(c->auth);
	free(c);
}

unsigned llm_client_quirks(const struct llm_client *c)
{
	return c->quirks;
}

enum llm_format llm_client_format(const struct llm_client *c)
{
	return c->format;
}

const char *llm_client_key(const struct llm_client *c)
{
	return c->key;
}

void llm_client_stats(const struct llm_client *c, struct llm_stats *stats_out)
{
	*stats_out = c->stats;
}

static void show_progress(struct batch *b, int force)
{
	struct llm_client *c = b->c;
	double t = now_mono(), oldest = 0;

	if (!c->o.progress)
		return;
	if (!c->o.progress_lines) {
		if (!force && t - c->last_progress < 0.1)
			return;
		c->last_progress = t;
		fprintf(c->o.progress, "\rllm: %zu/%zu threads, %.1fk tokens", b->ndone, b->n,
		        (double)(c->stats.prompt_tokens + c->stats.completion_tokens) / 1000.0);
		fflush(c->o.progress);
		return;
	}
	/* a log: a whole line now and then, and none at the end (the caller says that) */
	if (force || t - c->last_progress < c->o.progress_every || b->ndone >= b->n)
		return;
	c->last_progress = t;
	for (size_t i = 0; i < b->n; i++)
		if (b->jobs[i].started > 0 && !b->jobs[i].out->error && !b->jobs[i].out->content &&
		    t - b->jobs[i].started > oldest)
			oldest = t - b->jobs[i].started;
	fprintf(c->o.progress, "llm: %zu/%zu answered, %llu retries, %.1fk tokens, oldest waiting %.0f s\n",
	        b->ndone, b->n, (unsigned long long)c->stats.retries,
	        (double)(c->stats.prompt_tokens + c->stats.completion_tokens) / 1000.0, oldest);
	fflush(c->o.progress);
}

/* The HTTP engine's tick: progress while nothing arrives. */
static void on_tick(void *ud)
{
	struct llm_client *c = ud;

	if (c->cur)
		show_progress(c->cur, 0);
}

/* The level request J is sent at now: the client's, json_object at most without a schema. */
static enum llm_format level_for(const struct llm_client *c, const struct job *j)
{
	if (j->req->text)
		return LLM_TEXT;
	if (c->format == LLM_JSON_SCHEMA && !j->schema)
		return LLM_JSON_OBJECT;
	return c->format;
}

/* A server refused or ignored LEVEL: the client uses the level below from now on. */
static void fall_back(struct llm_client *c, enum llm_format level)
{
	if (level > LLM_TEXT && c->format >= level) {
		c->format = level - 1;
		c->stats.fallbacks++;
	}
}

/* Builds J's body at LEVEL. Returns 0, -1 out of memory, -2 content not UTF-8. */
static int build_body(struct llm_client *c, struct job *j, enum llm_format level)
{
	const struct llm_request *r = j->req;
	json_t *root = json_object(), *msgs = json_array(), *rf = NULL;
	int hint = level == LLM_JSON_OBJECT, rc = -1;
	char *body;

	if (!root || !msgs)
		goto out;
	if (hint)
		for (size_t i = 0; i < r->nmessages && hint; i++)
			if (has_word(r->messages[i].content, r->messages[i].content_len, "json"))
				hint = 0;
	if (hint && strcmp(r->messages[0].role, "system") != 0 &&
	    json_array_append_new(msgs, json_pack("{s:s,s:s}", "role", "system", "content", JSON_HINT)))
		goto out;
	for (size_t i = 0; i < r->nmessages; i++) {
		const struct llm_message *m = &r->messages[i];
		json_t *content, *msg;

		if (hint && i == 0 && strcmp(m->role, "system") == 0) {
			size_t hl = sizeof "\n\n" JSON_HINT - 1;
			char *s = malloc(m->content_len + hl);

			if (!s)
				goto out;
			memcpy(s, m->content, m->content_len);
			memcpy(s + m->content_len, "\n\n" JSON_HINT, hl);
			content = json_stringn(s, m->content_len + hl);
			free(s);
		} else {
			content = json_stringn(m->content, m->content_len);
		}
		if (!content) {
			rc = -2;  /* jansson refuses strings that are not UTF-8 */
			goto out;
		}
		msg = json_pack("{s:s,s:o}", "role", m->role, "content", content);
		if (!msg || json_array_append_new(msgs, msg))
			goto out;
	}
	/* only OpenAI-spec parameters: OpenAI rejects any other with a 400 */
	if (json_object_set_new(root, "model", json_string(c->model)) ||
	    json_object_set(root, "messages", msgs))
		goto out;
	if (c->o.temperature >= 0 && !(c->quirks & LLM_QUIRK_NO_TEMPERATURE) &&
	    json_object_set_new(root, "temperature", json_real(c->o.temperature)))
		goto out;
	/* max_tokens, not max_completion_tokens: Ollama, DeepSeek, Qwen ignore the
	   latter; OpenAI's reasoning models want it (learned from their 400) */
	if (c->o.max_tokens > 0 &&
	    json_object_set_new(root, c->quirks & LLM_QUIRK_MAX_COMPLETION_TOKENS ? "max_completion_tokens" :
	                        "max_tokens", json_integer(c->o.max_tokens)))
		goto out;
	if (c->params) {
		const char *k;
		json_t *v;

		json_object_foreach(c->params, k, v) {
			if (!strcmp(k, "model") || !strcmp(k, "messages") || !strcmp(k, "response_format"))
				continue;
			if (json_is_null(v) ? (json_object_del(root, k), 0) : json_object_set(root, k, v))
				goto out;
		}
	}
	if (level == LLM_JSON_OBJECT)
		rf = json_pack("{s:s}", "type", "json_object");
	else if (level == LLM_JSON_SCHEMA)
		/* strict: OpenAI then holds the answer to the schema (all keys required,
		   no others: the schema says so); servers without it ignore the field */
		rf = json_pack("{s:s,s:{s:s,s:O,s:b}}", "type", "json_schema", "json_schema",
		               "name", r->name ? r->name : "response", "schema", j->schema, "strict", 1);
	if (level != LLM_TEXT && (!rf || json_object_set_new(root, "response_format", rf)))
		goto out;
	/* 15 digits: 0.2 goes out as 0.2, not 0.20000000000000001 */
	body = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(15));
	if (!body)
		goto out;
	j->body[level] = body;
	j->body_len[level] = strlen(body);
	j->quirks_at[level] = c->quirks;
	rc = 0;
out:
	json_decref(msgs);
	json_decref(root);
	return rc;
}

/* The engine's prepare hook: the body of this attempt, at the client's current level. */
static int on_prepare(void *ud, size_t i, int attempt, const char **body, size_t *body_len,
                      char *reason, size_t reasonlen)
{
	struct batch *b = ud;
	struct job *j = b->active[i];
	enum llm_format level = level_for(b->c, j);

	if (j->body[level] && j->quirks_at[level] != b->c->quirks) {
		/* a quirk was learned since: build it again, keep the old one alive */
		char **st = realloc(j->stale, (j->nstale + 1) * sizeof *st);

		if (!st)
			return util_fail(reason, reasonlen, "out of memory");
		j->stale = st;
		j->stale[j->nstale++] = j->body[level];
		j->body[level] = NULL;
	}
	if (!j->body[level] && build_body(b->c, j, level) < 0)
		return util_fail(reason, reasonlen, "out of memory");
	j->sent = level;
	j->rejected = j->failed = 0;
	if (!j->started)
		j->started = now_mono();
	*body = j->body[level];
	*body_len = j->body_len[level];
	b->c->stats.requests++;
	if (attempt > 1)
		b->c->stats.retries++;
	return 0;
}

static int judge(struct job *j, int verdict, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Records why an attempt was rejected (VERDICT 1 or 2) or failed for good (0). */
static int judge(struct job *j, int verdict, const char *code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(j->reason, sizeof j->reason, fmt, ap);
	va_end(ap);
	snprintf(j->code, sizeof j->code, "%s", code);
	if (verdict)
		j->rejected = 1;
	else
		j->failed = 1;
	return verdict;
}

/*
 * The message of an error body, whatever its shape: {"error":{"message":..}},
 * {"error":"Unauthorized"}, {"message":..}, {"detail":..}, else the start of
 * the raw body. Never the whole body: it may echo what we sent.
 */
static void error_text(const char *body, size_t len, char *out, size_t outlen)
{
	json_t *root = json_loadb(body, len, 0, NULL), *e, *m = NULL;
	size_t n;

	if (root) {
		e = json_object_get(root, "error");
		if (json_is_string(e))
			m = e;
		else if (json_is_object(e))
			m = json_object_get(e, "message");
		if (!json_is_string(m))
			m = json_object_get(root, "message");
		if (!json_is_string(m))
			m = json_object_get(root, "detail");
	}
	if (json_is_string(m)) {
		snprintf(out, outlen, "%.300s", json_string_value(m));
	} else {
		while (len && isspace((unsigned char)*body))
			body++, len--;
		n = len < 200 ? len : 200;
		snprintf(out, outlen, "%.*s", (int)n, len ? body : "(empty body)");
		for (char *p = out; *p; p++)
			if ((unsigned char)*p < 32)
				*p = ' ';
	}
	json_decref(root);
}

/* Whether S[0..LEN) is one whole JSON object (whitespace around it allowed). */
static int whole_object(const char *s, size_t len)
{
	json_t *v = json_loadb(s, len, 0, NULL);
	int ok = json_is_object(v);

	json_decref(v);
	return ok;
}

/* An object starting at S (text may follow it); its length in *USED. */
static int object_at(const char *s, size_t len, size_t *used)
{
	json_error_t e;
	json_t *v = json_loadb(s, len, JSON_DISABLE_EOF_CHECK, &e);
	int ok = json_is_object(v);

	json_decref(v);
	*used = ok ? (size_t)e.position : 0;
	return ok && *used > 0 && *used <= len;
}

/*
 * Finds a JSON object in model text: the whole (trimmed) text, else the
 * inside of the first ``` fence, else the first '{' that starts one (after
 * leading prose). Sets OFF and JLEN; returns 1 when the whole text was JSON,
 * 2 when it had to be dug out, 0 when there is none.
 */
static int find_json(const char *s, size_t len, size_t *off, size_t *jlen)
{
	size_t a = 0, z = len, tries = 0;
	const char *f;

	while (a < z && isspace((unsigned char)s[a]))
		a++;
	while (z > a && isspace((unsigned char)s[z - 1]))
		z--;
	if (a < z && s[a] == '{' && whole_object(s + a, z - a)) {
		*off = a;
		*jlen = z - a;
		return 1;
	}
	f = memmem(s, len, "```", 3);
	if (f) {
		const char *in = memchr(f, '\n', len - (size_t)(f - s)), *end;

		if (in) {
			in++;
			end = memmem(in, len - (size_t)(in - s), "```", 3);
			a = (size_t)(in - s);
			z = end ? (size_t)(end - s) : len;
			while (a < z && isspace((unsigned char)s[a]))
				a++;
			while (z > a && isspace((unsigned char)s[z - 1]))
				z--;
			if (a < z && whole_object(s + a, z - a)) {
				*off = a;
				*jlen = z - a;
				return 2;
			}
		}
	}
	for (const char *p = s; (p = memchr(p, '{', len - (size_t)(p - s))) && tries < MAX_SCAN; p++, tries++) {
		size_t used;

		if (object_at(p, len - (size_t)(p - s), &used)) {
			*off = (size_t)(p - s);
			*jlen = used;
			return 2;
		}
	}
	return 0;
}

/* Replaces each whole occurrence of KEY in S (in place; "[redacted]" may be
 * longer than a short key, so the result is reallocated). */
static char *scrub(char *s, size_t *len, const char *key)
{
	size_t klen = key ? strlen(key) : 0;

	if (!klen || !memmem(s, *len, key, klen))
		return s;
	{
		size_t cap = *len / klen * strlen(REDACTED) + *len + 1, o = 0;
		char *out = malloc(cap);
		const char *p = s, *end = s + *len, *hit;

		if (!out) {
			free(s);
			return NULL;
		}
		while ((hit = memmem(p, (size_t)(end - p), key, klen))) {
			memcpy(out + o, p, (size_t)(hit - p));
			o += (size_t)(hit - p);
			memcpy(out + o, REDACTED, strlen(REDACTED));
			o += strlen(REDACTED);
			p = hit + klen;
		}
		memcpy(out + o, p, (size_t)(end - p));
		o += (size_t)(end - p);
		out[o] = '\0';
		free(s);
		*len = o;
		return out;
	}
}

static long usage_count(json_t *usage, const char *name)
{
	json_t *v = json_object_get(usage, name);

	return json_is_integer(v) && json_integer_value(v) >= 0 ? (long)json_integer_value(v) : -1;
}

/*
 * A reasoning model served without a reasoning parser (vLLM, llama.cpp)
 * starts its content with its thinking: "<think> ... </think>" (also
 * <thinking>, <reasoning>). Sets *SKIP to the bytes up to the end of that
 * block and returns 1; 0 when there is none; -1 when it never ends (the
 * answer was cut inside the thinking).
 */
static int reasoning_block(const char *t, size_t len, size_t *skip)
{
	static const char *const tags[] = {"think", "thinking", "reasoning"};
	size_t i = 0;

	while (i < len && isspace((unsigned char)t[i]))
		i++;
	for (size_t k = 0; k < sizeof tags / sizeof *tags; k++) {
		char open[24], close[24];
		size_t ol, cl;

		ol = (size_t)snprintf(open, sizeof open, "<%s>", tags[k]);
		cl = (size_t)snprintf(close, sizeof close, "</%s>", tags[k]);
		if (len - i < ol || strncasecmp(t + i, open, ol) != 0)
			continue;
		for (size_t j = i + ol; j + cl <= len; j++)
			if (strncasecmp(t + j, close, cl) == 0) {
				*skip = j + cl;
				return 1;
			}
		return -1;
	}
	return 0;
}

int llm_read_response(const char *body, size_t len, enum llm_format asked, const char *key,
                      struct llm_result *out, char *why, size_t whylen)
{
	json_error_t e;
	json_t *root, *usage, *choice, *content, *fr, *model;
	const char *text, *reason;
	size_t tlen, off, jlen;
	int found;

	/* DeepSeek may send blank lines first: jansson skips leading whitespace */
	root = json_loadb(body, len, 0, &e);
	if (!json_is_object(root)) {
		json_decref(root);
		util_fail(why, whylen, "the response body is not a JSON object (%s)",
		          root ? "another JSON value" : e.text);
		return LLM_READ_NOT_JSON;
	}
	usage = json_object_get(root, "usage");
	out->prompt_tokens = usage_count(usage, "prompt_tokens");
	out->completion_tokens = usage_count(usage, "completion_tokens");
	model = json_object_get(root, "model");
	if (json_is_string(model) && !(out->model = strdup(json_string_value(model))))
		goto oom;
	choice = json_array_get(json_object_get(root, "choices"), 0);
	if (!json_is_object(choice)) {
		char msg[320];

		error_text(body, len, msg, sizeof msg);
		json_decref(root);
		util_fail(why, whylen, "no choices in the response: %s", msg);
		return LLM_READ_NO_CHOICES;
	}
	content = json_object_get(json_object_get(choice, "message"), "content");
	text = json_is_string(content) ? json_string_value(content) : "";
	tlen = json_is_string(content) ? json_string_length(content) : 0;
	fr = json_object_get(choice, "finish_reason");
	reason = json_is_string(fr) ? json_string_value(fr) : NULL;
	if (reason && !(out->finish_reason = strdup(reason)))
		goto oom;
	reason = out->finish_reason;  /* outlives ROOT */
	{
		size_t skip = 0;
		int r = reasoning_block(text, tlen, &skip);

		if (r < 0) {
			json_decref(root);
			util_fail(why, whylen, "the answer ends inside the model's reasoning (no </think>)");
			return LLM_READ_INCOMPLETE;
		}
		text += skip;  /* the reasoning is neither the answer nor where its JSON is */
		tlen -= skip;
	}
	if (blank(text, tlen)) {
		json_decref(root);
		/* DeepSeek JSON Output may answer only blanks; a retry usually helps */
		util_fail(why, whylen, "empty content%s%s", reason ? ", finish_reason " : "",
		          reason ? reason : "");
		return LLM_READ_EMPTY;
	}
	if (reason && strcmp(reason, "length") == 0) {
		json_decref(root);
		util_fail(why, whylen, "truncated by max_tokens (finish_reason length)");
		return LLM_READ_LENGTH;
	}
	/* any other reason, known or not (content_filter, insufficient_system_resource): incomplete */
	if (reason && strcmp(reason, "stop") != 0) {
		json_decref(root);
		util_fail(why, whylen, "incomplete answer (finish_reason %.40s)", reason);
		return LLM_READ_INCOMPLETE;
	}
	out->content = malloc(tlen + 1);
	if (!out->content)
		goto oom;
	memcpy(out->content, text, tlen);
	out->content[tlen] = '\0';
	out->content_len = tlen;
	json_decref(root);
	root = NULL;
	if (!(out->content = scrub(out->content, &out->content_len, key)))
		goto oom;
	found = find_json(out->content, out->content_len, &off, &jlen);
	if (found) {
		out->json = out->content + off;
		out->json_len = jlen;
	}
	out->format = found == 1 ? asked : LLM_TEXT;
	if (asked == LLM_TEXT || found)
		return LLM_READ_OK;
	/* json was asked and the content holds none */
	free(out->content);
	out->content = NULL;
	out->content_len = 0;
	util_fail(why, whylen, "the content is not JSON although response_format %s was asked",
	          llm_format_name(asked));
	return LLM_READ_NO_JSON;
oom:
	json_decref(root);
	util_fail(why, whylen, "out of memory");
	return LLM_READ_OOM;
}

/* Judges a 2xx answer. Returns the check verdict. */
static int judge_answer(struct llm_client *c, struct job *j, const struct http_response *res)
{
	struct llm_result *out = j->out;
	char why[400];
	int r = llm_read_response(res->body, res->body_len, j->sent, c->key, out, why,
	                          sizeof why);

	if (out->prompt_tokens > 0)
		c->stats.prompt_tokens += (uint64_t)out->prompt_tokens;
	if (out->completion_tokens > 0)
		c->stats.completion_tokens += (uint64_t)out->completion_tokens;
	switch (r) {
	case LLM_READ_OK:
		return 0;
	case LLM_READ_NOT_JSON:
		return judge(j, 1, "invalid_json", "%s", why);
	case LLM_READ_NO_CHOICES:
		return judge(j, 1, "bad_response", "%s", why);
	case LLM_READ_EMPTY:
		return judge(j, 1, "empty", "%s", why);
	case LLM_READ_LENGTH:
		/* once more, then accept the failure: the same limit cuts the same answer */
		return judge(j, ++j->lengths < 2, "length", "%s", why);
	case LLM_READ_INCOMPLETE:
		return judge(j, 1, "incomplete", "%s", why);
	case LLM_READ_NO_JSON:
		/* the server ignores the response_format (Ollama) */
		if (!c->o.no_fallback) {
			fall_back(c, j->sent);
			return judge(j, 2, "format", "response_format %s not honoured (the content is not JSON)",
			             llm_format_name(j->sent));
		}
		return judge(j, 1, "invalid_json", "%s", why);
	default:
		return judge(j, 0, "error", "%s", why);
	}
}

/*
 * A status the HTTP engine does not retry (4xx). A 400/422 that names the
 * response_format (OpenAI invalid_value, DeepSeek "unavailable now", llama.cpp
 * "must be one of", vLLM's pydantic literal error, Qwen InvalidParameter) is
 * a refusal of the level: fall back one level and send again at once.
 */
static int judge_status(struct llm_client *c, struct job *j, const struct http_response *res)
{
	char msg[320], digits[16];
	const char *b = res->body;
	size_t n = res->body_len;
	unsigned sent = j->quirks_at[j->sent];

	error_text(b, n, msg, sizeof msg);
	/*
	 * OpenAI's reasoning models: a body built without a quirk the server
	 * wants is built again with it and sent at once. What this attempt sent
	 * decides, not what the client knows now: requests in flight when a
	 * quirk is learned come back with the same 400.
	 */
	if (res->status == 400 && !(sent & LLM_QUIRK_MAX_COMPLETION_TOKENS) && c->o.max_tokens > 0 &&
	    has_word(b, n, "max_tokens") && has_word(b, n, "max_completion_tokens")) {
		c->quirks |= LLM_QUIRK_MAX_COMPLETION_TOKENS;
		return judge(j, 2, "400", "the server wants max_completion_tokens: %s", msg);
	}
	if (res->status == 400 && !(sent & LLM_QUIRK_NO_TEMPERATURE) && c->o.temperature >= 0 &&
	    has_word(b, n, "temperature") && (has_word(b, n, "unsupported") || has_word(b, n, "not support"))) {
		c->quirks |= LLM_QUIRK_NO_TEMPERATURE;
		return judge(j, 2, "400", "the server takes no temperature: %s", msg);
	}
	if ((res->status == 400 || res->status == 422) && j->sent != LLM_TEXT &&
	    (has_word(b, n, "response_format") || has_word(b, n, "response format") ||
	     has_word(b, n, llm_format_name(j->sent)))) {
		if (c->o.no_fallback)
			return judge(j, 0, "format", "the server refuses response_format %s: %s",
			             llm_format_name(j->sent), msg);
		fall_back(c, j->sent);
		return judge(j, 2, "format", "the server refuses response_format %s: %s",
		             llm_format_name(j->sent), msg);
	}
	snprintf(digits, sizeof digits, "%ld", res->status);
	return judge(j, 0, digits, "HTTP %ld: %s", res->status, msg);
}

/* The engine's check hook. */
static int on_check(void *ud, size_t i, const struct http_response *res, char *reason,
                    size_t reasonlen)
{
	struct batch *b = ud;
	struct job *j = b->active[i];
	int v;

	llm_result_clear(j->out);
	if (res->status >= 200 && res->status <= 299)
		v = judge_answer(b->c, j, res);
	else
		v = judge_status(b->c, j, res);
	if (v)
		snprintf(reason, reasonlen, "%s", j->reason);
	else
		b->ndone++;
	show_progress(b, 0);
	return v;
}

/* Sets RES's error (redacted) and code; attempts > 1 are said. */
static int set_failure(struct llm_client *c, struct llm_result *res, const char *code,
                       const char *msg)
{
	char buf[1200];
	int attempts = res->attempts;

	llm_result_clear(res);
	res->attempts = attempts;
	if (attempts > 1)
		snprintf(buf, sizeof buf, "%s (after %d attempts)", msg, attempts);
	else
		snprintf(buf, sizeof buf, "%s", msg);
	res->error = dup_redacted(buf, c->key);
	snprintf(res->code, sizeof res->code, "%s", code);
	c->stats.failed++;
	return res->error ? 0 : -1;
}

/* The final outcome of active job J from the engine's response HR. */
static int settle(struct llm_client *c, struct job *j, const struct http_response *hr)
{
	struct llm_result *out = j->out;

	out->attempts = hr->attempts;
	if (hr->error && !strcmp(hr->code, "cancelled"))
		return set_failure(c, out, "cancelled", "cancelled before an answer came");
	if (hr->error) {
		if (j->rejected)  /* our check refused the last answer */
			return set_failure(c, out, j->code, j->reason);
		if (hr->code[0] >= '0' && hr->code[0] <= '9') {  /* 429 or 5xx, retries spent */
			char msg[320], full[400];

			error_text(hr->body ? hr->body : "", hr->body_len, msg, sizeof msg);
			snprintf(full, sizeof full, "HTTP %ld: %s", hr->status, msg);
			return set_failure(c, out, hr->code, full);
		}
		/* transport: "POST URL: cause"; the URL is without userinfo already */
		{
			char msg[1024];
			const char *e = strstr(hr->error, " (after ");

			snprintf(msg, sizeof msg, "%.*s", e ? (int)(e - hr->error) : (int)strlen(hr->error),
			         hr->error);
			return set_failure(c, out, hr->code, msg);
		}
	}
	if (j->failed)
		return set_failure(c, out, j->code, j->reason);
	return 0;
}

/*
 * A failure no retry and no other request can fix: the key (401, 403), the
 * URL or the model (404; 400/422 saying the model does not exist).
 */
static int is_fatal(const struct llm_result *r)
{
	const char *e = r->error ? r->error : "";

	if (!strcmp(r->code, "401") || !strcmp(r->code, "403") || !strcmp(r->code, "404"))
		return 1;
	if (strcmp(r->code, "400") && strcmp(r->code, "422"))
		return 0;
	return (strcasestr(e, "model") != NULL) &&
	       (strcasestr(e, "not exist") || strcasestr(e, "not found") || strcasestr(e, "does not exist") ||
	        strcasestr(e, "unknown model") || strcasestr(e, "invalid model") || strcasestr(e, "no such model"));
}

/* The engine's done hook: settles the job at once and tells the caller. */
static int on_done(void *ud, size_t i, const struct http_response *hr, char *reason, size_t reasonlen)
{
	struct batch *b = ud;
	struct job *j = b->active[i];
	int r = 0;

	if (settle(b->c, j, hr) < 0) {
		snprintf(reason, reasonlen, "out of memory");
		return -1;
	}
	j->out->fatal = j->out->error && is_fatal(j->out);
	if (b->on_result) {
		r = b->on_result(b->ud, (size_t)(j - b->jobs), j->out);
		if (r < 0) {
			snprintf(reason, reasonlen, "stopped by the caller");
			return -1;
		}
	}
	return j->out->fatal ? 1 : r;
}

int llm_complete(struct llm_client *c, const struct llm_request *reqs, size_t n,
                 struct llm_result *res_out, llm_result_fn on_result, void *ud,
                 char *err, size_t errlen)
{
	static const int retry_on[] = {408};  /* Request Timeout: the server's, transient */
	struct batch b = {0};
	struct http_request *hr = NULL;
	struct http_response *hres = NULL;
	const char *headers[3];
	size_t nh = 0;
	int rc = -1;

	headers[nh++] = "Content-Type: application/json";
	headers[nh++] = "Accept: application/json";
	if (c->auth)
		headers[nh++] = c->auth;
	b.c = c;
	b.n = n;
	b.on_result = on_result;
	b.ud = ud;
	b.jobs = calloc(n ? n : 1, sizeof *b.jobs);
	b.active = calloc(n ? n : 1, sizeof *b.active);
	hr = calloc(n ? n : 1, sizeof *hr);
	hres = calloc(n ? n : 1, sizeof *hres);
	if (!b.jobs || !b.active || !hr || !hres) {
		util_fail(err, errlen, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct job *j = &b.jobs[i];
		json_error_t e;

		j->req = &reqs[i];
		j->out = &res_out[i];
		llm_result_clear(j->out);
		if (!reqs[i].nmessages || !reqs[i].messages) {
			util_fail(err, errlen, "request %zu has no messages", i + 1);
			goto out;
		}
		for (size_t m = 0; m < reqs[i].nmessages; m++)
			if (!reqs[i].messages[m].role || !reqs[i].messages[m].content) {
				util_fail(err, errlen, "request %zu: message %zu lacks a role or content", i + 1, m + 1);
				goto out;
			}
		if (reqs[i].schema) {
			j->schema = json_loads(reqs[i].schema, 0, &e);
			if (!json_is_object(j->schema)) {
				util_fail(err, errlen, "request %zu: the schema is not a JSON object", i + 1);
				goto out;
			}
		}
	}
	for (size_t i = 0; i < n; i++) {
		struct job *j = &b.jobs[i];
		/* text needs no extra copy of the messages: it checks every string is UTF-8 */
		int r = build_body(c, j, LLM_TEXT);

		if (r == -1) {
			util_fail(err, errlen, "out of memory");
			goto out;
		}
		if (r == -2) {
			if (set_failure(c, j->out, "utf8", "a message is not valid UTF-8") < 0) {
				util_fail(err, errlen, "out of memory");
				goto out;
			}
			b.ndone++;
			if (on_result && on_result(ud, i, j->out) < 0) {
				util_fail(err, errlen, "stopped by the caller");
				goto out;
			}
			continue;
		}
		hr[b.nactive].method = "POST";
		hr[b.nactive].url = c->url;
		hr[b.nactive].headers = headers;
		hr[b.nactive].nheaders = nh;
		hr[b.nactive].retry_on = retry_on;
		hr[b.nactive].nretry_on = 1;
		hr[b.nactive].check = on_check;
		hr[b.nactive].check_ud = &b;
		hr[b.nactive].prepare = on_prepare;
		hr[b.nactive].prepare_ud = &b;
		hr[b.nactive].done = on_done;
		hr[b.nactive].done_ud = &b;
		b.active[b.nactive++] = j;
	}
	show_progress(&b, 1);
	/* every job is settled by on_done as its request ends */
	c->cur = &b;
	c->last_progress = now_mono();
	if (http_perform(c->http, hr, b.nactive, hres, err, errlen) < 0)
		goto out;
	b.ndone = n;
	show_progress(&b, 1);
	if (c->o.progress && !c->o.progress_lines && n)
		fputc('\n', c->o.progress);
	rc = 0;
out:
	c->cur = NULL;
	for (size_t k = 0; hres && k < b.nactive; k++)
		http_response_clear(&hres[k]);
	for (size_t i = 0; b.jobs && i < n; i++) {
		json_decref(b.jobs[i].schema);
		for (int l = 0; l < 3; l++)
			free(b.jobs[i].body[l]);
		for (size_t k = 0; k < b.jobs[i].nstale; k++)
			free(b.jobs[i].stale[k]);
		free(b.jobs[i].stale);
	}
	free(hres);
	free(hr);
	free(b.active);
	free(b.jobs);
	return rc;
}
