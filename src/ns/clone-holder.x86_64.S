/*
 * The exec-free namespace holder (x86-64), the routine src/ns/clone-holder.ts runs as the
 * entry point of a clone(CLONE_NEWUSER|CLONE_VM|CLONE_PIDFD) child. Its bytes are the constant
 * HOLDER_X86_64 there; test/ns/clone-holder-bytes.test.ts assembles this file with Debian's
 * binutils and checks that the constant, and the built artifacts, hold exactly these bytes:
 *
 *   as --64 -o holder.o src/ns/clone-holder.x86_64.S
 *   objcopy -O binary -j .text holder.o holder.bin
 *
 * No libc calls, no exec; it never touches its stack beyond the return address that glibc's clone()
 * entry pushes (that stack and all memory are shared with us: CLONE_VM).
 * rdi (the clone() argument) = a MAP_SHARED page:
 *   +0  int32 go       0 until the parent has written the uid/gid maps, then 1
 *   +4  int32 result   0 while pending, then 1 (netns made) or -errno of unshare()
 *   +16 struct timespec timeout: how long to wait for go, then how long to live after
 * The child never returns: every path ends in exit_group().
 */
        .intel_syntax noprefix
        .text
        .globl clone_holder

        .set SYS_nanosleep, 35
        .set SYS_prctl, 157
        .set SYS_futex, 202
        .set SYS_exit_group, 231
        .set SYS_unshare, 272
        .set SYS_close_range, 436
        .set PR_SET_PDEATHSIG, 1
        .set SIGKILL, 9
        .set FUTEX_WAIT, 0
        .set FUTEX_WAKE, 1
        .set CLONE_NEWNET, 0x40000000
        .set ETIMEDOUT, 110
        .set GO, 0
        .set RESULT, 4
        .set TIMEOUT, 16

clone_holder:
        mov     r12, rdi                    /* the shared page, kept in a callee-saved register */

        /* close_range(0, ~0, 0): the fds we inherited (the plugin's, a runtime's) are not ours
           to hold open for the holder's lifetime. */
        xor     edi, edi
        mov     esi, -1
        xor     edx, edx
        mov     eax, SYS_close_range
        syscall

        /* prctl(PR_SET_PDEATHSIG, SIGKILL): a plugin killed mid-ADD takes its holder with it. */
        mov     edi, PR_SET_PDEATHSIG
        mov     esi, SIGKILL
        mov     eax, SYS_prctl
        syscall

        /* while (!go) futex(&go, FUTEX_WAIT, 0, &timeout): unshare(CLONE_NEWNET) only once our
           maps are written, so that the netns is made by uid 0 of this user namespace. */
1:      mov     eax, dword ptr [r12 + GO]
        test    eax, eax
        jnz     2f
        mov     rdi, r12
        xor     esi, esi                    /* FUTEX_WAIT */
        xor     edx, edx                    /* expected value 0 */
        lea     r10, [r12 + TIMEOUT]
        mov     eax, SYS_futex
        syscall
        cmp     rax, -ETIMEDOUT             /* never told to go: give up */
        je      4f
        jmp     1b

        /* result = unshare(CLONE_NEWNET) == 0 ? 1 : -errno; futex(&result, FUTEX_WAKE, 1) */
2:      mov     edi, CLONE_NEWNET
        mov     eax, SYS_unshare
        syscall
        test    eax, eax
        jnz     3f
        mov     eax, 1
3:      mov     dword ptr [r12 + RESULT], eax
        lea     rdi, [r12 + RESULT]
        mov     esi, FUTEX_WAKE
        mov     edx, 1
        mov     eax, SYS_futex
        syscall

        /* nanosleep(&timeout, NULL): hold the namespaces until killed, or expire by ourselves. */
        lea     rdi, [r12 + TIMEOUT]
        xor     esi, esi
        mov     eax, SYS_nanosleep
        syscall

4:      xor     edi, edi
        mov     eax, SYS_exit_group
        syscall
        hlt
