# SPDX-License-Identifier: GPL-2.0
#
# IPSECMSS: xt_ipsecmss.ko (the kernel target) and libxt_IPSECMSS.so (the
# iptables plugin).  `make` builds both, `make check` runs every test,
# `make demo` shows the black hole and its fix in a throwaway VM.

KVER    ?= $(shell uname -r)
# The running kernel's headers by default; on a machine that has none
# (a container, a test box) fall back to the newest installed ones.
KDIR    ?= $(firstword $(wildcard /lib/modules/$(KVER)/build) \
                       $(lastword $(sort $(wildcard /lib/modules/*/build))))
KBUILD_FLAGS ?= W=1

CC      ?= cc
CFLAGS  ?= -O2 -g
XT_CFLAGS := -std=c11 -Wall -Wextra -Werror -fPIC -Iinclude \
             $(shell pkg-config --cflags xtables 2>/dev/null)
XTLIBDIR ?= $(shell pkg-config --variable=xtlibdir xtables 2>/dev/null || \
                    echo /usr/lib/$(shell $(CC) -dumpmachine)/xtables)
DESTDIR ?=
PREFIX  ?= /usr
MANDIR  ?= $(PREFIX)/share/man

HEADERS := include/xt_ipsecmss.h include/ipsecmss_core.h

.PHONY: all module plugin clean check check-unit check-vm deps demo fuzz \
        bench lint install uninstall dkms-install dkms-uninstall

all: module plugin

module: xt_ipsecmss.ko

xt_ipsecmss.ko: xt_ipsecmss.c $(HEADERS) Kbuild
	@test -n "$(KDIR)" || { echo "no kernel headers found: install linux-headers-$(KVER) or pass KDIR=" >&2; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) $(KBUILD_FLAGS) modules

plugin: libxt_IPSECMSS.so

libxt_IPSECMSS.so: libxt_ipsecmss.c $(HEADERS)
	$(CC) $(CFLAGS) $(XT_CFLAGS) -shared -o $@ $<

# Everything a fresh Debian machine needs, installed when run as root.
deps:
	@tests/deps.sh

check: deps
	@tests/check.sh

check-unit: plugin
	@tests/check.sh unit

check-vm: all
	@tests/check.sh vm

clean:
	-$(MAKE) -C $(KDIR) M=$(CURDIR) clean 2>/dev/null
	rm -f libxt_IPSECMSS.so
	rm -rf tests/build

print-kdir:
	@echo $(KDIR)

# sparse, checkpatch --strict, cppcheck
lint:
	@tests/lint.sh
