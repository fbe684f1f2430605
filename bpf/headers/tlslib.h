/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* What the C TLS library probes (tlslib.c) share with the syscall programs
 * (syscalls.c): the library call in flight on each thread, and the socket
 * each TLS object and each thread last used. The syscall programs note the
 * socket a library call reads or writes; the library probes read it to tie
 * the plaintext to its connection. Go's crypto/tls (gotls.c) finds its socket
 * in the tls.Conn and needs none of this. */
#pragma once

#include "capture.h"

/* A TLS library call in progress on a thread (SSL_read, SSL_write, ...):
 * what its return needs, and the fd of the socket syscall the library made
 * during the call, which ties the plaintext to its connection. */
struct tls_call {
	__u64 ssl;     /* the library's connection object; 0: no call in flight */
	__u64 buf;     /* plaintext buffer */
	__u64 ex_len;  /* _ex variants: where the library writes the length */
	__u64 ts_ns;   /* entry time */
	__s32 fd;      /* -1 until a syscall on a socket is seen */
	__u32 library; /* enum tls_library */
};

/* This map and the two other per-thread ones below are task storage, as
 * syscalls.c's calls is: a slot per thread, freed with it. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct tls_call);
} tls_calls SEC(".maps");

/* thread_slot returns the current thread's slot in a task storage map,
 * created if create is set; NULL if it has none, or when the kernel could not
 * give it (out of memory, or another program of this CPU using task storage:
 * the kernel's guard against recursion). */
#define thread_slot(map, create) \
	bpf_task_storage_get(map, bpf_get_current_task_btf(), 0, (create) ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0)

/* A socket by fd, with the struct sock it named then: fds are reused, so a
 * binding holds only while the fd still names that sock. */
struct sock_binding {
	__u64 sock; /* 0: none */
	__s32 fd;
	__u32 _pad;
};

/* bound_sock returns the sock of b if its fd still names it. */
static __always_inline struct sock *bound_sock(struct sock_binding *b)
{
	struct sock *sk = sock_from_fd(b->fd);
	return (__u64)sk == b->sock ? sk : NULL;
}

/* The socket each thread last read from, for libraries that decrypt from
 * memory (node feeds OpenSSL through a memory BIO after libuv read the
 * socket): their SSL_read makes no syscall, but follows the read of its
 * socket on the same thread. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sock_binding);
} last_read SEC(".maps");

/* A TLS object whose plaintext was written before its socket was known
 * (node encrypts into memory and libuv writes the ciphertext after
 * SSL_write returns): the thread's next socket write names the socket. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64); /* the TLS object; 0: none */
} pending_bind SEC(".maps");

/* The socket each TLS connection object last used: a read served from the
 * library's buffer makes no syscall. Keyed by tgid and object address. */
struct ssl_key {
	__u64 ssl;
	__u32 tgid;
	__u32 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct ssl_key);
	__type(value, struct sock_binding);
} ssl_socks SEC(".maps");

