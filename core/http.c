/*
 * HTTP client engine (see http.h): a batch of requests on one curl multi
 * handle. We keep our own queue instead of CURLMOPT_MAX_HOST_CONNECTIONS so
 * that a request waiting for its retry delay, or for a free slot, is not
 * yet in curl's hands and its per-attempt timeout does not run meanwhile.
 * Not a public-inbox or LLM client; never prints except progress lines to
 * the stream the caller gave.
 */
#include "http.h"
#include "util.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#ifndef LISTDIGEST_VERSION
#define LISTDIGEST_VERSION "0"
#endif

#define MAX_REDIRECTS 5L
#define MAX_HEADER_BYTES ((size_t)256 << 10) /* of one response, all lines */

struct http_client {
	struct http_options o;
	char *user_agent, *label;
	CURLM *multi;
	CURLSH *share;          /* DNS cache and TLS sessions across handles */
	struct http_stats stats;
	uint64_t rng;
	double last_progress;   /* monotonic time of the last progress line */
	int progress_shown;
	int busy;               /* in http_perform: a check may not re-enter it */
};

enum xfer_state { WAITING, RUNNING, DONE };

/* One request of a batch, across its attempts. */
struct xfer {
	struct http_client *client;
	const struct http_request *req;
	struct http_response *res;
	size_t index, host;
	enum xfer_state state;
	double ready_at;        /* monotonic seconds; WAITING until then */
	double started;         /* first attempt */
	double attempt_started; /* the current one */
	int stalls;             /* attempts that ended stalled */
	int free_attempts;      /* attempts a check sent again with 2: not retries */
	CURL *easy;             /* while RUNNING */
	struct curl_slist *hdrs;
	/* the current attempt's response, moved into res when it ends */
	char *body;
	size_t body_len, body_cap;
	char *hbuf;             /* "name\0value\0" pairs */
	size_t hbuf_len, hbuf_cap, nh;
	int too_large;
	char errbuf[CURL_ERROR_SIZE];
};

/* A scheme://host:port key and how many of its requests are in flight. */
struct host {
	char key[256];
	int running;
};

struct batch {
	struct xfer *x;
	size_t n, ndone;
	struct host *hosts;
	size_t nhosts;
	int running;
	int cancel;             /* a done hook or the stop flag asked to end the rest */
	int cancelling;         /* ending the rest: done hooks' answers are ignored */
};

static double now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* xorshift64*: jitter needs spread, not secrecy. Returns [0, 1). */
static double rand_unit(struct http_client *c)
{
	c->rng ^= c->rng >> 12;
	c->rng ^= c->rng << 25;
	c->rng ^= c->rng >> 27;
	return (double)((c->rng * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

/* Start and end of the authority in URL ("user@host:port"), or 0. */
static int authority(const char *url, const char **start_out, const char **end_out)
{
	const char *p = strstr(url, "://");

	if (!p)
		return 0;
	*start_out = p + 3;
	*end_out = *start_out + strcspn(*start_out, "/?#");
	return 1;
}

void http_redact_url(const char *url, char *out, size_t outlen)
{
	const char *a, *e, *at = NULL, *p;

	if (!outlen)
		return;
	if (!authority(url, &a, &e)) {
		snprintf(out, outlen, "%s", url);
		return;
	}
	for (p = a; p < e; p++)  /* RFC 3986 §3.2.1: userinfo ends at the last '@' */
		if (*p == '@')
			at = p;
	if (!at)
		snprintf(out, outlen, "%s", url);
	else
		snprintf(out, outlen, "%.*s%s", (int)(a - url), url, at + 1);
}

/* "scheme://host:port" of URL, lower-case, without userinfo: a queue key. */
static void host_key(const char *url, char *out, size_t outlen)
{
	const char *a, *e, *p;
	size_t i;

	if (!authority(url, &a, &e)) {
		snprintf(out, outlen, "?");
		return;
	}
	for (p = a; p < e; p++)
		if (*p == '@')
			a = p + 1;
	snprintf(out, outlen, "%.*s%.*s", (int)(strstr(url, "://") + 3 - url), url, (int)(e - a), a);
	for (i = 0; out[i]; i++)
		out[i] = (char)tolower((unsigned char)out[i]);
}

int http_client_new(const struct http_options *opts, struct http_client **client_out,
                    char *err, size_t errlen)
{
	struct http_client *c;
	struct timespec ts;

	*client_out = NULL;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return util_fail(err, errlen, "libcurl: cannot initialise");
	c = calloc(1, sizeof *c);
	if (!c) {
		curl_global_cleanup();
		return util_fail(err, errlen, "out of memory");
	}
	if (opts)
		c->o = *opts;
	if (c->o.connect_timeout <= 0)
		c->o.connect_timeout = 10;
	if (c->o.timeout <= 0)
		c->o.timeout = 120;
	if (c->o.max_per_host <= 0)
		c->o.max_per_host = 2;
	if (c->o.max_total <= 0)
		c->o.max_total = 8;
	if (c->o.retries < 0)
		c->o.retries = 4;
	if (c->o.backoff <= 0)
		c->o.backoff = 0.5;
	if (c->o.max_backoff <= 0)
		c->o.max_backoff = 30;
	if (c->o.max_retry_after <= 0)
		c->o.max_retry_after = 120;
	if (c->o.max_body == 0)
		c->o.max_body = (size_t)1 << 30;
	c->user_agent = strdup(c->o.user_agent ? c->o.user_agent : "listdigest/" LISTDIGEST_VERSION);
	c->label = strdup(c->o.progress_label ? c->o.progress_label : "fetch");
	c->o.user_agent = c->o.progress_label = NULL;
	c->multi = curl_multi_init();
	c->share = curl_share_init();
	if (!c->user_agent || !c->label || !c->multi || !c->share) {
		http_client_free(c);
		return util_fail(err, errlen, "out of memory");
	}
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	/* our queue enforces the limits; this is HTTP/2 stream reuse only */
	curl_multi_setopt(c->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	clock_gettime(CLOCK_REALTIME, &ts);
	c->rng = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 40) ^
	         (uint64_t)(uintptr_t)c;
	if (!c->rng)
		c->rng = 0x9e3779b97f4a7c15ULL;
	*client_out = c;
	return 0;
}

void http_client_free(struct http_client *c)
{
	if (!c)
		return;
	if (c->progress_shown && c->o.progress) {
		fputc('\n', c->o.progress);
		fflush(c->o.progress);
	}
	if (c->multi)
		curl_multi_cleanup(c->multi);
	if (c->share)
		curl_share_cleanup(c->share);
	free(c->user_agent);
	free(c->label);
	free(c);
	curl_global_cleanup();
}

void http_client_stats(const struct http_client *c, struct http_stats *stats_out)
{
	*stats_out = c->stats;
}

void http_response_clear(struct http_response *res)
{
	if (!res)
		return;
	free(res->headers);
	free(res->body);
	free(res->url);
	free(res->error);
	memset(res, 0, sizeof *res);
}

const char *http_response_header(const struct http_response *res, const char *name)
{
	const char *v = NULL;

	for (size_t i = 0; i < res->nheaders; i++)
		if (strcmp(res->headers[i].name, name) == 0)
			v = res->headers[i].value;
	return v;
}

static int grow(char **buf, size_t *cap, size_t need, size_t min)
{
	size_t ncap = *cap ? *cap : min;
	char *nb;

	while (ncap < need)
		ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
	if (ncap == *cap)
		return 0;
	nb = realloc(*buf, ncap);
	if (!nb)
		return -1;
	*buf = nb;
	*cap = ncap;
	return 0;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t len = size * nmemb;

	if (len > x->client->o.max_body - x->body_len) {
		x->too_large = 1;
		return 0;
	}
	if (grow(&x->body, &x->body_cap, x->body_len + len + 1, 16384) < 0)
		return 0;
	memcpy(x->body + x->body_len, data, len);
	x->body_len += len;
	x->body[x->body_len] = '\0';
	return len;
}

/*
 * Counts request bytes as curl writes them: CURLINFO_REQUEST_SIZE already
 * includes a body sent along with the headers, which CURLINFO_SIZE_UPLOAD_T
 * counts again, so neither sum of the two is right. Never looks at the data.
 */
static int on_debug(CURL *e, curl_infotype type, char *data, size_t len, void *ud)
{
	struct xfer *x = ud;

	if (type == CURLINFO_HEADER_OUT || type == CURLINFO_DATA_OUT)
		x->client->stats.bytes_sent += len;
	return 0;
}

/*
 * Keeps the header lines of the latest response: a status line starts a new
 * one (after a redirect or a 1xx). Names are lower-cased (RFC 9110 §5.1:
 * case-insensitive), values trimmed of surrounding whitespace (§5.5).
 */
static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t len = size * nmemb, nlen, vlen;
	const char *colon, *v, *end = data + len;

	if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
		x->hbuf_len = x->nh = 0;
		return len;
	}
	colon = memchr(data, ':', len);
	if (!colon || colon == data)
		return len;  /* the blank line, or an obs-fold continuation we ignore */
	nlen = (size_t)(colon - data);
	for (v = colon + 1; v < end && (*v == ' ' || *v == '\t'); v++)
		;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
		end--;
	vlen = (size_t)(end - v);
	if (x->hbuf_len + nlen + vlen + 2 > MAX_HEADER_BYTES) {
		x->too_large = 1;
		return 0;
	}
	if (grow(&x->hbuf, &x->hbuf_cap, x->hbuf_len + nlen + vlen + 2, 1024) < 0)
		return 0;
	for (size_t i = 0; i < nlen; i++)
		x->hbuf[x->hbuf_len++] = (char)tolower((unsigned char)data[i]);
	x->hbuf[x->hbuf_len++] = '\0';
	memcpy(x->hbuf + x->hbuf_len, v, vlen);
	x->hbuf_len += vlen;
	x->hbuf[x->hbuf_len++] = '\0';
	x->nh++;
	return len;
}

/* Moves the attempt's headers into one block: the array, then the strings. */
static int take_headers(struct xfer *x, struct http_response *res)
{
	size_t arr = x->nh * sizeof(struct http_header);
	char *block, *s;

	if (!x->nh)
		return 0;
	block = malloc(arr + x->hbuf_len);
	if (!block)
		return -1;
	memcpy(block + arr, x->hbuf, x->hbuf_len);
	res->headers = (struct http_header *)(void *)block;
	s = block + arr;
	for (size_t i = 0; i < x->nh; i++) {
		res->headers[i].name = s;
		s += strlen(s) + 1;
		res->headers[i].value = s;
		s += strlen(s) + 1;
	}
	res->nheaders = x->nh;
	return 0;
}

/*
 * Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date. Returns
 * the delay in seconds, or -1 when absent or unreadable.
 */
static double retry_after(const struct http_response *res)
{
	const char *v = http_response_header(res, "retry-after");
	time_t t;

	if (!v || !*v)
		return -1;
	if (strspn(v, "0123456789") == strlen(v))
		return strlen(v) > 9 ? 1e9 : (double)atol(v);
	t = curl_getdate(v, NULL);
	if (t == (time_t)-1)
		return -1;
	return t > time(NULL) ? difftime(t, time(NULL)) : 0;
}

/* Short code and whether to retry, for a transport failure. */
static const char *classify(CURLcode rc, int too_large, int *retry_out)
{
	*retry_out = 1;
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		return "timeout";
	case CURLE_COULDNT_CONNECT:
		return "connect";
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return "dns";   /* resolvers fail transiently (EAI_AGAIN) too */
	case CURLE_SSL_CONNECT_ERROR:
		return "tls";   /* a handshake cut short; certificate failures are not retried */
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_HTTP3:
		return "reset";
	case CURLE_PARTIAL_FILE:
	case CURLE_BAD_CONTENT_ENCODING:
		return "truncated";
	default:
		break;
	}
	*retry_out = 0;
	switch (rc) {
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
		return "tls";
	case CURLE_FILESIZE_EXCEEDED:
		return "too_large";
	case CURLE_WRITE_ERROR:
		return too_large ? "too_large" : "error";
	case CURLE_TOO_MANY_REDIRECTS:
		return "redirects";
	default:
		return "error";
	}
}

static void set_error(struct http_response *res, const struct xfer *x, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* res->error = "METHOD URL: cause[ (after N attempts)]"; res->code set by the caller. */
static void set_error(struct http_response *res, const struct xfer *x, const char *fmt, ...)
{
	char url[2048], cause[512], msg[3072];
	const char *m = x->req->method ? x->req->method : x->req->body ? "POST" : "GET";
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cause, sizeof cause, fmt, ap);
	va_end(ap);
	http_redact_url(x->req->url, url, sizeof url);
	if (res->attempts > 1)
		snprintf(msg, sizeof msg, "%s %s: %s (after %d attempts)", m, url, cause, res->attempts);
	else
		snprintf(msg, sizeof msg, "%s %s: %s", m, url, cause);
	free(res->error);
	res->error = strdup(msg);
}

static void show_progress(struct http_client *c, struct batch *b, int force)
{
	double t = now_mono();
	uint64_t bytes = c->stats.bytes_received;

	if (!c->o.progress || (!force && t - c->last_progress < 0.1))
		return;
	c->last_progress = t;
	for (size_t i = 0; b && i < b->n; i++) {
		curl_off_t dl = 0;

		if (b->x[i].state == RUNNING &&
		    curl_easy_getinfo(b->x[i].easy, CURLINFO_SIZE_DOWNLOAD_T, &dl) == CURLE_OK && dl > 0)
			bytes += (uint64_t)dl;
	}
	fprintf(c->o.progress, "\r%s: %llu requests, %.1f MB", c->label,
	        (unsigned long long)c->stats.requests, (double)bytes / 1e6);
	fflush(c->o.progress);
	c->progress_shown = 1;
}

static int has_status(const struct http_request *r, long status)
{
	for (size_t i = 0; i < r->nretry_on; i++)
		if (r->retry_on[i] == status)
			return 1;
	return 0;
}

static void detach(struct http_client *c, struct batch *b, struct xfer *x)
{
	if (x->easy) {
		curl_multi_remove_handle(c->multi, x->easy);
		curl_easy_cleanup(x->easy);
		x->easy = NULL;
		b->running--;
		b->hosts[x->host].running--;
	}
	curl_slist_free_all(x->hdrs);
	x->hdrs = NULL;
}

/*
 * X has its outcome: records CODE ("" on success) and tells the request's
 * done hook. Returns -1 (reason in ERR) when the hook aborts the batch.
 */
static int finish(struct batch *b, struct xfer *x, const char *code, char *err, size_t errlen)
{
	char reason[256] = "";
	int r;

	x->state = DONE;
	x->res->elapsed = x->started > 0 ? now_mono() - x->started : 0;
	snprintf(x->res->code, sizeof x->res->code, "%s", code ? code : "");
	b->ndone++;
	if (!x->req->done)
		return 0;
	r = x->req->done(x->req->done_ud, x->index, x->res, reason, sizeof reason);
	if (r < 0)
		return util_fail(err, errlen, "%s", reason[0] ? reason : "aborted by the caller");
	if (r > 0 && !b->cancelling)
		b->cancel = 1;
	return 0;
}

/* Ends every request that has not finished with code "cancelled". */
static int cancel_rest(struct http_client *c, struct batch *b, char *err, size_t errlen)
{
	b->cancelling = 1;
	for (size_t i = 0; i < b->n; i++) {
		struct xfer *x = &b->x[i];

		if (x->state == DONE)
			continue;
		detach(c, b, x);
		free(x->body);
		x->body = NULL;
		x->body_cap = x->body_len = 0;
		set_error(x->res, x, "cancelled");
		if (finish(b, x, "cancelled", err, errlen) < 0)
			return -1;
	}
	return 0;
}

/*
 * Sets up and adds one attempt of X. Returns -1 (reason in ERR) on out of
 * memory or when the request's prepare hook aborts the batch.
 */
static int start(struct http_client *c, struct batch *b, struct xfer *x, char *err, size_t errlen)
{
	const struct http_request *r = x->req;
	const char *m = r->method ? r->method : r->body ? "POST" : "GET";
	const char *body = r->body;
	size_t body_len = r->body_len;
	double timeout = r->timeout > 0 ? r->timeout : c->o.timeout;
	char reason[256];
	CURL *e;

	if (r->prepare) {
		reason[0] = '\0';
		if (r->prepare(r->prepare_ud, x->index, x->res->attempts + 1, &body, &body_len,
		               reason, sizeof reason) < 0)
			return util_fail(err, errlen, "%s", reason[0] ? reason : "aborted by a prepare hook");
	}
	e = curl_easy_init();
	if (!e)
		return util_fail(err, errlen, "out of memory");
	for (size_t i = 0; i < r->nheaders; i++) {
		struct curl_slist *l = curl_slist_append(x->hdrs, r->headers[i]);

		if (!l) {
			curl_easy_cleanup(e);
			return util_fail(err, errlen, "out of memory");
		}
		x->hdrs = l;
	}
	x->body_len = x->hbuf_len = x->nh = 0;
	x->too_large = 0;
	x->errbuf[0] = '\0';
	curl_easy_setopt(e, CURLOPT_URL, r->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, x);
	curl_easy_setopt(e, CURLOPT_SHARE, c->share);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(e, CURLOPT_USERAGENT, c->user_agent);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(e, CURLOPT_MAXREDIRS, MAX_REDIRECTS);
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	/*
	 * Wait for a connection being set up rather than open another, when it
	 * may turn out to multiplex: only for https, where ALPN settles it during
	 * the handshake. Over http, curl would learn "HTTP/1.1" only from the
	 * first response, serialising the first two requests to a host.
	 */
	curl_easy_setopt(e, CURLOPT_PIPEWAIT, strncmp(r->url, "https:", 6) == 0 ? 1L : 0L);
	/* counts what is sent; VERBOSE only makes curl call it, nothing is printed */
	curl_easy_setopt(e, CURLOPT_DEBUGFUNCTION, on_debug);
	curl_easy_setopt(e, CURLOPT_DEBUGDATA, x);
	curl_easy_setopt(e, CURLOPT_VERBOSE, 1L);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");  /* all curl decodes */
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(c->o.connect_timeout * 1000));
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(timeout * 1000));
	if (c->o.stall_timeout > 0) {
		/* under 1 byte/s for the window: curl's clock starts with the attempt */
		curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)ceil(c->o.stall_timeout));
	}
	curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->o.max_body);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
	if (strcmp(m, "HEAD") == 0) {
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	} else if (body || strcmp(m, "POST") == 0) {
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? body_len : 0));
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, body ? body : "");
		if (strcmp(m, "POST") != 0)
			curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m);
		/* no 100-continue round trip (RFC 9110 §10.1.1); the body is small or wanted */
		{
			struct curl_slist *l = curl_slist_append(x->hdrs, "Expect:");

			if (!l) {
				curl_easy_cleanup(e);
				return util_fail(err, errlen, "out of memory");
			}
			x->hdrs = l;
		}
	} else {
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
		if (strcmp(m, "GET") != 0)
			curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m);
	}
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->hdrs);
	if (curl_multi_add_handle(c->multi, e) != CURLM_OK) {
		curl_easy_cleanup(e);
		return util_fail(err, errlen, "out of memory");
	}
	x->easy = e;
	x->state = RUNNING;
	x->attempt_started = now_mono();
	if (!x->res->attempts)
		x->started = x->attempt_started;
	x->res->attempts++;
	c->stats.requests++;
	b->running++;
	b->hosts[x->host].running++;
	return 0;
}

/* The delay before attempt number ATTEMPTS + 1: full jitter (AWS, 2015). */
static double backoff(struct http_client *c, int attempts)
{
	double cap = c->o.backoff * pow(2, attempts - 1);

	if (cap > c->o.max_backoff)
		cap = c->o.max_backoff;
	return cap * rand_unit(c);
}

/*
 * An attempt ended: account for it, move what it got into x->res, then
 * accept, fail or schedule a retry. Returns -1 when a check aborts the batch.
 */
static int ended(struct http_client *c, struct batch *b, struct xfer *x, CURLcode rc,
                 char *err, size_t errlen)
{
	struct http_response *res = x->res;
	const char *code = NULL, *ver;
	char reason[256], digits[16], *url = NULL;
	curl_off_t dl = 0;
	long hsize = 0, status = 0, hv = 0;
	int retry = 0, attempts = res->attempts, rejected = 0, at_once = 0;
	double ra = -1, delay;

	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(x->easy, CURLINFO_HEADER_SIZE, &hsize);
	curl_easy_getinfo(x->easy, CURLINFO_SIZE_DOWNLOAD_T, &dl);
	curl_easy_getinfo(x->easy, CURLINFO_HTTP_VERSION, &hv);
	curl_easy_getinfo(x->easy, CURLINFO_EFFECTIVE_URL, &url);
	c->stats.bytes_received += (uint64_t)(hsize > 0 ? hsize : 0) + (uint64_t)(dl > 0 ? dl : 0);
	ver = hv == CURL_HTTP_VERSION_1_0 ? "1.0" : hv == CURL_HTTP_VERSION_2_0 ? "2" :
	      hv == CURL_HTTP_VERSION_3 ? "3" : "1.1";

	/* the last attempt's response stands until the next one ends */
	http_response_clear(res);
	res->attempts = attempts;
	res->elapsed = now_mono() - x->started;
	res->status = status;
	res->http_version = ver;
	res->url = strdup(url ? url : x->req->url);
	if (!res->url || take_headers(x, res) < 0)
		return util_fail(err, errlen, "out of memory");
	res->body = x->body ? x->body : strdup("");
	res->body_len = x->body_len;
	x->body = NULL;
	x->body_cap = x->body_len = 0;
	if (!res->body)
		return util_fail(err, errlen, "out of memory");
	detach(c, b, x);

	if (rc != CURLE_OK) {
		double limit = x->req->timeout > 0 ? x->req->timeout : c->o.timeout;
		int early = now_mono() - x->attempt_started < limit - 0.05;

		code = classify(rc, x->too_large, &retry);
		/*
		 * curl reports the low-speed limit and the whole timeout alike: an
		 * attempt that ended before its whole timeout, or received nothing
		 * at all, stalled. A server that accepts and never answers is not a
		 * transient fault: one more try, not the retries.
		 */
		if (rc == CURLE_OPERATION_TIMEDOUT && c->o.stall_timeout > 0 && (early || hsize + dl == 0)) {
			code = "stalled";
			if (++x->stalls > 1)
				retry = 0;
			set_error(res, x, "nothing received for %g s", early ? c->o.stall_timeout : limit);
		} else if (strcmp(code, "too_large") == 0)
			set_error(res, x, "response larger than %zu bytes; refused", c->o.max_body);
		else
			set_error(res, x, "%s", x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc));
	} else if (status == 429 || (status >= 500 && status <= 599) || has_status(x->req, status)) {
		retry = 1;
		ra = retry_after(res);
		snprintf(digits, sizeof digits, "%ld", status);
		code = digits;
		set_error(res, x, "HTTP %ld", status);
	} else if (x->req->check) {
		int r = x->req->check(x->req->check_ud, x->index, res, reason, sizeof reason);

		if (r < 0)
			return util_fail(err, errlen, "%s", reason);
		if (r > 0) {
			retry = rejected = 1;
			code = "rejected";
			set_error(res, x, "rejected response (HTTP %ld): %s", status, reason);
		}
		if (r == 2) {
			at_once = 1;
			x->free_attempts++;
		}
	}
	if (!code)
		return finish(b, x, NULL, err, errlen);
	if (!retry || (!at_once && attempts - x->free_attempts > c->o.retries)) {
		char keep[16];

		/* a rejected response reports its status as the code */
		if (rejected)
			snprintf(keep, sizeof keep, "%ld", status);
		else
			snprintf(keep, sizeof keep, "%s", code);
		return finish(b, x, keep, err, errlen);
	}
	if (at_once)
		delay = 0;
	else if (ra >= 0)
		delay = ra < c->o.max_retry_after ? ra : c->o.max_retry_after;
	else
		delay = backoff(c, attempts - x->free_attempts);
	x->state = WAITING;
	x->ready_at = now_mono() + delay;
	c->stats.retries++;
	return 0;
}

static void free_batch(struct http_client *c, struct batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		detach(c, b, &b->x[i]);
		free(b->x[i].body);
		free(b->x[i].hbuf);
	}
	free(b->x);
	free(b->hosts);
}

static int setup(struct batch *b, struct http_client *c, const struct http_request *reqs,
                 size_t n, struct http_response *res, char *err, size_t errlen)
{
	b->x = calloc(n ? n : 1, sizeof *b->x);
	b->hosts = calloc(n ? n : 1, sizeof *b->hosts);
	b->n = n;
	if (!b->x || !b->hosts)
		return util_fail(err, errlen, "out of memory");
	for (size_t i = 0; i < n; i++) {
		struct xfer *x = &b->x[i];
		char key[256];
		size_t h;

		if (!reqs[i].url)
			return util_fail(err, errlen, "request %zu has no URL", i + 1);
		x->client = c;
		x->req = &reqs[i];
		x->res = &res[i];
		x->index = i;
		x->state = WAITING;
		host_key(reqs[i].url, key, sizeof key);
		for (h = 0; h < b->nhosts && strcmp(b->hosts[h].key, key) != 0; h++)
			;
		if (h == b->nhosts)
			snprintf(b->hosts[b->nhosts++].key, sizeof b->hosts->key, "%s", key);
		x->host = h;
	}
	return 0;
}

int http_perform(struct http_client *c, const struct http_request *reqs, size_t n,
                 struct http_response *res, char *err, size_t errlen)
{
	struct batch b = {0};
	int rc = -1;

	/* a nested batch would read the outer one's finished transfers */
	if (c->busy)
		return util_fail(err, errlen, "http client re-entered from a check");
	c->busy = 1;
	if (setup(&b, c, reqs, n, res, err, errlen) < 0)
		goto out;
	while (b.ndone < b.n) {
		double t = now_mono(), next = t + 1;
		int still, startable = 0, msgs;
		CURLMsg *msg;

		if (b.cancel || (c->o.stop && *c->o.stop)) {
			if (cancel_rest(c, &b, err, errlen) < 0)
				goto out;
			break;
		}

		/* in input order, so a batch is served first come, first served */
		for (size_t i = 0; i < b.n; i++) {
			struct xfer *x = &b.x[i];

			if (x->state != WAITING)
				continue;
			if (x->ready_at > t) {
				if (x->ready_at < next)
					next = x->ready_at;
				continue;
			}
			if (b.running >= c->o.max_total || b.hosts[x->host].running >= c->o.max_per_host)
				continue;
			if (start(c, &b, x, err, errlen) < 0)
				goto out;
		}
		if (curl_multi_perform(c->multi, &still) != CURLM_OK) {
			util_fail(err, errlen, "libcurl: multi perform failed");
			goto out;
		}
		while ((msg = curl_multi_info_read(c->multi, &msgs))) {
			struct xfer *x = NULL;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
			if (ended(c, &b, x, msg->data.result, err, errlen) < 0)
				goto out;
			startable = 1;  /* a slot is free, or a retry may be due at once */
		}
		show_progress(c, &b, 0);
		if (c->o.tick)
			c->o.tick(c->o.tick_ud);
		if (startable)
			continue;
		t = now_mono();
		curl_multi_poll(c->multi, NULL, 0, next > t ? (int)((next - t) * 1000) + 1 : 0, NULL);
	}
	show_progress(c, &b, 1);
	rc = 0;
out:
	free_batch(c, &b);
	c->busy = 0;
	return rc;
}
