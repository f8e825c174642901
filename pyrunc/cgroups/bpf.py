"""cgroup v2 device control: an eBPF program (BPF_PROG_TYPE_CGROUP_DEVICE) built from the rules.

cgroup2 has no devices.allow; the kernel asks a program attached to the cgroup instead. The program
is generated here, as runc's devicefilter does: read the request (type, access, major, minor), test
each exception in turn, return the default when none matches. Only load_and_attach needs the shim.
"""


import posix
import struct

from pyrunc.errors import PyruncError

# struct bpf_cgroup_dev_ctx: u32 access_type (type in the low 16 bits, access in the high 16), major, minor.
DEV_BLOCK = 1
DEV_CHAR = 2
ACC_MKNOD = 1
ACC_READ = 2
ACC_WRITE = 4
_ACCESS_BITS = {"m": ACC_MKNOD, "r": ACC_READ, "w": ACC_WRITE}

# Opcodes (linux/bpf.h, linux/bpf_common.h).
LDX_MEM_W = 0x61  # BPF_LDX | BPF_MEM | BPF_W
ALU32_AND_K = 0x54  # BPF_ALU | BPF_AND | BPF_K
ALU32_RSH_K = 0x74  # BPF_ALU | BPF_RSH | BPF_K
ALU32_MOV_K = 0xB4  # BPF_ALU | BPF_MOV | BPF_K
ALU32_MOV_X = 0xBC  # BPF_ALU | BPF_MOV | BPF_X
JNE_K = 0x55  # BPF_JMP | BPF_JNE | BPF_K
JNE_X = 0x5D  # BPF_JMP | BPF_JNE | BPF_X
JMP32_JNE_K = 0x56  # BPF_JMP32 | BPF_JNE | BPF_K: for numbers >= 2**31, which BPF_K would sign-extend
EXIT = 0x95  # BPF_JMP | BPF_EXIT

BPF_PROG_LOAD = 5
BPF_PROG_ATTACH = 8
BPF_PROG_TYPE_CGROUP_DEVICE = 15
BPF_CGROUP_DEVICE = 6
BPF_F_ALLOW_MULTI = 2
LICENSE = b"Apache\0"
PROG_NAME = b"pyrunc_devices"


def insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    """One struct bpf_insn, little-endian: code, dst:4|src:4, s16 off, s32 imm."""
    if imm > 0x7FFFFFFF:
        imm -= 1 << 32
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


def program(default_allow: bool, exceptions: list[tuple[tuple[str, int, int], str]]) -> bytes:
    """The device program for a reduced ruleset (devices.reduce): first matching exception decides."""
    out = [
        insn(LDX_MEM_W, 2, 1, 0),  # r2 = ctx->access_type
        insn(ALU32_AND_K, 2, imm=0xFFFF),  # r2 = device type
        insn(LDX_MEM_W, 3, 1, 0),
        insn(ALU32_RSH_K, 3, imm=16),  # r3 = requested access
        insn(LDX_MEM_W, 4, 1, 4),  # r4 = major
        insn(LDX_MEM_W, 5, 1, 8),  # r5 = minor
    ]
    verdict = 0 if default_allow else 1
    for (kind, major, minor), access in exceptions:
        if kind not in ("c", "b"):
            raise PyruncError(f"linux.resources.devices: internal error: type {kind!r} in a reduced ruleset")
        bits = 0
        for c in access:
            bits |= _ACCESS_BITS[c]
        block: list[tuple[int, int, int, int]] = [(JNE_K, 2, 0, DEV_CHAR if kind == "c" else DEV_BLOCK)]
        if bits != ACC_MKNOD | ACC_READ | ACC_WRITE:
            block += [(ALU32_MOV_X, 1, 3, 0), (ALU32_AND_K, 1, 0, bits), (JNE_X, 1, 3, 0)]
        for reg, number in ((4, major), (5, minor)):
            if number >= 0:
                block.append((JMP32_JNE_K if number > 0x7FFFFFFF else JNE_K, reg, 0, number))
        # Every jump in the block skips to the next block: past the block's rest and its 2-insn verdict.
        n = len(block)
        for i, (code, dst, src, imm) in enumerate(block):
            if code == ALU32_MOV_X or code == ALU32_AND_K:
                out.append(insn(code, dst, src, 0, imm))
            else:
                out.append(insn(code, dst, src, n - i - 1 + 2, imm))
        out += [insn(ALU32_MOV_K, 0, imm=verdict), insn(EXIT)]
    out += [insn(ALU32_MOV_K, 0, imm=1 if default_allow else 0), insn(EXIT)]
    return b"".join(out)


def decode(code: bytes) -> list[tuple[int, int, int, int, int]]:
    """(code, dst, src, off, imm) for each instruction: for tests and `explain`."""
    out = []
    for i in range(0, len(code), 8):
        op, regs, off, imm = struct.unpack_from("<BBhi", code, i)
        out.append((op, regs & 0xF, regs >> 4, off, imm))
    return out


def _addr(ffi, buf) -> int:
    return int(ffi.cast("uintptr_t", buf))


def _bpf(lib, ffi, cmd: int, attr: bytes) -> int:
    buf = ffi.new("char[]", attr)
    rc = lib.pyr_bpf(cmd, buf, len(attr))
    if rc < 0:
        err = ffi.errno
        raise OSError(err, posix.strerror(err))
    return rc


def load_and_attach(cgroup_dir: str, code: bytes) -> None:
    """Load the program and attach it to `cgroup_dir` (BPF_F_ALLOW_MULTI, as runc does); the cgroup
    keeps it alive, so no fd is held afterwards."""
    try:
        from pyrunc._native import ffi, lib
    except ImportError as e:
        raise PyruncError("linux.resources.devices: no native shim to load a device program with") from e
    if not hasattr(lib, "pyr_bpf"):
        raise PyruncError("linux.resources.devices: the native shim lacks pyr_bpf")
    insns = ffi.new("char[]", code)
    lic = ffi.new("char[]", LICENSE)
    log = ffi.new("char[]", 65536)

    def load_attr(log_level: int) -> bytes:
        """union bpf_attr for BPF_PROG_LOAD, up to expected_attach_type."""
        return struct.pack("<IIQQIIQII16sII", BPF_PROG_TYPE_CGROUP_DEVICE, len(code) // 8, _addr(ffi, insns),
                           _addr(ffi, lic), log_level, 65536 if log_level else 0,
                           _addr(ffi, log) if log_level else 0, 0, 0, PROG_NAME, 0, BPF_CGROUP_DEVICE)
    try:
        prog_fd = _bpf(lib, ffi, BPF_PROG_LOAD, load_attr(0))
    except OSError as e:
        detail = ""
        try:
            _bpf(lib, ffi, BPF_PROG_LOAD, load_attr(1))
        except OSError:
            detail = ffi.string(log).decode(errors="replace").strip().replace("\n", "; ")
        raise PyruncError(f"linux.resources.devices: loading the device program: {e.strerror.lower()}"
                          + (f" ({detail})" if detail else "")) from e
    try:
        cg_fd = posix.open(cgroup_dir, posix.O_RDONLY | posix.O_DIRECTORY | posix.O_CLOEXEC)
        try:
            _bpf(lib, ffi, BPF_PROG_ATTACH, struct.pack("<IIIII", cg_fd, prog_fd, BPF_CGROUP_DEVICE,
                                                        BPF_F_ALLOW_MULTI, 0))
        finally:
            posix.close(cg_fd)
    except OSError as e:
        raise PyruncError(f"linux.resources.devices: attaching the device program to {cgroup_dir}: "
                          f"{(e.strerror or str(e)).lower()}") from e
    finally:
        posix.close(prog_fd)
