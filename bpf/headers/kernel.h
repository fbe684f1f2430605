/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The few kernel structures the programs read, declared with only the fields
 * used. preserve_access_index makes every access a CO-RE relocation, so the
 * loader fixes offsets against the running kernel's BTF: the layouts here need
 * not match any kernel, only the field names and types must. */
#pragma once

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

struct inode {
	unsigned short i_mode;
};

struct file {
	struct inode *f_inode;
	void *private_data; /* struct socket * for socket files */
};

struct fdtable {
	unsigned int max_fds;
	struct file **fd;
};

struct files_struct {
	struct fdtable *fdt;
};

typedef struct {
	unsigned int val;
} kuid_t;

struct cred {
	kuid_t uid;
};

struct mm_struct {
	unsigned long arg_start;
	unsigned long arg_end;
};

typedef struct {
	int counter;
} atomic_t;

struct signal_struct {
	atomic_t live; /* threads not yet exited */
};

struct task_struct {
	int tgid;
	struct signal_struct *signal;
	unsigned long long start_boottime;
	struct task_struct *real_parent;
	const struct cred *cred;
	struct mm_struct *mm;
	struct files_struct *files;
};

struct in6_addr {
	__u8 s6_addr[16];
};

/* In the kernel the address and port fields sit in anonymous unions; CO-RE
 * matches them by name through those. */
struct sock_common {
	__be32 skc_daddr;
	__be32 skc_rcv_saddr;
	__be16 skc_dport;
	__u16 skc_num;
	unsigned short skc_family;
	struct in6_addr skc_v6_daddr;
	struct in6_addr skc_v6_rcv_saddr;
};

struct sock {
	struct sock_common __sk_common;
	__u16 sk_protocol;
	__u16 sk_type;
};

struct socket {
	struct sock *sk;
};

/* The sequence numbers of a TCP socket's receive side: rcv_nxt - copied_seq
 * bytes arrived that the process has not read. */
struct tcp_sock {
	__u32 rcv_nxt;
	__u32 copied_seq;
};

/* Registers at a uprobe, as the kernel saves them (arch/x86/include/asm/ptrace.h,
 * arch/arm64/include/asm/ptrace.h). PARM and RC follow the C calling
 * convention; GO_PARM, GO_RC and GO_G Go's register ABI (Go >= 1.17 on
 * amd64, 1.18 on arm64), which also keeps the running goroutine in a
 * register. */
#if defined(__TARGET_ARCH_x86)
struct pt_regs {
	unsigned long r14;
	unsigned long bx;
	unsigned long ax;
	unsigned long cx;
	unsigned long dx;
	unsigned long si;
	unsigned long di;
};
#define PARM1(r) ((r)->di)
#define PARM2(r) ((r)->si)
#define PARM3(r) ((r)->dx)
#define PARM4(r) ((r)->cx)
#define RC(r) ((r)->ax)
#define GO_PARM1(r) ((r)->ax)
#define GO_PARM2(r) ((r)->bx)
#define GO_PARM3(r) ((r)->cx)
#define GO_RC(r) ((r)->ax)
#define GO_G(r) ((r)->r14)
#elif defined(__TARGET_ARCH_arm64)
struct pt_regs {
	__u64 regs[31];
};
#define PARM1(r) ((r)->regs[0])
#define PARM2(r) ((r)->regs[1])
#define PARM3(r) ((r)->regs[2])
#define PARM4(r) ((r)->regs[3])
#define RC(r) ((r)->regs[0])
#define GO_PARM1(r) ((r)->regs[0])
#define GO_PARM2(r) ((r)->regs[1])
#define GO_PARM3(r) ((r)->regs[2])
#define GO_RC(r) ((r)->regs[0])
#define GO_G(r) ((r)->regs[28])
#else
#error "uprobes need the registers of the target architecture: build with -target amd64 or arm64"
#endif

#pragma clang attribute pop

/* User-space ABI structures: fixed layouts, not relocated. */
struct iovec_user {
	void *iov_base;
	__u64 iov_len;
};

/* The start of struct sockaddr_in and sockaddr_in6: the same two fields. */
struct sockaddr_port_user {
	__u16 family;
	__be16 port;
};

struct msghdr_user {
	void *msg_name;
	int msg_namelen;
	int _pad;
	struct iovec_user *msg_iov;
	__u64 msg_iovlen;
};

/* Tracepoint contexts of syscalls:sys_enter_* and sys_exit_* (see the
 * tracepoints' format files: arguments start at offset 16). */
struct syscall_enter_ctx {
	__u64 common;
	__s32 nr; /* __syscall_nr: an int, then 4 bytes of padding */
	__u32 _pad;
	__u64 args[6];
};

struct syscall_exit_ctx {
	__u64 common;
	__s32 nr;
	__u32 _pad;
	__s64 ret;
};

/* Tracepoint context of sched:sched_process_exec. */
struct sched_process_exec_ctx {
	__u64 common;
	__u32 filename_loc; /* __data_loc: length << 16 | offset from the context */
	__s32 pid;
	__s32 old_pid;
};

/* Tracepoint context of sock:inet_sock_set_state. */
struct inet_sock_set_state_ctx {
	__u64 common;
	const void *skaddr;
	int oldstate;
	int newstate;
	__u16 sport;
	__u16 dport;
	__u16 family;
	__u16 protocol;
};

#define TCP_CLOSE 7
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define SOCK_STREAM 1
#define SOCK_DGRAM 2
#define EINPROGRESS 115
