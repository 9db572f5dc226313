#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build (once) the sanitizer test kernel: Debian's linux-source-7.3 (from
# trixie-backports, fetched by tests/sanitized/fetch-source.sh) with
# x86_64_defconfig + kvm_guest.config + tests/sanitized/kernel.config
# (KASAN, UBSAN, kmemleak, lockdep, everything the VM tests need built in),
# and prepare the tree for external modules.
#
#   tests/sanitized/build.sh [--config-only] [--print-tree]
#
# The tree lives outside the checkout, in
# ${IPSECMSS_CACHE:-/var/cache/ipsecmss}/sanitized/, and is rebuilt only when
# this script, kernel.config, check-config.sh or the source package change
# (their hash is stored next to the tree, in linux-source-7.3.built.key).
# The build runs under `nice -n 19` with -j2 (SANITIZED_JOBS overrides):
# the machines are shared.
#
#   --config-only   write and check the .config, build nothing
#   --print-tree    print the tree's path and exit (nothing is built)
#
# On success the last line is "sanitized kernel: <tree>/arch/x86/boot/bzImage".

set -eu

here=$(cd "$(dirname "$0")" && pwd)
frag="$here/kernel.config"
checker="$here/check-config.sh"

config_only=0 print_tree=0
for a in "$@"; do
	case "$a" in
	--config-only) config_only=1 ;;
	--print-tree) print_tree=1 ;;
	-h|--help) sed -n '4,19s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) echo "build.sh: unknown argument $a" >&2; exit 2 ;;
	esac
done

cache=${IPSECMSS_CACHE:-/var/cache/ipsecmss}
if ! mkdir -p "$cache" 2>/dev/null || [ ! -w "$cache" ]; then
	cache="${XDG_CACHE_HOME:-$HOME/.cache}/ipsecmss"
fi
dir="$cache/sanitized"
src=linux-source-7.3
tree="$dir/$src"
bzimage="$tree/arch/x86/boot/bzImage"

if [ "$print_tree" = 1 ]; then
	echo "$tree"
	exit 0
fi
mkdir -p "$dir"

say() { echo "sanitized: $*" >&2; }
die() { echo "sanitized: $*" >&2; exit 1; }

# The source package, unpacked into a private prefix (as root: fetched now
# if it is not there yet).
tarball=$("$here/fetch-source.sh" --print) || die "no $src tarball (tests/sanitized/fetch-source.sh failed)"
[ -f "$tarball" ] || die "no $tarball"
srcver=$(cat "$(dirname "$(dirname "$(dirname "$tarball")")")/version" 2>/dev/null || echo unknown)

# What the kernel build needs beyond `make check`'s own dependencies.
need=()
for p in "flex|flex" "bison|bison" "bc|bc" "libelf-dev|/usr/include/gelf.h" \
	 "libssl-dev|/usr/include/openssl/ssl.h" "gcc|gcc" "make|make" \
	 "xz-utils|xz" "cpio|cpio" "perl|perl"; do
	probe=${p#*|}
	case "$probe" in
	/*) [ -e "$probe" ] || need+=("${p%%|*}") ;;
	*) command -v "$probe" >/dev/null || need+=("${p%%|*}") ;;
	esac
done
if [ ${#need[@]} -gt 0 ]; then
	if [ "$(id -u)" != 0 ]; then
		die "missing ${need[*]}: as root run apt-get install --no-install-recommends ${need[*]}"
	fi
	say "installing ${need[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" </dev/null >&2 ||
		{ apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" </dev/null >&2; } ||
		die "apt-get install ${need[*]} failed"
fi

# One build at a time per cache (another checkout, another engineer).
exec 9>"$dir/.lock"
if ! flock -n 9; then
	say "another build holds $dir/.lock; waiting"
	flock 9
fi

# The key of the source: the package's version and the tarball itself.
src_key=$( { echo "$srcver"; stat -L -c '%n %s %Y' "$tarball"; } | sha256sum | cut -c1-16)
key=$( { cat "$frag" "$0" "$checker"; echo "$src_key"; } | sha256sum | cut -c1-16)

if [ "$config_only" = 0 ] && [ -s "$bzimage" ] && [ -s "$tree/Module.symvers" ] &&
   [ "$(cat "$tree.built.key" 2>/dev/null)" = "$key" ]; then
	say "up to date (key $key)"
	echo "sanitized kernel: $bzimage"
	exit 0
fi

t0=$(date +%s)

# The source: unpacked once per tarball.
if [ "$(cat "$tree.source.key" 2>/dev/null)" != "$src_key" ] || [ ! -f "$tree/Makefile" ]; then
	say "unpacking $tarball ($src $srcver) into $dir"
	rm -f "$tree.built.key" "$tree.source.key"
	rm -rf "$tree" "$dir/.unpack"
	# a tree of an earlier source (linux-source-6.1): gigabytes, unused
	for old in "$dir"/linux-source-*/; do
		old=${old%/}
		[ "$old" = "$tree" ] || rm -rf "$old" "$old".*.key "$dir/built.key" "$dir/source.key"
	done
	mkdir -p "$dir/.unpack"
	tar -xf "$tarball" -C "$dir/.unpack"
	[ -f "$dir/.unpack/$src/Makefile" ] || die "$tarball has no $src/Makefile"
	mv "$dir/.unpack/$src" "$tree"
	rmdir "$dir/.unpack"
	echo "$src_key" >"$tree.source.key"
fi

# The configuration, from scratch every time: defconfig, the KVM guest
# fragment, ours; then Kconfig resolves dependencies and we check that
# nothing we asked for was dropped.
rm -f "$tree.built.key"
make -s -C "$tree" x86_64_defconfig >&2
"$tree/scripts/kconfig/merge_config.sh" -m -O "$tree" "$tree/.config" \
	"$tree/kernel/configs/kvm_guest.config" "$frag" >"$dir/merge.log" 2>&1 ||
	{ cat "$dir/merge.log" >&2; die "merge_config.sh failed"; }
make -s -C "$tree" olddefconfig >&2
# What defconfig still has as modules (NAT, LOG, mark, ...) is built in too:
# the guest has no /lib/modules for this kernel.
make -s -C "$tree" mod2yesconfig >&2
"$checker" "$frag" "$tree/.config" >&2 || die "the kernel configuration lacks requested options (see above)"
if [ "$config_only" = 1 ]; then
	echo "sanitized config: $tree/.config"
	exit 0
fi

# The kernel, its modules (so Module.symvers covers everything) and what
# external modules need (modules_prepare).
jobs=${SANITIZED_JOBS:-2}
say "building in $tree (nice -n 19 make -j$jobs: about 15 minutes on an idle 2-core machine, much longer on a busy one; log: $dir/build.log)"
if ! nice -n 19 make -C "$tree" -j"$jobs" all modules_prepare >"$dir/build.log" 2>&1; then
	tail -n 40 "$dir/build.log" | sed 's/^/    | /' >&2
	die "kernel build failed (full log: $dir/build.log)"
fi
[ -s "$bzimage" ] || die "no $bzimage after the build"
echo "$key" >"$tree.built.key"
t1=$(date +%s)
say "built $(make -s -C "$tree" kernelrelease) in $((t1 - t0))s ($(( (t1 - t0) / 60 ))m$(( (t1 - t0) % 60 ))s)"
echo "sanitized kernel: $bzimage"
