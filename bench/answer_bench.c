/*
 * bench-answer: what reading one model answer costs in C: the
 * chat-completions envelope, <think> blocks skipped, the JSON object found
 * in the content (llm_read_response, as the client runs it on each answer).
 * The answers are the lines of FILE (bench/validate writes them). Not part
 * of listdigest.
 *   build/bench-answer FILE [ROUNDS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "llm.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	char **lines = NULL, *line = NULL, why[256];
	size_t n = 0, cap = 0;
	ssize_t len;
	int rounds = argc > 2 ? atoi(argv[2]) : 20;
	FILE *f;
	double t0, t;

	if (argc < 2 || rounds < 1) {
		fprintf(stderr, "usage: bench-answer FILE [ROUNDS]\n");
		return 2;
	}
	f = fopen(argv[1], "r");
	if (!f) {
		perror(argv[1]);
		return 1;
	}
	while ((len = getline(&line, &cap, f)) > 0) {
		char **l = realloc(lines, (n + 1) * sizeof *l);

		if (!l)
			return 1;
		lines = l;
		lines[n++] = strndup(line, (size_t)len);
	}
	free(line);
	fclose(f);
	t0 = now();
	for (int r = 0; r < rounds; r++)
		for (size_t i = 0; i < n; i++) {
			struct llm_result res;

			memset(&res, 0, sizeof res);
			if (llm_read_response(lines[i], strlen(lines[i]), i % 3 == 2 ? LLM_TEXT : LLM_JSON_SCHEMA,
			                      "sk-bench-key", &res, why, sizeof why) != LLM_READ_OK || !res.json) {
				fprintf(stderr, "bench-answer: answer %zu not read: %s\n", i + 1, why);
				return 1;
			}
			llm_result_clear(&res);
		}
	t = now() - t0;
	printf("C read (envelope, <think> skipped, object found): %.1f us per answer (%zu answers x %d)\n",
	       t / ((double)n * rounds) * 1e6, n, rounds);
	for (size_t i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
	return 0;
}
