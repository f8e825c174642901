# Generated from schema/*.json by `python -m pyrunc.schemagen`: do not edit, regenerate.
# ruff: noqa: E501

"""The functions of pyrunc._config_check that checking pyrunc's own default configs (`pyrunc spec`) never
calls: the sections those lack. Generated with it; imported by it the first time a config has one.
"""

from pyrunc._config_check import (
    _defs_ArrayOfStrings,
    _defs_IDMapping,
    _defs_uint32,
    _defs_uint64,
    _pattern,
)

# .{1,}
_PATTERN_1 = (False, False, (("\n", True, 1, None),))
_CONFIG_SCHEMA_PROCESS_IOPRIORITY_CLASS_ENUM = frozenset((
    "IOPRIO_CLASS_RT",
    "IOPRIO_CLASS_BE",
    "IOPRIO_CLASS_IDLE",
))
_DEFS_LINUX_SCHEDULERPOLICY_ENUM = frozenset((
    "SCHED_OTHER",
    "SCHED_FIFO",
    "SCHED_RR",
    "SCHED_BATCH",
    "SCHED_ISO",
    "SCHED_IDLE",
    "SCHED_DEADLINE",
))
_DEFS_LINUX_SCHEDULERFLAG_ENUM = frozenset((
    "SCHED_FLAG_RESET_ON_FORK",
    "SCHED_FLAG_RECLAIM",
    "SCHED_FLAG_DL_OVERRUN",
    "SCHED_FLAG_KEEP_POLICY",
    "SCHED_FLAG_KEEP_PARAMS",
    "SCHED_FLAG_UTIL_CLAMP_MIN",
    "SCHED_FLAG_UTIL_CLAMP_MAX",
))
# ^[0-9, -]*$
_PATTERN_3 = (True, True, ((" ,-0123456789", False, 0, None),))
# ^[cbup]$
_PATTERN_4 = (True, True, (("bcpu", False, 1, 1),))
# ^[1-9][0-9]*[KMG]B$
_PATTERN_5 = (True, True, (
    ("123456789", False, 1, 1),
    ("0123456789", False, 0, None),
    ("GKM", False, 1, 1),
    "B",
))
_DEFS_LINUX_ROOTFSPROPAGATION_ENUM = frozenset(("private", "shared", "slave", "unbindable"))
_DEFS_LINUX_SECCOMPACTION_ENUM = frozenset((
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_TRAP",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_LOG",
    "SCMP_ACT_NOTIFY",
))
_DEFS_LINUX_SECCOMPFLAG_ENUM = frozenset((
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
))
_DEFS_LINUX_SECCOMPARCH_ENUM = frozenset((
    "SCMP_ARCH_X86",
    "SCMP_ARCH_X86_64",
    "SCMP_ARCH_X32",
    "SCMP_ARCH_ARM",
    "SCMP_ARCH_AARCH64",
    "SCMP_ARCH_LOONGARCH64",
    "SCMP_ARCH_M68K",
    "SCMP_ARCH_MIPS",
    "SCMP_ARCH_MIPS64",
    "SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL",
    "SCMP_ARCH_MIPSEL64",
    "SCMP_ARCH_MIPSEL64N32",
    "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64",
    "SCMP_ARCH_PPC64LE",
    "SCMP_ARCH_S390",
    "SCMP_ARCH_S390X",
    "SCMP_ARCH_SH",
    "SCMP_ARCH_SHEB",
    "SCMP_ARCH_PARISC",
    "SCMP_ARCH_PARISC64",
    "SCMP_ARCH_RISCV64",
))
_DEFS_LINUX_SECCOMPOPERATORS_ENUM = frozenset((
    "SCMP_CMP_NE",
    "SCMP_CMP_LT",
    "SCMP_CMP_LE",
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_MASKED_EQ",
))
# ^MB:[^\n]*$
_PATTERN_6 = (True, True, ("MB:", ("\n", True, 0, None)))
_DEFS_LINUX_MEMORYPOLICYMODE_ENUM = frozenset((
    "MPOL_DEFAULT",
    "MPOL_BIND",
    "MPOL_INTERLEAVE",
    "MPOL_WEIGHTED_INTERLEAVE",
    "MPOL_PREFERRED",
    "MPOL_PREFERRED_MANY",
    "MPOL_LOCAL",
))
_DEFS_LINUX_MEMORYPOLICYFLAG_ENUM = frozenset((
    "MPOL_F_NUMA_BALANCING",
    "MPOL_F_RELATIVE_NODES",
    "MPOL_F_STATIC_NODES",
))
_DEFS_LINUX_PERSONALITYDOMAIN_ENUM = frozenset(("LINUX", "LINUX32"))


def _config_schema_hooks(x):
    if not isinstance(x, dict):
        return False
    if "prestart" in x and not _defs_ArrayOfHooks(x["prestart"]):
        return False
    if "createRuntime" in x and not _defs_ArrayOfHooks(x["createRuntime"]):
        return False
    if "createContainer" in x and not _defs_ArrayOfHooks(x["createContainer"]):
        return False
    if "startContainer" in x and not _defs_ArrayOfHooks(x["startContainer"]):
        return False
    if "poststart" in x and not _defs_ArrayOfHooks(x["poststart"]):
        return False
    if "poststop" in x and not _defs_ArrayOfHooks(x["poststop"]):
        return False
    return True


def _defs_ArrayOfHooks(x):
    if not isinstance(x, list):
        return False
    for v in x:
        if not _defs_Hook(v):
            return False
    return True


def _defs_Hook(x):
    if not isinstance(x, dict):
        return False
    if "path" not in x:
        return False
    if not isinstance(x["path"], str):
        return False
    if "args" in x and not _defs_ArrayOfStrings(x["args"]):
        return False
    if "env" in x and not _defs_ArrayOfStrings(x["env"]):
        return False
    if "timeout" in x and not _defs_Hook_timeout(x["timeout"]):
        return False
    return True


def _defs_Hook_timeout(v):
    return isinstance(v, int) and not isinstance(v, bool) and v >= 1


def _defs_mapStringString(x):
    if not isinstance(x, dict):
        return False
    for k, v in x.items():
        if not isinstance(v, str) and _pattern(k, _PATTERN_1):
            return False
    return True


def _defs_Mount_uidMappings(x):
    if not isinstance(x, list):
        return False
    for v in x:
        if not _defs_IDMapping(v):
            return False
    return True


def _config_schema_process_consoleSize(x):
    if not isinstance(x, dict):
        return False
    if "height" not in x or "width" not in x:
        return False
    if not _defs_uint64(x["height"]):
        return False
    if not _defs_uint64(x["width"]):
        return False
    return True


def _defs_ArrayOfGIDs(x):
    if not isinstance(x, list):
        return False
    for v in x:
        if not _defs_uint32(v):
            return False
    return True


def _config_schema_process_oomScoreAdj(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _config_schema_process_ioPriority(x):
    if not isinstance(x, dict):
        return False
    if "class" not in x:
        return False
    if not _config_schema_process_ioPriority_class(x["class"]):
        return False
    if "priority" in x and not _defs_int32(x["priority"]):
        return False
    return True


def _config_schema_process_ioPriority_class(v):
    return isinstance(v, str) and v in _CONFIG_SCHEMA_PROCESS_IOPRIORITY_CLASS_ENUM


def _defs_int32(v):
    return isinstance(v, int) and not isinstance(v, bool) and -2147483648 <= v <= 2147483647


def _config_schema_process_scheduler(x):
    if not isinstance(x, dict):
        return False
    if "policy" not in x:
        return False
    if not _defs_linux_SchedulerPolicy(x["policy"]):
        return False
    if "nice" in x and not _defs_int32(x["nice"]):
        return False
    if "priority" in x and not _defs_int32(x["priority"]):
        return False
    if "flags" in x and not _config_schema_process_scheduler_flags(x["flags"]):
        return False
    if "runtime" in x and not _defs_uint64(x["runtime"]):
        return False
    if "deadline" in x and not _defs_uint64(x["deadline"]):
        return False
    if "period" in x and not _defs_uint64(x["period"]):
        return False
    return True


def _defs_linux_SchedulerPolicy(v):
    return isinstance(v, str) and v in _DEFS_LINUX_SCHEDULERPOLICY_ENUM


def _config_schema_process_scheduler_flags(x):
    if not isinstance(x, list):
        return False
    for v in x:
        if not _defs_linux_SchedulerFlag(v):
            return False
    return True


def _defs_linux_SchedulerFlag(v):
    return isinstance(v, str) and v in _DEFS_LINUX_SCHEDULERFLAG_ENUM


def _config_schema_process_execCPUAffinity(x):
    if not isinstance(x, dict):
        return False
    if "initial" in x and not _config_schema_process_execCPUAffinity_initial(x["initial"]):
        return False
    if "final" in x and not _config_schema_process_execCPUAffinity_initial(x["final"]):
        return False
    return True


def _config_schema_process_execCPUAffinity_initial(v):
    return isinstance(v, str) and _pattern(v, _PATTERN_3)


def _config_linux_linux_devices(x):
    if not isinstance(x, list):
        return False
    for v in x:
        if not _defs_linux_Device(v):
            return False
    return True


def _defs_linux_Device(x):
    if not isinstance(x, dict):
        return False
    if "type" not in x or "path" not in x:
        return False
    if not _defs_linux_FileType(x["type"]):
        return False
    if not isinstance(x["path"], str):
        return False
    if "fileMode" in x and not _defs_FileMode(x["fileMode"]):
        return False
    if "major" in x and not _defs_int64(x["major"]):
        return False
    if "minor" in x and not _defs_int64(x["minor"]):
        return False
    if "uid" in x and not _defs_uint32(x["uid"]):
        return False
    if "gid" in x and not _defs_uint32(x["gid"]):
        return False
    return True


def _defs_linux_FileType(v):
    return isinstance(v, str) and _pattern(v, _PATTERN_4)


def _defs_FileMode(v):
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 511


def _defs_int64(v):
    return isinstance(v, int) and not isinstance(v, bool) and -9223372036854775808 <= v <= 9223372036854775807


def _config_linux_linux_netDevices(x):
    if not isinstance(x, dict):
        return False
    for v in x.values():
        if not _defs_linux_NetDevice(v):
            return False
    return True


def _defs_linux_NetDevice(x):
    if not isinstance(x, dict):
        return False
    if "name" in x and not isinstance(x["name"], str):
        return False
    return True


def _config_linux_linux_resources_pids(x):
    if not isinstance(x, dict):
        return False
    if "limit" not in x:
        return False
    if not _defs_int64(x["limit"]):
        return False
    return True


def _config_linux_linux_resources_blockIO(x):
    if not isinstance(x, dict):
        return False
    if "weight" in x and not _defs_uint16(x["weight"]):
        return False
    if "leafWeight" in x and not _defs_uint16(x["leafWeight"]):
        return False
    if (
        "throttleReadBpsDevice" in x
        and not _config_linux_linux_resources_blockIO_throttleReadBpsDevice(x["throttleReadBpsDevice"])
    ):
        return False
    if (
        "throttleWriteBpsDevice" in x
        and not _config_linux_linux_resources_blockIO_throttleReadBpsDevice(x["throttleWriteBpsDevice"])
    ):
        return False
    if (
        "throttleReadIOPSDevice" in x
        and not _config_linux_linux_resources_blockIO_throttleReadBpsDevice(x["throttleReadIOPSDevice"])
    ):
        return False
    if (
        "throttleWriteIOPSDevice" in x
        and not _config_linux_linux_resources_blockIO_throttleReadBpsDevice(x["throttleWriteIOPSDevice"])
    ):
        return False
    if "weightDevice" in x and not _config_linux_linux_resources_blockIO_weightDevice(x["weightDevice"]):
        return False
    return True


def _defs_uint16(v):
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 65535


def _config_linux_linux_resources_blockIO_throttleReadBpsDevice(x):
    if not isinstance(x, list):
        return False
    for v in x:
        if not _defs_linux_blockIODeviceThrottle(v):
            return False
    return True


def _defs_linux_blockIODeviceThrottle(x):
    if not _defs_linux_blockIODevice(x):
        return False
    if not _defs_linux_blockIODeviceThrottle_allOf_1(x):
        return False
    return True


def _defs_linux_blockIODevice(x):
    if not isinstance(x, dict):
        return False
    if "major" not in x or "minor" not in x:
        return False
    if not _defs_int64(x["major"]):
        return False
    if not _defs_int64(x["minor"]):
        return False
    return True


def _defs_linux_blockIODeviceThrottle_allOf_1(x):
    if not isinstance(x, dict):
        return False
    if "rate" in x and not _defs_uint64(x["rate"]):
        return False
    return True


def _config_linux_linux_resources_blockIO_weightDevice(x):
    if not isinstance(x, list):
        return False
    for v in x:
        if not _defs_linux_blockIODeviceWeight(v):
            return False
    return True


def _defs_linux_blockIODeviceWeight(x):
    if not isinstance(x, dict):
        return False
    if not _defs_linux_blockIODevice(x):
        return False
    if not _defs_linux_blockIODeviceWeight_allOf_1(x):
        return False
    return True


def _defs_linux_blockIODeviceWeight_allOf_1(x):
    if not isinstance(x, dict):
        return False
    if "weight" in x and not _defs_uint16(x["weight"]):
        return False
    if "leafWeight" in x and not _defs_uint16(x["leafWeight"]):
        return False
    return True


def _config_linux_linux_resources_cpu(x):
    if not isinstance(x, dict):
        return False
    if "cpus" in x and not isinstance(x["cpus"], str):
        return False
    if "mems" in x and not isinstance(x["mems"], str):
        return False
    if "period" in x and not _defs_uint64(x["period"]):
        return False
    if "quota" in x and not _defs_int64(x["quota"]):
        return False
    if "burst" in x and not _defs_uint64(x["burst"]):
        return False
    if "realtimePeriod" in x and not _defs_uint64(x["realtimePeriod"]):
        return False
    if "realtimeRuntime" in x and not _defs_int64(x["realtimeRuntime"]):
        return False
    if "shares" in x and not _defs_uint64(x["shares"]):
        return False
    if "idle" in x and not _defs_int64(x["idle"]):
        return False
    return True


def _config_linux_linux_resources_hugepageLimits(x):
    if not isinstance(x, list):
        return False
    for v in x:
        if not _config_linux_linux_resources_hugepageLimits_items(v):
            return False
    return True


def _config_linux_linux_resources_hugepageLimits_items(x):
    if not isinstance(x, dict):
        return False
    if "pageSize" not in x or "limit" not in x:
        return False
    if not _config_linux_linux_resources_hugepageLimits_items_pageSize(x["pageSize"]):
        return False
    if not _defs_uint64(x["limit"]):
        return False
    return True


def _config_linux_linux_resources_hugepageLimits_items_pageSize(v):
    return isinstance(v, str) and _pattern(v, _PATTERN_5)


def _config_linux_linux_resources_memory(x):
    if not isinstance(x, dict):
        return False
    if "kernel" in x and not _defs_int64(x["kernel"]):
        return False
    if "kernelTCP" in x and not _defs_int64(x["kernelTCP"]):
        return False
    if "limit" in x and not _defs_int64(x["limit"]):
        return False
    if "reservation" in x and not _defs_int64(x["reservation"]):
        return False
    if "swap" in x and not _defs_int64(x["swap"]):
        return False
    if "swappiness" in x and not _defs_uint64(x["swappiness"]):
        return False
    if "disableOOMKiller" in x and not isinstance(x["disableOOMKiller"], bool):
        return False
    if "useHierarchy" in x and not isinstance(x["useHierarchy"], bool):
        return False
    if "checkBeforeUpdate" in x and not isinstance(x["checkBeforeUpdate"], bool):
        return False
    return True


def _config_linux_linux_resources_network(x):
    if not isinstance(x, dict):
        return False
    if "classID" in x and not _defs_uint32(x["classID"]):
        return False
    if "priorities" in x and not _config_linux_linux_resources_network_priorities(x["priorities"]):
        return False
    return True


def _config_linux_linux_resources_network_priorities(x):
    if not isinstance(x, list):
        return False
    for v in x:
        if not _defs_linux_NetworkInterfacePriority(v):
            return False
    return True


def _defs_linux_NetworkInterfacePriority(x):
    if not isinstance(x, dict):
        return False
    if "name" not in x or "priority" not in x:
        return False
    if not isinstance(x["name"], str):
        return False
    if not _defs_uint32(x["priority"]):
        return False
    return True


def _config_linux_linux_resources_rdma(x):
    if not isinstance(x, dict):
        return False
    for v in x.values():
        if not _defs_linux_Rdma(v):
            return False
    return True


def _defs_linux_Rdma(x):
    if not isinstance(x, dict):
        return False
    if "hcaHandles" in x and not _defs_uint32(x["hcaHandles"]):
        return False
    if "hcaObjects" in x and not _defs_uint32(x["hcaObjects"]):
        return False
    return True


def _defs_linux_RootfsPropagation(v):
    return isinstance(v, str) and v in _DEFS_LINUX_ROOTFSPROPAGATION_ENUM


def _config_linux_linux_seccomp(x):
    if not isinstance(x, dict):
        return False
    if "defaultAction" not in x:
        return False
    if not _defs_linux_SeccompAction(x["defaultAction"]):
        return False
    if "defaultErrnoRet" in x and not _defs_uint32(x["defaultErrnoRet"]):
        return False
    if "flags" in x and not _config_linux_linux_seccomp_flags(x["flags"]):
        return False
    if "listenerPath" in x and not isinstance(x["listenerPath"], str):
        return False
    if "listenerMetadata" in x and not isinstance(x["listenerMetadata"], str):
        return False
    if "architectures" in x and not _config_linux_linux_seccomp_architectures(x["architectures"]):
        return False
    if "syscalls" in x and not _config_linux_linux_seccomp_syscalls(x["syscalls"]):
        return False
    return True


def _defs_linux_SeccompAction(v):
    return isinstance(v, str) and v in _DEFS_LINUX_SECCOMPACTION_ENUM


def _config_linux_linux_seccomp_flags(x):
    if not isinstance(x, list):
        return False
    for v in x:
        if not _defs_linux_SeccompFlag(v):
            return False
    return True


def _defs_linux_SeccompFlag(v):
    return isinstance(v, str) and v in _DEFS_LINUX_SECCOMPFLAG_ENUM


def _config_linux_linux_seccomp_architectures(x):
    if not isinstance(x, list):
        return False
    for v in x:
        if not _defs_linux_SeccompArch(v):
            return False
    return True


def _defs_linux_SeccompArch(v):
    return isinstance(v, str) and v in _DEFS_LINUX_SECCOMPARCH_ENUM


def _config_linux_linux_seccomp_syscalls(x):
    if not isinstance(x, list):
        return False
    for v in x:
        if not _defs_linux_Syscall(v):
            return False
    return True


def _defs_linux_Syscall(x):
    if not isinstance(x, dict):
        return False
    if "names" not in x or "action" not in x:
        return False
    if not _defs_linux_Syscall_names(x["names"]):
        return False
    if not _defs_linux_SeccompAction(x["action"]):
        return False
    if "errnoRet" in x and not _defs_uint32(x["errnoRet"]):
        return False
    if "args" in x and not _defs_linux_Syscall_args(x["args"]):
        return False
    return True


def _defs_linux_Syscall_names(x):
    if not isinstance(x, list):
        return False
    if not len(x) >= 1:
        return False
    for v in x:
        if not isinstance(v, str):
            return False
    return True


def _defs_linux_Syscall_args(x):
    if not isinstance(x, list):
        return False
    for v in x:
        if not _defs_linux_SyscallArg(v):
            return False
    return True


def _defs_linux_SyscallArg(x):
    if not isinstance(x, dict):
        return False
    if "index" not in x or "value" not in x or "op" not in x:
        return False
    if not _defs_uint32(x["index"]):
        return False
    if not _defs_uint64(x["value"]):
        return False
    if "valueTwo" in x and not _defs_uint64(x["valueTwo"]):
        return False
    if not _defs_linux_SeccompOperators(x["op"]):
        return False
    return True


def _defs_linux_SeccompOperators(v):
    return isinstance(v, str) and v in _DEFS_LINUX_SECCOMPOPERATORS_ENUM


def _config_linux_linux_intelRdt(x):
    if not isinstance(x, dict):
        return False
    if "closID" in x and not isinstance(x["closID"], str):
        return False
    if "schemata" in x and not _defs_ArrayOfStrings(x["schemata"]):
        return False
    if "l3CacheSchema" in x and not isinstance(x["l3CacheSchema"], str):
        return False
    if "memBwSchema" in x and not _config_linux_linux_intelRdt_memBwSchema(x["memBwSchema"]):
        return False
    if "enableMonitoring" in x and not isinstance(x["enableMonitoring"], bool):
        return False
    return True


def _config_linux_linux_intelRdt_memBwSchema(v):
    return isinstance(v, str) and _pattern(v, _PATTERN_6)


def _config_linux_linux_memoryPolicy(x):
    if not isinstance(x, dict):
        return False
    if "mode" in x and not _defs_linux_MemoryPolicyMode(x["mode"]):
        return False
    if "nodes" in x and not isinstance(x["nodes"], str):
        return False
    if "flags" in x and not _config_linux_linux_memoryPolicy_flags(x["flags"]):
        return False
    return True


def _defs_linux_MemoryPolicyMode(v):
    return isinstance(v, str) and v in _DEFS_LINUX_MEMORYPOLICYMODE_ENUM


def _config_linux_linux_memoryPolicy_flags(x):
    if not isinstance(x, list):
        return False
    for v in x:
        if not _defs_linux_MemoryPolicyFlag(v):
            return False
    return True


def _defs_linux_MemoryPolicyFlag(v):
    return isinstance(v, str) and v in _DEFS_LINUX_MEMORYPOLICYFLAG_ENUM


def _defs_linux_Personality(x):
    if not isinstance(x, dict):
        return False
    if "domain" in x and not _defs_linux_PersonalityDomain(x["domain"]):
        return False
    if "flags" in x and not _defs_ArrayOfStrings(x["flags"]):
        return False
    return True


def _defs_linux_PersonalityDomain(v):
    return isinstance(v, str) and v in _DEFS_LINUX_PERSONALITYDOMAIN_ENUM


def _config_linux_linux_timeOffsets(x):
    if not isinstance(x, dict):
        return False
    if "boottime" in x and not _defs_linux_TimeOffsets(x["boottime"]):
        return False
    if "monotonic" in x and not _defs_linux_TimeOffsets(x["monotonic"]):
        return False
    return True


def _defs_linux_TimeOffsets(x):
    if not isinstance(x, dict):
        return False
    if "secs" in x and not _defs_int64(x["secs"]):
        return False
    if "nanosecs" in x and not _defs_uint32(x["nanosecs"]):
        return False
    return True
