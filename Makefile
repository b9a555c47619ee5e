# compensation — PGXS build
#
# The install script compensation--$(EXTVERSION).sql is built from the
# numbered parts in src/sql/ (one part per concern, concatenated in name
# order).  Upgrade scripts live in src/sql/upgrade/ and are picked up by a
# wildcard, so shipping a new version means: bump default_version in
# compensation.control, add src/sql/upgrade/compensation--OLD--NEW.sql
# (even an empty one) and a line in CHANGELOG.md.

EXTENSION = compensation
EXTVERSION = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" compensation.control)

MODULE_big = compensation
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))

SQL_PARTS = $(sort $(wildcard src/sql/[0-9]*.sql))
DATA_built = $(EXTENSION)--$(EXTVERSION).sql
DATA = $(wildcard src/sql/upgrade/$(EXTENSION)--*--*.sql)

# pg_regress: sql/*.sql against expected/*.out, in this order (setup first).
REGRESS = setup quarter currency budget roles spec_errors evaluate holdout apply notify compile effect reviews reviews_registered decisions simulate incremental budgets analysis
REGRESS_OPTS = --inputdir=.

# isolation tester: test/isolation/specs/*.spec against test/isolation/expected/*.out
ISOLATION = $(patsubst test/isolation/specs/%.spec,%,$(sort $(wildcard test/isolation/specs/*.spec)))
ISOLATION_OPTS = --inputdir=test/isolation --outputdir=test/isolation/results

PG_CPPFLAGS = -I$(srcdir)/src
PG_CFLAGS = -Wall -Wextra -Wno-unused-parameter -Wno-sign-compare \
	-Wno-missing-field-initializers -Werror $(COMPENSATION_EXTRA_CFLAGS)
SHLIB_LINK = $(COMPENSATION_EXTRA_LDFLAGS)

EXTRA_CLEAN = test/isolation/results

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
ifeq ($(PGXS),)
$(error pg_config not found: run "bash test/run" (it installs the build dependencies) or install postgresql-server-dev-15)
endif
include $(PGXS)

# PGXS does not track header dependencies: every object depends on them all.
$(OBJS): $(wildcard src/*.h)

$(EXTENSION)--$(EXTVERSION).sql: $(SQL_PARTS) compensation.control
	{ printf -- '-- %s--%s.sql: built from src/sql/ by the Makefile; do not edit.\n\n' $(EXTENSION) $(EXTVERSION); \
	  printf '%s\n\n' '\echo Use "CREATE EXTENSION $(EXTENSION)" to load this file. \quit'; \
	  for part in $(SQL_PARTS); do printf -- '-- ---- %s ----\n' "$$part"; sed '/^\\echo Use /d' "$$part"; echo; done; } > $@

.PHONY: test demo bench
test:
	bash test/run
demo:
	bash examples/demo
bench:
	bash bench/run
