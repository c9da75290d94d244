/*
 * bench-parse: split + parse + thread an mbox the way `listdigest report`
 * does before it knows which threads it will report: headers decoded
 * (Subject, From, Date, ids), bodies left undecoded, then JWZ threading.
 * A second pass also decodes every body (text, parts, segments), which the
 * pipeline does only for the reported threads. Not part of listdigest.
 *   build/bench-parse FILE [RUNS]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mbox.h"
#include "mime.h"
#include "thread.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* kB of a /proc/self/status field ("VmHWM", "RssAnon", ...). */
static long status_kb(const char *field)
{
	char line[256];
	size_t n = strlen(field);
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, field, n) && line[n] == ':')
			kb = strtol(line + n + 1, NULL, 10);
	fclose(f);
	return kb;
}

/* The ids threading needs, copied into one growing arena so each parsed
 * message can be freed at once (RSS stays flat whatever the archive size). */
struct arena {
	char *buf;
	size_t len, cap;
};

static size_t arena_put(struct arena *a, const char *s, size_t n)
{
	if (a->len + n > a->cap) {
		size_t cap = a->cap ? a->cap : 1 << 20;
		while (a->len + n > cap)
			cap *= 2;
		a->buf = realloc(a->buf, cap);
		if (!a->buf) {
			perror("realloc");
			exit(1);
		}
		a->cap = cap;
	}
	memcpy(a->buf + a->len, s, n);
	a->len += n;
	return a->len - n;
}

struct ids { /* offsets into the arena; fixed up to pointers before threading */
	size_t id, id_len, irt, irt_len, refs, n_refs;
	int has_date;
	int64_t date;
};

struct result {
	double seconds;
	size_t messages, threads, dups;
	long anon_kb;
};

static int run(const char *path, int bodies, struct result *r)
{
	char err[256];
	struct mbox *box;
	double t0 = now();

	if (mbox_open(path, NULL, &box, err, sizeof err) < 0) {
		fprintf(stderr, "bench-parse: %s: %s\n", path, err);
		return -1;
	}
	size_t n = mbox_count(box);
	struct ids *ids = calloc(n ? n : 1, sizeof *ids);
	struct arena a = {0};
	struct thread_id *refs_tmp = NULL;
	size_t refs_cap = 0;
	char *unq = NULL;
	size_t unq_cap = 0;

	for (size_t i = 0; i < n; i++) {
		const struct mbox_msg *mm = mbox_message(box, i);
		const char *raw = mm->raw;
		struct mime_msg *m;
		size_t len;

		if (bodies && mm->quoted) {
			if (mm->len > unq_cap) {
				unq_cap = mm->len;
				unq = realloc(unq, unq_cap);
			}
			len = mbox_unquote(box, i, unq);
			raw = unq;
		} else {
			len = mm->len;
		}
		if (mime_parse_mbox(raw, len, mm->from_line, mm->from_len,
		                    bodies ? 0 : MIME_HEADERS_ONLY, &m, err, sizeof err) < 0) {
			fprintf(stderr, "bench-parse: message %zu: %s\n", i + 1, err);
			return -1;
		}
		if (bodies && mime_decode_body(m, err, sizeof err) < 0) {
			fprintf(stderr, "bench-parse: message %zu: %s\n", i + 1, err);
			return -1;
		}
		const char *s;
		size_t sl;
		s = mime_message_id(m, &sl);
		ids[i].id = arena_put(&a, s, sl);
		ids[i].id_len = sl;
		s = mime_in_reply_to(m, &sl);
		if (s) {
			ids[i].irt = arena_put(&a, s, sl);
			ids[i].irt_len = sl;
		}
		ids[i].n_refs = mime_reference_count(m);
		ids[i].refs = a.len;
		for (size_t k = 0; k < ids[i].n_refs; k++) {
			s = mime_reference(m, k, &sl);
			arena_put(&a, (const char *)&sl, sizeof sl);
			arena_put(&a, s, sl);
		}
		ids[i].has_date = mime_date(m, &ids[i].date, NULL, NULL) != MIME_DATE_NONE;
		(void)mime_subject(m, &sl);
		(void)mime_from_addr(m, &sl);
		mime_free(m);
	}

	/* Arena offsets become pointers now that the arena no longer moves. */
	struct thread_item *items = calloc(n ? n : 1, sizeof *items);
	size_t total_refs = 0;
	for (size_t i = 0; i < n; i++)
		total_refs += ids[i].n_refs + 1;
	refs_cap = total_refs;
	refs_tmp = calloc(refs_cap ? refs_cap : 1, sizeof *refs_tmp);
	size_t used = 0;
	for (size_t i = 0; i < n; i++) {
		items[i].id = (struct thread_id){a.buf + ids[i].id, ids[i].id_len};
		items[i].references = refs_tmp + used;
		size_t off = ids[i].refs;
		for (size_t k = 0; k < ids[i].n_refs; k++) {
			size_t sl;
			memcpy(&sl, a.buf + off, sizeof sl);
			refs_tmp[used++] = (struct thread_id){a.buf + off + sizeof sl, sl};
			off += sizeof sl + sl;
		}
		items[i].n_references = ids[i].n_refs;
		if (ids[i].irt_len) {
			refs_tmp[used] = (struct thread_id){a.buf + ids[i].irt, ids[i].irt_len};
			items[i].in_reply_to = refs_tmp + used++;
			items[i].n_in_reply_to = 1;
		}
		items[i].has_date = ids[i].has_date;
		items[i].date = ids[i].date;
	}
	struct thread_forest *forest;
	if (thread_build(items, n, &forest, err, sizeof err) < 0) {
		fprintf(stderr, "bench-parse: threading: %s\n", err);
		return -1;
	}
	r->seconds = now() - t0;
	r->messages = n;
	r->threads = forest->n_threads;
	r->dups = forest->n_dups;
	r->anon_kb = status_kb("RssAnon");

	thread_free(forest);
	free(items);
	free(refs_tmp);
	free(ids);
	free(a.buf);
	free(unq);
	mbox_close(box);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: bench-parse FILE [RUNS]\n");
		return 2;
	}
	int runs = argc > 2 ? atoi(argv[2]) : 3;
	FILE *f = fopen(argv[1], "rb");
	if (!f) {
		perror(argv[1]);
		return 1;
	}
	fseek(f, 0, SEEK_END);
	double mb = ftell(f) / 1e6;
	fclose(f);

	static const char *const names[] = {"parse+thread (headers)", "parse+thread (+bodies)"};
	for (int bodies = 0; bodies <= 1; bodies++) {
		struct result best = {0}, r;
		long anon = 0;
		for (int i = 0; i < runs; i++) {
			if (run(argv[1], bodies, &r) < 0)
				return 1;
			if (r.anon_kb > anon)
				anon = r.anon_kb;
			if (i == 0 || r.seconds < best.seconds)
				best = r;
		}
		printf("%-22s %8.3f s  %8.1f MB/s  %9.0f msgs/s  %zu msgs, %zu threads, %zu dup ids; "
		       "anon RSS %.1f MB\n",
		       names[bodies], best.seconds, mb / best.seconds, best.messages / best.seconds,
		       best.messages, best.threads, best.dups, anon / 1024.0);
	}
	printf("peak RSS %.1f MB, of which the mapped file is %.1f MB (best of %d runs each)\n",
	       status_kb("VmHWM") / 1024.0, mb, runs);
	return 0;
}
