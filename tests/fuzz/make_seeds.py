#!/usr/bin/env python3
"""Writes the seed corpora of tests/fuzz/corpus/<target>/ (deterministic; rerun after changing
a format). Op fuzzers get random bytes (FuzzedDataProvider turns any bytes into a case);
the format fuzzers get valid files and near misses."""
import os
import random
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def fnv1a64(data, h=0xcbf29ce484222325):
    for b in data:
        h ^= b
        h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def write(target, name, data):
    folder = os.path.join(HERE, "corpus", target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def cache_entry(key, payload, size=None, checksum=None, version=1, magic=b"XHCLPRG\0"):
    header = magic + struct.pack("<IIQQQ", version, 0, key,
                                 len(payload) if size is None else size,
                                 fnv1a64(payload) if checksum is None else checksum)
    return header + payload


def main():
    rng = random.Random(16)
    for target in ("fuzz_gemm", "fuzz_attention"):
        for i in range(16):
            write(target, "random-%02d" % i, bytes(rng.randrange(256) for _ in range(rng.randrange(24, 160))))

    key = 0x0123456789ABCDEF
    payload = b"poclbin\0" + bytes(rng.randrange(256) for _ in range(200))
    write("fuzz_cache_entry", "valid", cache_entry(key, payload))
    write("fuzz_cache_entry", "valid-other-key", cache_entry(0x1122334455667788, payload))
    write("fuzz_cache_entry", "huge-size-field", cache_entry(key, payload, size=1 << 31))
    write("fuzz_cache_entry", "bad-checksum", cache_entry(key, payload, checksum=1))
    write("fuzz_cache_entry", "version-2", cache_entry(key, payload, version=2))
    write("fuzz_cache_entry", "truncated", cache_entry(key, payload)[:100])
    write("fuzz_cache_entry", "header-only", cache_entry(key, b"")[:40])

    shipped = open(os.path.join(ROOT, "backends/opencl/tuning/opencl_tuning_db.txt"), "rb").read()
    limits = bytes([12, 1, 255, 1])  # the fuzzer reads device limits from the first 4 bytes
    write("fuzz_tuning_db", "shipped", shipped)
    write("fuzz_tuning_db", "small", b"xinhe-tuning-db 1\nDev A|1.0|f32|gemm|MWI=2,NWI=8,VW=4\n"
          b"Dev A|*|f16|attention|QWI=2,BKV=8,WG=4,DV=8\n")
    write("fuzz_tuning_db", "local-tiles", b"xinhe-tuning-db 1\nGPU|*|f32|gemm|MWI=16,NWI=64,VW=4,"
          b"KWI=1,MWG=4096,NWG=1024,KWG=64,USE_LOCAL=1,PACK=0\n")
    write("fuzz_tuning_db", "big-work-group", b"xinhe-tuning-db 1\nCPU|*|f32|attention|QWI=8,BKV=64,WG=4096,DV=8\n")
    write("fuzz_tuning_db", "malformed", b"xinhe-tuning-db 1\nDev|1|f32|gemm|MWI=two\n")

    # Plugin tables: first byte even; then [name length][name][table].
    ptr = 8
    table_size = 8 + 4 + 4 + 8 + 29 * ptr  # struct_size, abi, name, 29 entries (ABI 1.0)
    table = struct.pack("<QIIQ", table_size, 1, 0, 0) + b"".join(
        struct.pack("<Q", 0x1000 + i) for i in range(29))
    write("fuzz_plugin_table", "valid-table", b"\x00" + bytes([4]) + b"fake" + table)
    write("fuzz_plugin_table", "header-only", b"\x00" + bytes([4]) + b"fake" + table[:24])
    write("fuzz_plugin_table", "tiny", b"\x00" + bytes([0]) + struct.pack("<Q", 8))
    write("fuzz_plugin_table", "abi2", b"\x00" + bytes([3]) + b"abc" + struct.pack("<QII", table_size, 2, 0) + table[16:])
    write("fuzz_plugin_table", "bad-name", b"\x00" + bytes([6]) + b"\x1b[31mx" + table)
    # ELF images: first byte odd. A minimal x86-64 shared object header with PT_LOAD and
    # PT_DYNAMIC inside a 4 KiB file, and the same truncated.
    ehdr = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8) + struct.pack(
        "<HHIQQQIHHHHHH", 3, 62, 1, 0, 64, 0, 0, 64, 56, 2, 64, 0, 0)
    load = struct.pack("<IIQQQQQQ", 1, 5, 0, 0, 0, 4096, 4096, 4096)
    dynamic = struct.pack("<IIQQQQQQ", 2, 6, 2048, 2048, 2048, 256, 256, 8)
    image = ehdr + load + dynamic
    image += bytes(4096 - len(image))
    write("fuzz_plugin_table", "elf-valid", b"\x01" + image)
    write("fuzz_plugin_table", "elf-truncated", b"\x01" + image[:1024])
    return 0


if __name__ == "__main__":
    sys.exit(main())
