/*
 * date: RFC 5322 date-time parsing (see date.h). Tokenises first (comments
 * dropped, RFC 5322 §3.2.2), then reads day / month / year / time / zone in
 * the orders real mailers use. Not locale-aware: names are English.
 */
#include "date.h"

#include <string.h>
#include <strings.h>

int64_t date_from_civil(int y, int mon, int d, int h, int min, int sec)
{
	/* Howard Hinnant's days_from_civil. */
	int64_t yy = y - (mon <= 2);
	int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
	int64_t yoe = yy - era * 400;
	int64_t mp = (mon + 9) % 12;
	int64_t doy = (153 * mp + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	int64_t days = era * 146097 + doe - 719468;
	return days * 86400 + h * 3600 + min * 60 + sec;
}

enum tok_kind { T_NUM, T_WORD, T_TIME, T_ZONE };

struct tok {
	enum tok_kind kind;
	long num;          /* T_NUM value; T_ZONE minutes */
	int digits;        /* T_NUM digit count */
	int h, m, s;       /* T_TIME */
	const char *w;     /* T_WORD */
	size_t wlen;
};

#define MAX_TOK 16

static int is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static int is_digit(char c) { return c >= '0' && c <= '9'; }

static int tokenize(const char *s, const char *e, struct tok *t, int max)
{
	int n = 0;
	while (s < e && n < max) {
		char c = *s;
		if (c == '(') {    /* RFC 5322 §3.2.2 comments nest */
			int depth = 0;
			while (s < e) {
				if (*s == '\\' && s + 1 < e)
					s++;
				else if (*s == '(')
					depth++;
				else if (*s == ')' && --depth == 0) {
					s++;
					break;
				}
				s++;
			}
			continue;
		}
		if (is_digit(c)) {
			const char *b = s;
			long v = 0;
			while (s < e && is_digit(*s) && s - b < 9)
				v = v * 10 + (*s++ - '0');
			while (s < e && is_digit(*s))
				s++;
			if (s < e && *s == ':') {
				/* h:m[:s] with blanks tolerated around ':' */
				struct tok *k = &t[n++];
				k->kind = T_TIME;
				k->h = (int)v;
				k->m = k->s = 0;
				s++;
				long m = 0;
				int dm = 0;
				while (s < e && is_digit(*s) && dm < 3)
					m = m * 10 + (*s++ - '0'), dm++;
				if (!dm)
					return -1;
				k->m = (int)m;
				if (s < e && *s == ':') {
					long sec = 0;
					int ds = 0;
					s++;
					while (s < e && is_digit(*s) && ds < 3)
						sec = sec * 10 + (*s++ - '0'), ds++;
					k->s = (int)sec;
				}
				if (s < e && *s == '.')   /* fractional seconds */
					for (s++; s < e && is_digit(*s); s++)
						;
				continue;
			}
			t[n].kind = T_NUM;
			t[n].num = v;
			t[n].digits = (int)(s - b);
			n++;
			continue;
		}
		if ((c == '+' || c == '-') && s + 1 < e && is_digit(s[1])) {
			const char *b = ++s;
			long v = 0;
			while (s < e && is_digit(*s) && s - b < 4)
				v = v * 10 + (*s++ - '0');
			int nd = (int)(s - b);
			if (nd <= 2)
				v *= 100;
			if (s < e && *s == ':' && nd <= 2) {   /* +05:30 */
				long mm = 0;
				for (s++; s < e && is_digit(*s) && mm < 60; s++)
					mm = mm * 10 + (*s - '0');
				v += mm;
			}
			while (s < e && is_digit(*s))
				s++;
			long mins = (v / 100) * 60 + v % 100;
			t[n].kind = T_ZONE;
			t[n].num = c == '-' ? -mins : mins;
			n++;
			continue;
		}
		if (is_alpha(c)) {
			const char *b = s;
			while (s < e && is_alpha(*s))
				s++;
			t[n].kind = T_WORD;
			t[n].w = b;
			t[n].wlen = (size_t)(s - b);
			n++;
			continue;
		}
		s++;   /* blanks, commas, dots, stray punctuation */
	}
	return n;
}

static int month_of(const char *w, size_t n)
{
	static const char names[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	if (n < 3)
		return 0;
	for (int i = 0; i < 12; i++)
		if (!strncasecmp(w, names + 3 * i, 3)) {
			/* "Jan" or "January", not "Janx" */
			static const char *const full[] = { "january", "february", "march",
				"april", "may", "june", "july", "august", "september",
				"october", "november", "december" };
			if (n == 3 || (n <= strlen(full[i]) && !strncasecmp(w, full[i], n)) ||
			    (i == 8 && n == 4 && !strncasecmp(w, "sept", 4)))
				return i + 1;
		}
	return 0;
}

static int weekday(const char *w, size_t n)
{
	static const char *const full[] = { "monday", "tuesday", "wednesday", "thursday",
		"friday", "saturday", "sunday" };
	if (n < 3)
		return 0;
	for (int i = 0; i < 7; i++)
		if (n <= strlen(full[i]) && !strncasecmp(w, full[i], n))
			return 1;
	return 0;
}

/* Zone names: RFC 5322 §4.3 (UT GMT EST EDT CST CDT MST MDT PST PDT and the
 * military letters, which §4.3 says to read as -0000 because RFC 822 had
 * their signs reversed) plus a few that mailers in the wild write. */
static int zone_of(const char *w, size_t n, int *mins)
{
	static const struct { const char *name; int mins; } z[] = {
		{ "UT", 0 }, { "UTC", 0 }, { "GMT", 0 }, { "Z", 0 }, { "WET", 0 },
		{ "EST", -300 }, { "EDT", -240 }, { "CST", -360 }, { "CDT", -300 },
		{ "MST", -420 }, { "MDT", -360 }, { "PST", -480 }, { "PDT", -420 },
		{ "AKST", -540 }, { "AKDT", -480 }, { "HST", -600 },
		{ "BST", 60 }, { "IST", 330 }, { "CET", 60 }, { "CEST", 120 },
		{ "MET", 60 }, { "MEST", 120 }, { "EET", 120 }, { "EEST", 180 },
		{ "WEST", 60 }, { "MSK", 180 }, { "JST", 540 }, { "KST", 540 },
		{ "HKT", 480 }, { "SGT", 480 }, { "AEST", 600 }, { "AEDT", 660 },
		{ "ACST", 570 }, { "AWST", 480 }, { "NZST", 720 }, { "NZDT", 780 },
		{ NULL, 0 } };
	if (n == 1 && is_alpha(w[0]) && w[0] != 'j' && w[0] != 'J') {
		*mins = 0;
		return 1;
	}
	for (int i = 0; z[i].name; i++) {
		size_t k = strlen(z[i].name);
		/* "EST5EDT" (POSIX TZ strings) is read by its first name. */
		if (n >= k && !strncasecmp(w, z[i].name, k) && (n == k || n >= k + 3)) {
			*mins = z[i].mins;
			return 1;
		}
	}
	return 0;
}

int date_parse(const char *s, size_t n, int64_t *t_out, int *tz_out, int *has_tz_out)
{
	if (!s)
		return -1;
	const char *e = s + n;
	/* Received: "... ; date" (RFC 5322 §3.6.7): the date follows the last ';'. */
	for (const char *p = e; p > s; p--)
		if (p[-1] == ';') {
			s = p;
			break;
		}
	struct tok t[MAX_TOK];
	int nt = tokenize(s, e, t, MAX_TOK);
	if (nt <= 0)
		return -1;
	int i = 0;
	/* The day of the week carries nothing (RFC 5322 §3.3 makes it optional);
	 * a leading word that is not a month is skipped even when it is no
	 * weekday: mangled ones ("on, 05 Dec 2011") are common in real mail. */
	if (t[i].kind == T_WORD && (weekday(t[i].w, t[i].wlen) || !month_of(t[i].w, t[i].wlen)))
		i++;
	/* Up to three date items before the time: day, month (name or number),
	 * year in the orders "d m y", "m d" (asctime, year after the time). */
	int nums[3], ndig[3], nn = 0, month = 0, time_i = -1;
	for (; i < nt; i++) {
		if (t[i].kind == T_TIME) {
			time_i = i;
			break;
		}
		if (t[i].kind == T_NUM) {
			if (nn == 3)
				return -1;
			nums[nn] = (int)t[i].num;
			ndig[nn++] = t[i].digits;
			continue;
		}
		if (t[i].kind == T_WORD) {
			int m = month_of(t[i].w, t[i].wlen);
			if (m && !month) {
				month = m;
				continue;
			}
			if (weekday(t[i].w, t[i].wlen))
				continue;
		}
		return -1;
	}
	if (time_i < 0)
		return -1;
	const struct tok *tm = &t[time_i];
	i = time_i + 1;
	/* asctime: "Jan  1 00:00:00 1970" puts the year after the time. */
	if (i < nt && t[i].kind == T_NUM && t[i].digits == 4 &&
	    nn + (month ? 1 : 0) == 2) {
		if (nn == 3)
			return -1;
		nums[nn] = (int)t[i].num;
		ndig[nn++] = 4;
		i++;
	}
	int day, year, ydig;
	if (month) {
		if (nn != 2)
			return -1;
		if (ndig[0] >= 3) {          /* "2003 Jul 1" */
			year = nums[0], ydig = ndig[0], day = nums[1];
		} else {
			day = nums[0], year = nums[1], ydig = ndig[1];
		}
	} else {
		if (nn != 3)
			return -1;
		if (ndig[0] == 4) {          /* "2021 01 04" */
			year = nums[0], ydig = 4, month = nums[1], day = nums[2];
		} else {
			day = nums[0], month = nums[1], year = nums[2], ydig = ndig[2];
		}
	}
	/* RFC 5322 §4.3: 2-digit years < 50 are 20xx, others 19xx; 3-digit
	 * years add 1900. */
	if (ydig <= 2)
		year += year < 50 ? 2000 : 1900;
	else if (ydig == 3)
		year += 1900;
	if (month < 1 || month > 12 || day < 1 || day > 31 || year < 1000 || year > 9999)
		return -1;
	if (tm->h > 24 || tm->m > 59 || tm->s > 60)
		return -1;
	int tz = 0, has_tz = 0;
	if (i < nt) {
		if (t[i].kind == T_ZONE) {
			tz = (int)t[i].num, has_tz = 1;
		} else if (t[i].kind == T_NUM && t[i].digits == 4) {
			/* a numeric zone without its sign: read as east of UTC */
			tz = (int)(t[i].num / 100 * 60 + t[i].num % 100), has_tz = 1;
		} else if (t[i].kind == T_WORD && zone_of(t[i].w, t[i].wlen, &tz)) {
			has_tz = 1;
			/* "GMT+0200" / "UTC-5" */
			if (i + 1 < nt && t[i + 1].kind == T_ZONE && tz == 0)
				tz = (int)t[i + 1].num;
		}
	}
	if (tz > 18 * 60 || tz < -18 * 60)
		tz = 0, has_tz = 0;
	*t_out = date_from_civil(year, month, day, tm->h, tm->m, tm->s) - (int64_t)tz * 60;
	*tz_out = tz;
	*has_tz_out = has_tz;
	return 0;
}
