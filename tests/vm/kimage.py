#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Kernel image helpers for tests/vm/run.sh.

  kimage.py release IMAGE   print the kernel release (bzImage or ELF vmlinux)
  kimage.py pvh IMAGE OUT   write the uncompressed ELF vmlinux inside a
                            bzImage to OUT if it has a PVH entry point;
                            exit 1 (and write nothing) otherwise

Why: under TCG, decompressing Debian's xz bzImage takes about 5 s of every
boot; QEMU can start an ELF vmlinux directly at its PVH entry instead.
"""

import gzip
import io
import lzma
import os
import struct
import sys

ELF_MAGIC = b'\x7fELF'
XEN_ELFNOTE_PHYS32_ENTRY = 18


def release(path):
    with open(path, 'rb') as f:
        data = f.read()
    if data[:4] != ELF_MAGIC:
        # bzImage: setup header field kernel_version (offset 0x20e) points
        # at the version string, relative to 0x200.
        off = struct.unpack_from('<H', data, 0x20e)[0] + 0x200
        return data[off:off + 256].split(b' ')[0].decode()
    i = data.find(b'Linux version ')
    if i < 0:
        return ''
    return data[i + 14:i + 270].split(b' ')[0].decode()


def decompress(data):
    """The ELF vmlinux inside a bzImage, or None if we cannot unpack it."""
    for magic, unpack in ((b'\xfd7zXZ\x00', lambda b: lzma.LZMADecompressor().decompress(b)),
                          (b'\x1f\x8b\x08\x00', lambda b: gzip.GzipFile(fileobj=io.BytesIO(b)).read())):
        start = 0
        while True:
            i = data.find(magic, start)
            if i < 0:
                break
            try:
                out = unpack(data[i:])
            except (lzma.LZMAError, OSError, EOFError):
                out = b''
            if out[:4] == ELF_MAGIC:
                return out
            start = i + 1
    return None


def has_pvh_note(elf):
    """True if a 64-bit little-endian ELF has the Xen PHYS32_ENTRY note."""
    if elf[:4] != ELF_MAGIC or elf[4] != 2 or elf[5] != 1:
        return False
    phoff, = struct.unpack_from('<Q', elf, 0x20)
    phentsize, phnum = struct.unpack_from('<HH', elf, 0x36)
    for n in range(phnum):
        p_type, _, p_offset, _, _, p_filesz = struct.unpack_from(
            '<IIQQQQ', elf, phoff + n * phentsize)
        if p_type != 4:  # PT_NOTE
            continue
        pos, end = p_offset, p_offset + p_filesz
        while pos + 12 <= end:
            namesz, descsz, ntype = struct.unpack_from('<III', elf, pos)
            name = elf[pos + 12:pos + 12 + namesz].rstrip(b'\0')
            if name == b'Xen' and ntype == XEN_ELFNOTE_PHYS32_ENTRY:
                return True
            pos += 12 + ((namesz + 3) & ~3) + ((descsz + 3) & ~3)
    return False


def main(argv):
    if len(argv) == 3 and argv[1] == 'release':
        print(release(argv[2]))
        return 0
    if len(argv) == 4 and argv[1] == 'pvh':
        with open(argv[2], 'rb') as f:
            data = f.read()
        elf = data if data[:4] == ELF_MAGIC else decompress(data)
        if elf is None or not has_pvh_note(elf):
            return 1
        tmp = argv[3] + '.tmp%d' % os.getpid()
        with open(tmp, 'wb') as f:
            f.write(elf)
        os.replace(tmp, argv[3])
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv))
