# SPDX-License-Identifier: GPL-2.0
#
# IPSECMSS: xt_ipsecmss.ko (the kernel target) and libxt_IPSECMSS.so (the
# iptables plugin).  `make` builds both, `make check` runs every test,
# `make demo` shows the black hole and its fix in a throwaway VM.

KVER    ?= $(shell uname -r)
# The running kernel's headers by default; on a machine that has none
# (a container, a test box) fall back to the newest installed kernel that
# has headers and an image under /boot, then to the newest headers alone
# (Debian's generic flavour before cloud and rt ones).
IMG_KDIRS := $(foreach v,$(patsubst /boot/vmlinuz-%,%,$(wildcard /boot/vmlinuz-*)), \
                       $(wildcard /lib/modules/$(v)/build))
KDIR    ?= $(firstword $(wildcard /lib/modules/$(KVER)/build) \
                       $(lastword $(sort $(filter-out %-cloud-amd64/build %-rt-amd64/build,$(IMG_KDIRS)))) \
                       $(lastword $(sort $(filter-out %-cloud-amd64/build %-rt-amd64/build, \
                                                      $(wildcard /lib/modules/*/build)))) \
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

# .kdir names the tree the module was last built against: another KDIR
# rebuilds it (kbuild alone would keep objects of another kernel).
ifneq ($(KDIR),)
$(shell [ "$$(cat .kdir 2>/dev/null)" = "$(KDIR)" ] || echo "$(KDIR)" >.kdir)
endif

xt_ipsecmss.ko: xt_ipsecmss_main.c ipsecmss_path.c $(wildcard include/*.h) \
                Kbuild scripts/ipsecmss-probe.sh .kdir
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

# The seed's PMTUD black hole and its fix, in a throwaway VM: one table.
demo:
	@tests/deps.sh demo
	@tests/demo/demo.sh

check-unit: plugin
	@tests/check.sh unit

check-vm: all
	@tests/check.sh vm

clean:
	-$(MAKE) -C $(KDIR) M=$(CURDIR) clean 2>/dev/null
	rm -f libxt_IPSECMSS.so
	rm -rf tests/build .kdir

print-kdir:
	@echo $(KDIR)

# libFuzzer over the pure core; FUZZ_SECONDS bounds the run
FUZZ_SECONDS ?= 300
fuzz:
	@tests/fuzz/run.sh $(FUZZ_SECONDS)

# IPSECMSS against TCPMSS and no rule: SYN rate, bulk TCP, instructions per
# SYN, MSS efficiency over real SAs; in a VM booted 5 times (BENCH_BOOTS),
# ~19 min on an idle host; writes
# tests/bench/RESULTS.md and efficiency.svg, ends with five "ratio" lines
# (set-mss, auto, bulk, auto-nat, auto-plain; targets in report.py)
bench:
	@tests/bench/run.sh

# sparse, checkpatch --strict, cppcheck
lint:
	@tests/lint.sh

# --- installation (packaging) ---
#
#   make install / uninstall   the module (+ depmod), the plugin, the man page;
#                              DESTDIR honoured (no depmod into a DESTDIR)
#   make dkms-install          the module's source under /usr/src, registered
#   make dkms-uninstall        with DKMS, built and installed for DKMS_KVER
#   make deb                   xt-ipsecmss-dkms and xtables-ipsecmss .debs,
#                              built from a clean copy, into tests/build/deb/
#   make check-packaging       host checks (lintian, contents, man page, DKMS
#                              build), then tests/packaging/vm-*.sh in the VM

PKG_NAME    := xt-ipsecmss
PKG_VERSION := $(shell sed -n 's/^.define IPSECMSS_VERSION "\([^"]*\)"$$/\1/p' xt_ipsecmss_main.c)
# The kernel the module is built for is the one KDIR holds headers of, which
# is not the running one where `uname -r` has no headers (a test box): install
# for that one, never for `uname -r` by accident.
MOD_KVER    = $(or $(shell sed -n 's/^.define UTS_RELEASE "\(.*\)"$$/\1/p' \
                  $(KDIR)/include/generated/utsrelease.h 2>/dev/null),$(KVER))
MODDIR      ?= /lib/modules/$(MOD_KVER)/updates
DKMS_KVER   ?= $(MOD_KVER)
DKMS_SRC    := /usr/src/$(PKG_NAME)-$(PKG_VERSION)
DKMS_MV     := -m $(PKG_NAME) -v $(PKG_VERSION)
INSTALLED   = $(DESTDIR)$(MODDIR)/xt_ipsecmss.ko \
              $(DESTDIR)$(XTLIBDIR)/libxt_IPSECMSS.so \
              $(DESTDIR)$(MANDIR)/man8/ipsecmss.8

.PHONY: deb check-packaging

install: all
	@built=$$(modinfo -F vermagic xt_ipsecmss.ko | cut -d' ' -f1); \
	if [ "$$built" != "$(MOD_KVER)" ]; then \
		echo "make install: xt_ipsecmss.ko is built for '$$built', KDIR ($(KDIR)) is $(MOD_KVER): make clean first" >&2; \
		exit 1; \
	fi
	@if [ -z "$(DESTDIR)" ]; then \
		for f in $(INSTALLED); do \
			if p=$$(dpkg-query -S "$$f" 2>/dev/null); then \
				echo "make install: $$f belongs to package $${p%%:*}; remove that first" >&2; \
				exit 1; \
			fi; \
		done; \
	fi
	install -D -m 0644 xt_ipsecmss.ko $(DESTDIR)$(MODDIR)/xt_ipsecmss.ko
	install -D -m 0644 libxt_IPSECMSS.so $(DESTDIR)$(XTLIBDIR)/libxt_IPSECMSS.so
	install -D -m 0644 ipsecmss.8 $(DESTDIR)$(MANDIR)/man8/ipsecmss.8
	$(if $(DESTDIR),@echo "DESTDIR set: not running depmod $(MOD_KVER)",depmod -a $(MOD_KVER))

uninstall:
	rm -f $(INSTALLED)
	-@rmdir $(DESTDIR)$(MODDIR) 2>/dev/null || true
	$(if $(DESTDIR),@echo "DESTDIR set: not running depmod $(MOD_KVER)",depmod -a $(MOD_KVER))

# dkms.conf builds with kbuild against DKMS's ${kernel_source_dir}: only the
# kbuild sources go under /usr/src, not this Makefile.
dkms-install:
	@command -v dkms >/dev/null || { echo "make dkms-install: dkms is not installed (apt-get install dkms)" >&2; exit 1; }
	@grep -q '^PACKAGE_VERSION="$(PKG_VERSION)"$$' dkms.conf || { echo "make dkms-install: dkms.conf's PACKAGE_VERSION is not $(PKG_VERSION) (xt_ipsecmss_main.c)" >&2; exit 1; }
	@if p=$$(dpkg-query -S $(DKMS_SRC) 2>/dev/null); then \
		echo "make dkms-install: $(DKMS_SRC) belongs to package $${p%%:*}; remove that first" >&2; exit 1; \
	fi
	@test -d /lib/modules/$(DKMS_KVER)/build || { echo "make dkms-install: no headers for $(DKMS_KVER) (install linux-headers-$(DKMS_KVER), or pass DKMS_KVER=)" >&2; exit 1; }
	if [ -n "$$(dkms status $(DKMS_MV))" ]; then dkms remove $(DKMS_MV) --all; fi
	rm -rf $(DKMS_SRC)
	install -d $(DKMS_SRC)/include $(DKMS_SRC)/scripts
	install -m 0644 dkms.conf Kbuild xt_ipsecmss_main.c ipsecmss_path.c $(DKMS_SRC)/
	install -m 0644 $(wildcard include/*.h) $(DKMS_SRC)/include/
	install -m 0755 scripts/ipsecmss-probe.sh $(DKMS_SRC)/scripts/
	dkms add $(DKMS_MV)
	dkms build $(DKMS_MV) -k $(DKMS_KVER)
	dkms install $(DKMS_MV) -k $(DKMS_KVER)

dkms-uninstall:
	@command -v dkms >/dev/null || { echo "make dkms-uninstall: dkms is not installed" >&2; exit 1; }
	@if p=$$(dpkg-query -S $(DKMS_SRC) 2>/dev/null); then \
		echo "make dkms-uninstall: $(DKMS_SRC) belongs to package $${p%%:*}; use dpkg -r" >&2; exit 1; \
	fi
	if [ -n "$$(dkms status $(DKMS_MV))" ]; then dkms remove $(DKMS_MV) --all; fi
	rm -rf $(DKMS_SRC)

deb:
	@tests/packaging/build-deb.sh

check-packaging:
	@tests/packaging/check.sh

# --- sanitizer kernel ---
#
#   make sanitized-kernel  build (once; cached in $IPSECMSS_CACHE, default
#                          /var/cache/ipsecmss/sanitized) Debian's 7.3 with
#                          tests/sanitized/kernel.config: KASAN, UBSAN,
#                          kmemleak, lockdep, DEBUG_ATOMIC_SLEEP
#   make check-sanitized   that kernel, the module built against it, and the
#                          packet-path suites run on it in the VM; any
#                          sanitizer report or module leak fails
.PHONY: sanitized-kernel check-sanitized

sanitized-kernel:
	@tests/sanitized/build.sh

check-sanitized: plugin
	@tests/sanitized/check.sh
