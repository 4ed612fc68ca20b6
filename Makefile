# vj: build, test, install.  One non-recursive Makefile.
#   make            build bin/vj-*
#   make test       build and run every test through prove
#   make asan       the same tests under AddressSanitizer + UBSan
#   make demo       the whole pipeline offline on examples/
#   make install    PREFIX=/usr/local DESTDIR=
#   make uninstall  the same PREFIX and DESTDIR: removes what install put

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
DOCDIR  ?= $(PREFIX)/share/doc/vj
COMPDIR ?= $(PREFIX)/share/bash-completion/completions
DATADIR ?= $(PREFIX)/share/vj
PKG_CONFIG ?= pkg-config

PKGS    = libcurl jansson libarchive libzstd libcrypto libjpeg libpng libwebp zlib
VERSION = 0.1.0

CC      ?= cc
CFLAGS  ?= -O2 -g
WARN    = -Wall -Wextra -Wno-unused-parameter
LAYERS  = base core content providers stages cmd
CPPFLAGS += -D_GNU_SOURCE -DVJ_VERSION='"$(VERSION)"' -Isrc
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
ALL_CFLAGS = -std=c11 $(WARN) $(CFLAGS) $(PKG_CFLAGS) $(CPPFLAGS) $(EXTRA_CFLAGS)
LDLIBS  = $(PKG_LIBS) -lgif -lm -lpthread

# Every src/LAYER/*.c except the commands' mains is the library.
CMDS    = vj-ingest vj-analyze vj-generate vj-pack vj-status vj-report
CMD_SRC = $(CMDS:%=src/cmd/%.c)
LIB_SRC = $(filter-out $(CMD_SRC),$(wildcard $(LAYERS:%=src/%/*.c)))
HDRS    = $(wildcard $(LAYERS:%=src/%/*.h))
LIB_OBJ = $(LIB_SRC:.c=.o)
BINS    = $(CMDS:%=bin/%)

UNIT_SRC = $(wildcard tests/unit/test_*.c)
UNIT_BIN = $(UNIT_SRC:.c=)
TOOL_SRC = $(wildcard tests/fake/*.c)
TOOL_BIN = tests/fake/vj-fake
# Test fixtures: tests/tools/NAME.c -> tests/tools/NAME, linked with the library.
FIXT_SRC = $(wildcard tests/tools/*.c)
FIXT_BIN = $(FIXT_SRC:.c=)
MKIMG    = scripts/vj-mkimages

all: $(BINS)

src/%.o: src/%.c $(HDRS)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

src/libvj.a: $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $(LIB_OBJ)

bin/%: src/cmd/%.o src/libvj.a
	@mkdir -p bin
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< src/libvj.a $(LDLIBS)

tests/unit/%: tests/unit/%.c tests/unit/tap.h tests/unit/util.h src/libvj.a
	$(CC) $(ALL_CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< src/libvj.a $(LDLIBS)

tests/tools/%: tests/tools/%.c src/libvj.a
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< src/libvj.a $(LDLIBS)

$(TOOL_BIN): $(TOOL_SRC) $(wildcard tests/fake/*.h)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(TOOL_SRC) $(LDLIBS)

$(MKIMG): scripts/vj-mkimages.c
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(LDLIBS)

check-deps:
	@$(PKG_CONFIG) --exists $(PKGS) || { echo "missing build dependencies; run scripts/install-deps" >&2; \
	  $(PKG_CONFIG) --print-errors --exists $(PKGS); exit 1; }

# The I/O fault shim is built without the sanitizers: it is preloaded into
# programs that may or may not carry them.
SHIM = tests/shim/vjfault.so
$(SHIM): tests/shim/vjfault.c
	$(CC) -O2 -g -Wall -Wextra -shared -fPIC -o $@ $< -ldl

# T narrows the run: make test T='tests/t05*.t' (unit tests run only when
# T is left at its default).
T = $(UNIT_BIN) tests/t*.t
test: check-deps all $(UNIT_BIN) $(TOOL_BIN) $(FIXT_BIN) $(MKIMG) $(SHIM)
	sh scripts/check-layers
	prove -f $(T)

# The same tests under the sanitizers, built in place after a clean.
asan:
	$(MAKE) clean
	$(MAKE) test EXTRA_CFLAGS='-fsanitize=address,undefined,float-cast-overflow -fno-omit-frame-pointer -fno-sanitize-recover=all' CFLAGS='-O1 -g'
	$(MAKE) clean

# The demo first installs missing build dependencies (scripts/install-deps,
# through sudo when not root), then builds in a fresh make that sees the
# flags pkg-config gives after the install.
# giflib has no pkg-config file: look for its header too.
deps:
	@{ $(PKG_CONFIG) --exists $(PKGS) 2>/dev/null && \
	   echo '#include <gif_lib.h>' | $(CC) -E - >/dev/null 2>&1; } || sh scripts/install-deps

demo: deps
	@$(MAKE) --no-print-directory all $(MKIMG)
	sh scripts/demo

# Fuzzers (tests/fuzz/fuzz_*.c, libFuzzer entry points) need clang; each is
# linked with the library's sources built by clang with the sanitizers.
# `make fuzz-run` runs each for FUZZ_TIME seconds on its seed corpus.
CLANG     ?= clang
FUZZ_SRC   = $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN   = $(FUZZ_SRC:.c=)
FUZZ_TIME ?= 60
FUZZ_FLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -std=c11 \
	$(PKG_CFLAGS) -D_GNU_SOURCE -DVJ_VERSION='"$(VERSION)"' -Isrc

tests/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(LIB_SRC) $(HDRS)
	$(CLANG) $(FUZZ_FLAGS) -o $@ $< $(LIB_SRC) $(LDLIBS)

fuzz: check-deps
	@command -v $(CLANG) >/dev/null 2>&1 || { echo "make fuzz: $(CLANG) is not installed (scripts/install-deps installs it)" >&2; exit 1; }
	$(MAKE) $(FUZZ_BIN)

fuzz-run: fuzz
	@for f in $(FUZZ_BIN); do \
	  n=$${f##*/fuzz_}; mkdir -p tests/fuzz/work/$$n; \
	  echo "fuzz: $$n for $(FUZZ_TIME) s"; \
	  $$f -max_total_time=$(FUZZ_TIME) -max_len=65536 -print_final_stats=0 \
	    -artifact_prefix=tests/fuzz/work/$$n- tests/fuzz/work/$$n tests/fuzz/corpus/$$n \
	    2>tests/fuzz/work/$$n.log || { tail -n 40 tests/fuzz/work/$$n.log; exit 1; }; \
	done; echo "fuzz: all ran clean"

# The programs look for the model table in ../share/vj beside their own
# directory (docs/prices.md): keep BINDIR and DATADIR under one PREFIX.
# What install puts, all from CMDS: each command, its man page, a completion
# link named after it to the one completion file; and the docs (README.md and
# docs/*.md, which messages and man pages refer to).  Install notes in
# $(DOCDIR)/installed-dirs the directories it had to create, so that
# uninstall removes those (when empty) and leaves the ones that were there.
MAN1      = $(CMDS:%=docs/%.1)
DOCS      = README.md $(wildcard docs/*.md)
INST_DIRS = $(BINDIR) $(MANDIR)/man1 $(COMPDIR) $(DOCDIR) $(DATADIR)
DIRLIST   = $(DESTDIR)$(DOCDIR)/installed-dirs

install: all
	@set -e; new=; \
	for d in $(INST_DIRS); do \
	  while [ -n "$$d" ] && [ ! -d "$(DESTDIR)$$d" ]; do new="$$new $$d"; d=$${d%/*}; done; \
	done; \
	mkdir -p $(INST_DIRS:%=$(DESTDIR)%); \
	{ echo "# made by vj's make install; make uninstall removes them when empty"; \
	  { [ ! -f $(DIRLIST) ] || grep -v '^#' $(DIRLIST); for d in $$new; do echo "$$d"; done; } | sort -u; \
	} >$(DIRLIST).tmp; mv $(DIRLIST).tmp $(DIRLIST)
	install -m 755 $(BINS) $(DESTDIR)$(BINDIR)/
	install -m 644 $(MAN1) $(DESTDIR)$(MANDIR)/man1/
	install -m 644 $(DOCS) $(DESTDIR)$(DOCDIR)/
	install -m 644 data/models.txt data/batch.txt $(DESTDIR)$(DATADIR)/
	install -m 644 scripts/vj-completion.bash $(DESTDIR)$(COMPDIR)/vj
	for c in $(CMDS); do ln -sf vj $(DESTDIR)$(COMPDIR)/$$c; done

uninstall:
	rm -f $(CMDS:%=$(DESTDIR)$(BINDIR)/%) $(MAN1:docs/%=$(DESTDIR)$(MANDIR)/man1/%)
	rm -f $(addprefix $(DESTDIR)$(DOCDIR)/,$(notdir $(DOCS))) $(DESTDIR)$(COMPDIR)/vj
	rm -f $(DESTDIR)$(DATADIR)/models.txt $(DESTDIR)$(DATADIR)/batch.txt
	for c in $(CMDS); do \
	  l=$(DESTDIR)$(COMPDIR)/$$c; [ "$$(readlink $$l)" != vj ] || rm -f $$l; \
	done
	@if [ -f $(DIRLIST) ]; then \
	  dirs=$$(grep -v '^#' $(DIRLIST) | sort -r); rm -f $(DIRLIST); \
	  for d in $$dirs; do rmdir "$(DESTDIR)$$d" 2>/dev/null || true; done; \
	fi

clean:
	rm -f src/*/*.o src/libvj.a $(BINS) $(UNIT_BIN) $(TOOL_BIN) $(FIXT_BIN) $(MKIMG) $(SHIM) $(FUZZ_BIN)

.PHONY: all test asan demo deps install uninstall clean check-deps fuzz fuzz-run
.SECONDARY: $(LIB_OBJ) $(CMD_SRC:.c=.o)
