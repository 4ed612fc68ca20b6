# vj: build, test, install.  One non-recursive Makefile.
#   make            build bin/vj-*
#   make test       build and run every test through prove
#   make asan       the same tests under AddressSanitizer + UBSan
#   make demo       the whole pipeline offline on examples/
#   make install    PREFIX=/usr/local DESTDIR=

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
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

tests/unit/%: tests/unit/%.c tests/unit/tap.h src/libvj.a
	$(CC) $(ALL_CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< src/libvj.a $(LDLIBS)

tests/tools/%: tests/tools/%.c src/libvj.a
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< src/libvj.a $(LDLIBS)

$(TOOL_BIN): $(TOOL_SRC)
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

test: check-deps all $(UNIT_BIN) $(TOOL_BIN) $(FIXT_BIN) $(MKIMG) $(SHIM)
	prove -f $(UNIT_BIN) tests/t*.t

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

install: all
	mkdir -p $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	for b in $(BINS); do install -m 755 $$b $(DESTDIR)$(BINDIR)/; done
	for m in docs/*.1; do install -m 644 $$m $(DESTDIR)$(MANDIR)/man1/; done

clean:
	rm -f src/*/*.o src/libvj.a $(BINS) $(UNIT_BIN) $(TOOL_BIN) $(FIXT_BIN) $(MKIMG) $(SHIM)

.PHONY: all test asan demo deps install clean check-deps
.SECONDARY: $(LIB_OBJ) $(CMD_SRC:.c=.o)
