/*
 * HTTP client engine on libcurl: performs a batch of requests concurrently on
 * one curl multi handle, with a per-host and a global in-flight limit, and
 * retries each request on its own (429, 5xx, transport failures, responses a
 * caller check rejects) with exponential backoff and full jitter, honouring
 * Retry-After without blocking the rest of the batch. Not a public-inbox or
 * LLM client (those are Lua on top) and no Lua here: 0/-1 and a reason.
 */
#ifndef LISTDIGEST_HTTP_H
#define LISTDIGEST_HTTP_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * Client settings; zero fields take the defaults in brackets. TLS peer and
 * host verification are always on: there is deliberately no option for it.
 */
struct http_options {
	const char *user_agent;  /* ["listdigest/" LISTDIGEST_VERSION]; copied */
	double connect_timeout;  /* seconds per attempt [10] */
	double timeout;          /* seconds per attempt, whole transfer [120] */
	double stall_timeout;    /* an attempt that receives nothing for this many seconds,
	                            or nothing at all before its timeout, is "stalled"
	                            and tried once more only, not RETRIES times; 0 = no
	                            limit (an LLM sends its answer whole, at the end) [0] */
	int max_per_host;        /* requests in flight per scheme://host:port [2] */
	int max_total;           /* requests in flight overall [8] */
	int retries;             /* extra attempts after the first; -1 = [4] */
	double backoff;          /* base of the exponential backoff, seconds [0.5] */
	double max_backoff;      /* cap of one backoff delay, seconds [30] */
	double max_retry_after;  /* cap on a server's Retry-After, seconds [120] */
	size_t max_body;         /* refuse bodies larger than this (decoded) [1 GiB] */
	FILE *progress;          /* progress lines go here ("\r"-overwritten); NULL = quiet */
	const char *progress_label; /* first word of a progress line ["fetch"]; copied */
	volatile sig_atomic_t *stop; /* when *STOP turns non-zero (a signal handler), a batch
	                                cancels what has not finished; NULL = never */
	void (*tick)(void *ud);  /* called about once a second while a batch runs, even when
	                            nothing arrives (a caller's progress); NULL = none */
	void *tick_ud;
};

struct http_response;

/*
 * A caller's judgement of a response the engine would accept (any status it
 * does not retry). Returns 0 to accept it, 1 to retry it like a 5xx (REASON,
 * REASONLEN bytes, says why: "truncated JSON"), 2 to send it again at once
 * without counting the attempt against the retries (the caller changed what
 * it sends, e.g. a format the server refused; the caller must bound how often
 * it answers 2), -1 to abort the whole batch (http_perform then fails with
 * REASON). I is the request's index. RES is the attempt's response, valid
 * only during the call.
 */
typedef int (*http_check_fn)(void *ud, size_t i, const struct http_response *res,
                             char *reason, size_t reasonlen);

/*
 * Called just before each attempt of request I is sent (ATTEMPT is 1 for the
 * first). It may replace the body this attempt sends: *BODY and *BODY_LEN hold
 * the request's body on entry; what a new *BODY points to must stay valid
 * until http_perform returns. Returns 0, or -1 to abort the whole batch
 * (http_perform then fails with REASON).
 */
typedef int (*http_prepare_fn)(void *ud, size_t i, int attempt, const char **body,
                               size_t *body_len, char *reason, size_t reasonlen);

/*
 * Called once when request I has its outcome (success, failure after its
 * retries, or "cancelled"), RES valid only during the call. Returns 0 to go
 * on, 1 to cancel every request of the batch that has not finished (those
 * not started, waiting for a retry, or in flight end at once with code
 * "cancelled"; calls for them follow, their return ignored), -1 to abort
 * the whole batch (http_perform then fails with REASON).
 */
typedef int (*http_done_fn)(void *ud, size_t i, const struct http_response *res,
                            char *reason, size_t reasonlen);

/* One request. Every pointer is borrowed until http_perform returns. */
struct http_request {
	const char *method;          /* "GET", "POST", ...; NULL = GET, or POST with a body */
	const char *url;             /* http:// or https:// only */
	const char *const *headers;  /* "Name: value" lines, no CR/LF; NULL if none */
	size_t nheaders;
	const char *body;            /* NULL = no body; a POST with NULL or "" sends Content-Length: 0 */
	size_t body_len;
	double timeout;              /* seconds per attempt; 0 = the client's */
	const int *retry_on;         /* statuses to retry besides 429 and 5xx */
	size_t nretry_on;
	http_check_fn check;         /* NULL = accept what is not retried */
	void *check_ud;
	http_prepare_fn prepare;     /* NULL = send BODY every time */
	void *prepare_ud;
	http_done_fn done;           /* NULL = nobody is told before http_perform returns */
	void *done_ud;
};

/* A response header; NAME is lower-case. Points into the response. */
struct http_header {
	const char *name;
	const char *value;
};

/*
 * The outcome of one request. On success ERROR is NULL and STATUS is the
 * final status (a 404 is a success here: only the caller knows what it means).
 * On failure ERROR is "METHOD URL: cause" (URL without userinfo; no header or
 * body text ever) and CODE says what ended it: the status as digits ("503")
 * when retries of a status ran out or a check rejected the response, else the
 * transport failure of the last attempt, one of "timeout", "connect", "dns",
 * "tls", "reset", "truncated" (connection closed mid-body, bad encoding),
 * "too_large", "redirects", "error", "stalled" (nothing arrived for the
 * client's stall_timeout, twice), or "cancelled" (a done hook or the
 * stop flag ended the batch first). STATUS/headers/body are those of the
 * last attempt if it got any. Everything is owned by the response and freed
 * by http_response_clear.
 */
struct http_response {
	long status;                 /* 0 if no response was received */
	struct http_header *headers; /* of the final response (after redirects) */
	size_t nheaders;
	char *body;                  /* NUL-terminated for convenience; BODY_LEN excludes it */
	size_t body_len;
	char *url;                   /* effective URL after redirects */
	const char *http_version;    /* "1.0", "1.1", "2", "3" (static) */
	int attempts;                /* attempts made, the first included */
	double elapsed;              /* seconds from the first attempt to the outcome */
	char *error;                 /* NULL on success */
	char code[16];               /* "" on success */
};

/*
 * Counters over the client's life. REQUESTS counts attempts sent (retries
 * included). BYTES_RECEIVED is response header bytes plus body bytes as they
 * came off the connection, before content decoding (libcurl 7.88's
 * CURLINFO_SIZE_DOWNLOAD_T counts body bytes before Content-Encoding is
 * undone: a 100 kB gzip'ed body of 132 bytes counts 132); TLS and HTTP/2
 * framing are not counted. BYTES_SENT is request header plus body bytes.
 */
struct http_stats {
	uint64_t requests, retries, bytes_received, bytes_sent;
};

struct http_client;

/*
 * Creates a client (one curl multi handle, a connection cache kept between
 * batches). OPTS may be NULL. Returns -1 with a reason on bad options or
 * when libcurl cannot be initialised.
 */
int http_client_new(const struct http_options *opts, struct http_client **client_out,
                    char *err, size_t errlen);

/* Frees the client, ending any progress line; NULL does nothing. */
void http_client_free(struct http_client *client);

/*
 * Performs the N requests concurrently and writes each outcome to RES_OUT[i]
 * (an array of N the caller zeroed or cleared; the caller clears it after,
 * even when this fails). Returns 0 when every request has an outcome (which
 * may be a failure), -1 (reason in ERR) when the batch could not be run:
 * out of memory, a request without a URL, a check or prepare hook returning
 * -1, or a call
 * from inside a check of this client (not reentrant; a check must not free
 * the client either).
 */
int http_perform(struct http_client *client, const struct http_request *reqs, size_t n,
                 struct http_response *res_out, char *err, size_t errlen);

/* Frees what RES owns and zeroes it; NULL does nothing. */
void http_response_clear(struct http_response *res);

/* Value of header NAME (lower-case) in RES, the last one if repeated, or NULL. */
const char *http_response_header(const struct http_response *res, const char *name);

void http_client_stats(const struct http_client *client, struct http_stats *stats_out);

/*
 * Writes URL without its userinfo ("https://user:key@h/p" -> "https://h/p")
 * to OUT (OUTLEN bytes, truncated if needed). For messages and logs.
 */
void http_redact_url(const char *url, char *out, size_t outlen);

#endif
