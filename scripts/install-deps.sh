#!/bin/sh
# Installs the Debian 12 packages listdigest builds and runs with and, with
# --test, those its test suite needs too (busted, a real public-inbox server,
# python3 for the suite's fault-injecting HTTP servers, the sqlite3
# command the store specs inspect files with, valgrind for make test-valgrind,
# libgmime-3.0-dev for the differential test against GMime).
# Does nothing when they are all present; installs them when run as root;
# otherwise names what is missing and fails.
set -eu

PKGS="gcc libc6-dev make pkg-config lua5.4 liblua5.4-dev lua-lpeg
      libcurl4-openssl-dev libxml2-dev zlib1g-dev libsqlite3-dev libjansson-dev"
if [ "${1:-}" = --test ]; then
	PKGS="$PKGS lua-busted public-inbox git python3 python3-aiosmtpd sqlite3 libxml2-utils
	      chromium fonts-wqy-zenhei ca-certificates valgrind libgmime-3.0-dev"
fi

missing=""
for p in $PKGS; do
	st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$st" = installed ] || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing Debian packages:$missing" >&2
	echo "install-deps: run 'apt-get install$missing' as root, or 'make deps' as root" >&2
	exit 1
fi
echo "install-deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
