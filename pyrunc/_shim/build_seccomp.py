"""cffi API-mode build of pyrunc._seccomp: the few libseccomp calls that compile a filter.

A module of its own, so that only a config with linux.seccomp loads libseccomp (`pyrunc run`
of a config without one maps neither). The runtime compiles the filter to classic BPF here,
before the init exists; the init only loads the bytes (pyr_seccomp_load in the main shim).
"""

from cffi import FFI

ffi = FFI()
ffi.cdef("""
typedef void *scmp_filter_ctx;
typedef uint64_t scmp_datum_t;
enum scmp_compare { SCMP_CMP_NE, SCMP_CMP_LT, SCMP_CMP_LE, SCMP_CMP_EQ, SCMP_CMP_GE, SCMP_CMP_GT,
                    SCMP_CMP_MASKED_EQ, ... };
struct scmp_arg_cmp { unsigned int arg; enum scmp_compare op; scmp_datum_t datum_a; scmp_datum_t datum_b; };
struct scmp_version { unsigned int major; unsigned int minor; unsigned int micro; };

const struct scmp_version *seccomp_version(void);
scmp_filter_ctx seccomp_init(uint32_t def_action);
void seccomp_release(scmp_filter_ctx ctx);
uint32_t seccomp_arch_resolve_name(const char *arch_name);
int seccomp_arch_add(scmp_filter_ctx ctx, uint32_t arch_token);
int seccomp_syscall_resolve_name(const char *name);
int seccomp_syscall_resolve_name_arch(uint32_t arch_token, const char *name);
uint32_t seccomp_arch_native(void);
int seccomp_rule_add_array(scmp_filter_ctx ctx, uint32_t action, int syscall, unsigned int arg_cnt,
                           const struct scmp_arg_cmp *arg_array);
int seccomp_export_bpf(const scmp_filter_ctx ctx, int fd);
""")
ffi.set_source("pyrunc._seccomp", "#include <seccomp.h>", libraries=["seccomp"], extra_compile_args=["-O2", "-Wall"])

if __name__ == "__main__":
    ffi.compile(verbose=True)
