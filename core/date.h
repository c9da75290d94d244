/*
 * date: RFC 5322 §3.3 date-time parsing into a UTC instant, including the
 * obsolete forms of §4.3 that real lists carry (two-digit years, missing
 * seconds or weekday, named and military zones, comments) and the asctime
 * form of mbox From_ lines. Not a formatter and not a general date library.
 */
#ifndef LISTDIGEST_DATE_H
#define LISTDIGEST_DATE_H

#include <stddef.h>
#include <stdint.h>

/* Parses s[0..n) (a Date header value, the part after ";" of a Received
 * header, or an asctime string "Thu Jan  1 00:00:00 1970"). On success
 * returns 0 and sets *t_out to seconds since the epoch (UTC), *tz_out to the
 * zone as written in minutes east of UTC, and *has_tz_out to 0 when no zone
 * was written (then the time is taken as UTC). Returns -1 when no date can
 * be read; the out-parameters are then untouched. */
int date_parse(const char *s, size_t n, int64_t *t_out, int *tz_out, int *has_tz_out);

/* Seconds since the epoch of a proleptic Gregorian UTC date-time. */
int64_t date_from_civil(int y, int mon, int d, int h, int min, int sec);

#endif
