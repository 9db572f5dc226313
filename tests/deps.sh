#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Make sure everything the build and the tests need is installed (Debian 12).
# Quiet when all is there.  As root, installs what is missing; otherwise
# prints the apt-get line to run and exits 1.
#
#   tests/deps.sh          everything `make check` and .ci/run use
#   tests/deps.sh demo     only what `make demo` needs (build, VM, scene)

set -eu
profile=${1:-all}
case "$profile" in all|demo) ;; *) echo "deps.sh: unknown profile '$profile' (all, demo)" >&2; exit 2 ;; esac

# package  probe (a command that succeeds when it is usable even if the
# package itself is not registered with dpkg, e.g. built from source)
deps=(
	"qemu-system-x86|command -v qemu-system-x86_64"
	"linux-image-amd64|ls /boot/vmlinuz-*"
	"linux-headers-amd64|ls -d /lib/modules/*/build/include"
	# Debian 12's second kernel series (bookworm-security): `make check`
	# runs the VM suite on each kernel, `make check-packaging` DKMS across
	# the upgrade to it
	"linux-image-6.12-amd64|ls /boot/vmlinuz-6.12.*"
	"linux-headers-6.12-amd64|ls -d /lib/modules/6.12.*/build/include"
	# two more configurations the module must build against (DKMS test)
	"linux-headers-cloud-amd64|ls -d /lib/modules/*-cloud-amd64/build/include"
	"linux-headers-rt-amd64|ls -d /lib/modules/*-rt-amd64/build/include"
	# the dynamic busybox package cannot go into the VM's initramfs
	"busybox-static|ldd \"\$(command -v busybox)\" 2>&1 | grep -q 'not a dynamic'"
	"kmod|command -v modprobe && command -v insmod"
	"iptables|command -v iptables"
	"libxtables-dev|pkg-config --exists xtables"
	"iproute2|ip -V | grep -q iproute2"
	"tcpdump|command -v tcpdump"
	"python3|command -v python3"
	"pkg-config|command -v pkg-config"
	"gcc|command -v gcc"
	"make|command -v make"
	"libc6-dev|test -e /usr/include/stdio.h"
	"cpio|command -v cpio"
	"clang|command -v clang"
	"sparse|command -v sparse"
	# checkpatch.pl and its data files (tests/lint.sh)
	"linux-source-6.1|ls /usr/src/linux-source-6.1.tar.*"
	"iperf3|command -v iperf3"
	"nftables|command -v nft"
	"cppcheck|command -v cppcheck"
	# the IKE daemons of tests/net/80-strongswan.sh and 81-libreswan.sh
	# (libreswan itself conflicts with strongSwan: ike/install-libreswan.sh)
	"strongswan-charon|test -x /usr/lib/ipsec/charon"
	"strongswan-swanctl|command -v swanctl"
	"libnss3-tools|command -v certutil"
	# packaging (make deb, make check-packaging)
	"dkms|command -v dkms"
	"debhelper|command -v dh"
	"dh-dkms|test -e /usr/share/perl5/Debian/Debhelper/Sequence/dkms.pm"
	"dpkg-dev|command -v dpkg-buildpackage"
	"lintian|command -v lintian"
	"man-db|command -v man"
	"groff|command -v groff"
	# the sanitizer kernel (make check-sanitized)
	"flex|command -v flex"
	"bison|command -v bison"
	"bc|command -v bc"
	"libelf-dev|test -e /usr/include/gelf.h"
	"libssl-dev|test -e /usr/include/openssl/ssl.h"
	"xz-utils|command -v xz"
)

# `make demo`: build the module and plugin, boot the VM, run the scene
demo_pkgs=" qemu-system-x86 linux-image-amd64 linux-headers-amd64 busybox-static kmod iptables libxtables-dev iproute2 python3 pkg-config gcc make libc6-dev cpio "
if [ "$profile" = demo ]; then
	d=()
	for e in "${deps[@]}"; do
		case "$demo_pkgs" in *" ${e%%|*} "*) d+=("$e") ;; esac
	done
	deps=("${d[@]}")
fi

installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed'
}

find_missing() {
	local d pkg probe
	missing=()
	for d in "${deps[@]}"; do
		pkg=${d%%|*} probe=${d#*|}
		installed "$pkg" && continue
		bash -c "$probe" >/dev/null 2>&1 && continue
		missing+=("$pkg")
	done
	# The kernel image and its headers must be the same ABI: the module is
	# built against the headers and loaded into that image.  Install the
	# two meta packages together.
	case " ${missing[*]-} " in
	*" linux-image-amd64 "*|*" linux-headers-amd64 "*)
		local m=() p
		for p in "${missing[@]}"; do
			case "$p" in linux-image-amd64|linux-headers-amd64) ;; *) m+=("$p") ;; esac
		done
		missing=("${m[@]}" linux-image-amd64 linux-headers-amd64)
		;;
	esac
	# the same for the 6.12 pair
	case " ${missing[*]-} " in
	*" linux-image-6.12-amd64 "*|*" linux-headers-6.12-amd64 "*)
		local m2=() p2
		for p2 in "${missing[@]}"; do
			case "$p2" in linux-image-6.12-amd64|linux-headers-6.12-amd64) ;; *) m2+=("$p2") ;; esac
		done
		missing=("${m2[@]}" linux-image-6.12-amd64 linux-headers-6.12-amd64)
		;;
	esac
}

# libreswan beside strongSwan, unpacked into a private prefix (quiet when
# done; it runs apt-get itself when it is not)
libreswan() {
	[ "$profile" = all ] || return 0
	if [ "$(id -u)" != 0 ]; then
		bash "$(dirname "$0")/net/ike/install-libreswan.sh" 2>/dev/null ||
			echo "deps.sh: as root run: tests/net/ike/install-libreswan.sh" >&2
		return 0
	fi
	bash "$(dirname "$0")/net/ike/install-libreswan.sh"
}

# The sanitizer kernel's source (make check-sanitized): linux-source-7.3
# from Debian's trixie-backports, that one package alone.  The suite is
# never added to the system's apt sources: tests/sanitized/fetch-source.sh
# fetches the package with a private apt configuration (apt-get download)
# and unpacks it with dpkg-deb -x into /opt/ipsecmss-linux-source-7.3, so
# nothing else can come from that suite.  Quiet when already done.
if [ "$profile" = all ]; then
	bash "$(dirname "$0")/sanitized/fetch-source.sh" || [ "$(id -u)" != 0 ]
fi

find_missing
if [ ${#missing[@]} -eq 0 ]; then
	libreswan
	exit 0
fi

if [ "$(id -u)" != 0 ]; then
	echo "deps.sh: missing: ${missing[*]}" >&2
	echo "deps.sh: as root run: apt-get install --no-install-recommends ${missing[*]}" >&2
	exit 1
fi

echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null

find_missing
if [ ${#missing[@]} -gt 0 ]; then
	echo "deps.sh: still missing after apt-get install: ${missing[*]}" >&2
	exit 1
fi
libreswan
