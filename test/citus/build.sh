#!/usr/bin/env bash
# test/citus/build.sh — build Citus from ../shared/citus into the PostgreSQL
# 15 in use, once: the built tree is cached, so a later run only checks that
# the installed citus.so is the cached one (and reinstalls it if not).
#
#   bash test/citus/build.sh        (as root; sourced helpers from test/lib.sh)
#
# Exit status 77 when the Citus source is not there (the suite is skipped).
# COMPENSATION_CITUS_DIR: where the tarball and patch are (default
# ../shared/citus next to this checkout); COMPENSATION_CITUS_CACHE: where the
# built tree is kept (default /var/cache/compensation-citus).
set -euo pipefail
cd "$(dirname "$0")/../.."
source test/lib.sh

CITUS_VERSION=13.2.2
citus_dir=${COMPENSATION_CITUS_DIR:-$COMP_ROOT/../shared/citus}
cache=${COMPENSATION_CITUS_CACHE:-/var/cache/compensation-citus}
tarball=$citus_dir/citus-$CITUS_VERSION.tar.gz
patchfile=$citus_dir/pg15.20-headers.patch

if [ ! -f "$tarball" ]; then
	echo "Citus source not found: $tarball"
	exit 77
fi

# The key of a build: the source, the patch and the PostgreSQL it is built for.
key=$( { sha256sum "$tarball"; [ -f "$patchfile" ] && sha256sum "$patchfile";
		 "$PG_BINDIR/pg_config" --version; } | sha256sum | cut -c1-16)
tree=$cache/citus-$CITUS_VERSION-$key
pkglibdir=$("$PG_BINDIR/pg_config" --pkglibdir)

if [ -f "$tree/.built" ] && [ -f "$pkglibdir/citus.so" ] &&
	cmp -s "$tree/src/backend/distributed/citus.so" "$pkglibdir/citus.so"; then
	comp_log "Citus $CITUS_VERSION already built and installed ($tree)"
	exit 0
fi

if [ ! -f "$tree/.built" ]; then
	comp_install_deps liblz4-dev libzstd-dev libkrb5-dev
	comp_log "building Citus $CITUS_VERSION in $tree (a few minutes, once)"
	# configure records absolute paths: build where the tree is kept; a
	# half-built tree (no .built) is started again from the tarball
	rm -rf "$tree"
	mkdir -p "$tree"
	tar xzf "$tarball" -C "$tree" --strip-components=1
	(
		cd "$tree"
		[ -f "$patchfile" ] && patch -s -p1 < "$patchfile"
		./configure -q --without-libcurl PG_CONFIG="$PG_BINDIR/pg_config" >/dev/null
		make -s -j"$(nproc)" with_llvm=no >/dev/null 2>&1 ||
			{ make -j1 with_llvm=no 2>&1 | tail -30; exit 1; }
	)
	touch "$tree/.built"
fi
comp_log "installing Citus $CITUS_VERSION from $tree"
make -s -C "$tree" install with_llvm=no >/dev/null
