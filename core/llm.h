/*
 * LLM client engine: OpenAI-protocol chat completions (POST {url}/chat/completions)
 * for a batch of prompts, concurrently, on the HTTP engine (http.h). It builds
 * the request JSON, falls back json_schema -> json_object -> text when a server
 * refuses or ignores a response_format (and remembers that level), retries what
 * a model answers badly, and keeps the API key out of every message. One wire
 * format for OpenAI, DeepSeek, Qwen, Ollama, llama.cpp and vLLM (see
 * shared/notes/llm-providers.md). No prompts, caching or Lua here.
 */
#ifndef LISTDIGEST_LLM_H
#define LISTDIGEST_LLM_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* response_format levels, best first; a fallback moves one level down. */
enum llm_format {
	LLM_TEXT = 0,        /* no response_format sent */
	LLM_JSON_OBJECT = 1, /* {"type":"json_object"} */
	LLM_JSON_SCHEMA = 2, /* {"type":"json_schema","json_schema":{name, schema}} */
};

/* "text", "json_object", "json_schema". */
const char *llm_format_name(enum llm_format f);
/* The level named S, or -1. */
int llm_format_parse(const char *s);

/* Client settings; every string is copied. Zero numbers take the defaults in brackets. */
struct llm_options {
	const char *url;          /* base URL, "http(s)://.../v1"; "/chat/completions" is appended */
	const char *model;        /* sent as "model" */
	const char *key;          /* Bearer token; NULL = env LISTDIGEST_LLM_KEY, else OPENAI_API_KEY,
	                             else none; "" = none (no Authorization header) */
	int jobs;                 /* requests in flight, overall and to the host [4] */
	double timeout;           /* seconds per attempt [120] */
	int retries;              /* extra attempts after the first; -1 = [4] */
	double backoff;           /* base of the exponential backoff, seconds [1] */
	double max_backoff;       /* cap of one backoff delay, seconds [30] */
	double temperature;       /* sent as "temperature"; < 0 = not sent */
	int max_tokens;           /* sent as "max_tokens"; 0 = not sent */
	enum llm_format format;   /* the level to start at (use LLM_JSON_SCHEMA for "auto") */
	int no_fallback;          /* 1 = FORMAT is forced: a refusal is a failure, not a fallback */
	FILE *progress;           /* "llm: 12/40 threads, 53.2k tokens" lines; NULL = quiet */
	int progress_lines;       /* 1 = PROGRESS is a log, not a terminal: a whole line every
	                             progress_every seconds while requests wait (answered/total,
	                             retries, the oldest waiting request's age) */
	double progress_every;    /* seconds between those lines [10] */
	volatile sig_atomic_t *stop; /* non-zero (a signal handler): a batch cancels what has
	                                not been answered; NULL = never */
	const char *params;       /* JSON object merged into every request body last (a
	                             provider's own parameters: {"enable_thinking": false});
	                             a null value removes that field; NULL = none */
	unsigned quirks;          /* LLM_QUIRK_* the server is already known to need */
	double connect_timeout;   /* seconds to connect [10] */
};

/*
 * What a server is learned to need from its 400s (and remembered by the
 * caller, as the format level is): max_completion_tokens instead of
 * max_tokens, no temperature (OpenAI's reasoning models).
 */
enum {
	LLM_QUIRK_MAX_COMPLETION_TOKENS = 1,
	LLM_QUIRK_NO_TEMPERATURE = 2,
};

/* One chat message; strings borrowed until llm_complete returns. */
struct llm_message {
	const char *role;         /* "system", "user", "assistant" */
	const char *content;      /* UTF-8 */
	size_t content_len;
};

/* One prompt of a batch; everything borrowed until llm_complete returns. */
struct llm_request {
	const struct llm_message *messages;
	size_t nmessages;
	const char *schema;       /* JSON text of a JSON Schema object for json_schema mode,
	                             or NULL (the request then asks for json_object at most) */
	const char *name;         /* json_schema.name; NULL = "response" */
	int text;                 /* 1 = ask for text whatever the client's level (no
	                             response_format): for a model whose JSON does not fit */
};

/*
 * The outcome of one request. On success ERROR is NULL, CONTENT is the
 * model's text and, when the content is or contains a JSON object, JSON/
 * JSON_LEN span that object inside CONTENT (JSON is NULL otherwise). On
 * failure ERROR says why (never the key) and CODE is the HTTP status as
 * digits ("401") or a short word: "timeout", "connect", "reset", "truncated",
 * ... (http.h), "invalid_json" (body or forced-JSON content not JSON),
 * "bad_response" (no choices), "empty" (blank content), "length" (truncated
 * by max_tokens), "incomplete" (another finish_reason), "format" (a forced
 * response_format refused), "utf8". Everything is owned by the result and
 * freed by llm_result_clear.
 */
struct llm_result {
	char *content;            /* NUL-terminated, CONTENT_LEN bytes */
	size_t content_len;
	const char *json;         /* points into CONTENT; NOT NUL-terminated */
	size_t json_len;
	enum llm_format format;   /* what the server honoured: TEXT when JSON had to be dug out of prose */
	long prompt_tokens;       /* -1 when the server did not say */
	long completion_tokens;
	char *finish_reason;      /* NULL when the server sent none */
	char *model;              /* the model the server reported, or NULL */
	int attempts;             /* HTTP attempts, fallbacks included */
	char *error;              /* NULL on success */
	char code[16];
	int fatal;                /* a configuration error no retry or other request can fix: 401,
	                             403, 404, an unknown model; the batch stops at the first */
};

/*
 * Called once per request as soon as its outcome is known (I: its index in
 * the batch; RES valid during the call), before llm_complete returns: the
 * caller can keep an answer the moment it is paid for. Returns 0 to go on,
 * 1 to cancel the requests not answered yet (they end with code
 * "cancelled"), -1 to abort the batch.
 */
typedef int (*llm_result_fn)(void *ud, size_t i, const struct llm_result *res);

/*
 * Counters over the client's life. REQUESTS counts HTTP attempts, RETRIES
 * the attempts after each request's first (fallbacks included), tokens are
 * summed over every answer that reported usage (what is billed, retried
 * answers included), FAILED counts failed results, FALLBACKS the times the
 * client's level went down.
 */
struct llm_stats {
	uint64_t requests, retries, prompt_tokens, completion_tokens, failed, fallbacks;
};

struct llm_client;

/* Creates a client. Returns -1 with a reason on bad options (no URL or model,
 * a key with CR/LF) or when the HTTP engine cannot be set up. */
int llm_client_new(const struct llm_options *opts, struct llm_client **client_out,
                   char *err, size_t errlen);

/* Frees the client; NULL does nothing. */
void llm_client_free(struct llm_client *client);

/*
 * Sends the N requests, JOBS at a time, each retried on its own, and writes
 * each outcome to RES_OUT[i] (an array of N the caller zeroed; the caller
 * clears it after, even when this fails). A request that fails is a result
 * with ERROR set; the call itself returns -1 (reason in ERR) only when the
 * batch could not be run: out of memory, a schema that is not JSON, a
 * request without messages.
 *
 * Each attempt is sent at the client's current level (json_object at most
 * for a request without a schema). At json_object, when no message says
 * "JSON", "Answer in JSON." is appended to a leading system message (or sent
 * as one): OpenAI, DeepSeek and Qwen refuse json_object otherwise. A 400/422
 * naming the response_format, or an answer without any JSON object when a
 * json level was asked, lowers the client's level to below the one sent
 * and sends the request again at once (not counted as a retry); with
 * NO_FALLBACK it is a failure (code "format", or "invalid_json" retried).
 * Retried with backoff: 408, 429 (Retry-After), 5xx, transport failures, a
 * body that is not JSON, no choices, blank content, a finish_reason other
 * than "stop" (none at all is taken as "stop"); "length" only once. Other
 * statuses fail at once with the server's message. A fatal failure (see
 * struct llm_result) cancels every request not answered yet, so at most
 * JOBS requests reach a server that refuses the key or the model; so does
 * the stop flag. ON_RESULT (NULL = none) hears of every outcome as it comes.
 */
int llm_complete(struct llm_client *client, const struct llm_request *reqs, size_t n,
                 struct llm_result *res_out, llm_result_fn on_result, void *ud,
                 char *err, size_t errlen);

/* What llm_read_response makes of an answer. */
enum llm_read {
	LLM_READ_OK,          /* content (and json, when there is an object) set */
	LLM_READ_NOT_JSON,    /* the body is not a JSON object */
	LLM_READ_NO_CHOICES,  /* no choices[0] object */
	LLM_READ_EMPTY,       /* blank content */
	LLM_READ_LENGTH,      /* finish_reason "length" */
	LLM_READ_INCOMPLETE,  /* another finish_reason than "stop" */
	LLM_READ_NO_JSON,     /* a JSON level was asked and the content holds no object */
	LLM_READ_OOM,
};

/*
 * Reads the body of a 2xx chat-completions answer into OUT (zeroed, or
 * cleared with llm_result_clear): usage, model, finish_reason, and on
 * LLM_READ_OK the content with KEY (NULL = none) redacted, and the JSON
 * object found in it. ASKED is the response_format level that was sent.
 * Returns an enum llm_read; WHY says what was wrong. What llm_complete does
 * with each outcome (retry, fall back, fail) is described above.
 */
int llm_read_response(const char *body, size_t len, enum llm_format asked, const char *key,
                      struct llm_result *out, char *why, size_t whylen);

/* Frees what RES owns and zeroes it; NULL does nothing. */
void llm_result_clear(struct llm_result *res);

/* The LLM_QUIRK_* this client now knows its server needs. */
unsigned llm_client_quirks(const struct llm_client *client);

/* The level this client now uses for its server (after fallbacks). */
enum llm_format llm_client_format(const struct llm_client *client);

/* The key in use, or NULL: for callers that redact their own logs. */
const char *llm_client_key(const struct llm_client *client);

void llm_client_stats(const struct llm_client *client, struct llm_stats *stats_out);

#endif
