// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Uprobes on TLS libraries whose read and write calls have the shape
 * f(object, buffer, length[, size_t *done]): OpenSSL's SSL_read, SSL_write
 * and their _ex variants (also BoringSSL and LibreSSL, which export the same
 * names), and GnuTLS's gnutls_record_recv and gnutls_record_send. The loader
 * attaches the same programs to each library, with the library's id as the
 * attach cookie. No library structure is read: the socket is the one the
 * library used during the call (see in_tls_call in syscalls.c). */
#include "capture.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* tls_enter remembers a call's arguments until it returns. ex_len is where
 * an _ex variant writes the byte count, 0 for the others. */
static __always_inline int tls_enter(struct pt_regs *ctx, __u64 ex_len)
{
	if (is_self())
		return 0;
	__u64 id = bpf_get_current_pid_tgid();
	struct tls_call c = {
		.ssl = PARM1(ctx),
		.buf = PARM2(ctx),
		.ex_len = ex_len,
		.ts_ns = bpf_ktime_get_ns(),
		.fd = -1,
		.library = bpf_get_attach_cookie(ctx),
	};
	if (bpf_map_update_elem(&tls_calls, &id, &c, BPF_ANY))
		count(COUNTER_TLS_CALLS_FULL, 1);
	return 0;
}

/* tls_exit sends the plaintext the call moved, on the call's socket. */
static __always_inline int tls_exit(struct pt_regs *ctx, __u8 dir)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct tls_call *p = bpf_map_lookup_elem(&tls_calls, &id);
	if (!p)
		return 0;
	struct tls_call c = *p;
	bpf_map_delete_elem(&tls_calls, &id);

	/* OpenSSL returns an int: the register's upper half is not part of it,
	 * and a -1 (want read/write) must not read as 4 GiB. GnuTLS's ssize_t
	 * fits: one record is at most 16 KiB. */
	int ret = (int)RC(ctx);
	__u64 n = ret;
	if (c.ex_len) {
		/* int SSL_read_ex(SSL *, void *, size_t, size_t *readbytes): 1 on success */
		if (ret != 1 || bpf_probe_read_user(&n, sizeof(n), (void *)c.ex_len))
			return 0;
	} else if (ret <= 0) {
		return 0;
	}

	__s32 fd = c.fd;
	struct sock *sk = NULL;
	if (fd >= 0) {
		sk = sock_from_fd(fd);
	} else {
		/* No syscall in this call: served from the library's buffer, or the
		 * library works on memory (node). Use the socket this object used
		 * before, or, for a first read, the one this thread just read. */
		struct ssl_key k = {.ssl = c.ssl, .tgid = id >> 32};
		struct sock_binding *b = bpf_map_lookup_elem(&ssl_socks, &k);
		if (b && (sk = bound_sock(b)))
			fd = b->fd;
		if (!sk && dir == DIR_RECV && (b = bpf_map_lookup_elem(&last_read, &id)) && (sk = bound_sock(b))) {
			fd = b->fd;
			bpf_map_update_elem(&ssl_socks, &k, b, BPF_ANY);
		}
	}
	if (sk && policy_of(sk) == POLICY_IGNORE)
		return 0;
	struct event_header h;
	fill_header(&h, EVENT_DATA, dir, fd, sk, dir == DIR_SEND ? c.ts_ns : bpf_ktime_get_ns());
	h.flags = FLAG_TLS_PLAINTEXT;
	h.tls_library = c.library;
	if (!sk) {
		if (dir != DIR_SEND) {
			count(COUNTER_TLS_NO_SOCKET, 1);
			return 0;
		}
		/* Written before the library touched its socket: send it now, named
		 * by the object, and let the thread's next socket write bind it. */
		h.sock = c.ssl;
		h.flags |= FLAG_TLS_UNBOUND;
		/* The first waiting object keeps the thread's slot. */
		bpf_map_update_elem(&pending_bind, &id, &c.ssl, BPF_NOEXIST);
	}
	struct lost_key k = {.sock = h.sock, .dir = dir, .flags = h.flags};
	struct pending_lost s = {.lost = take_lost(&k)};
	emit_buffer(&h, c.buf, n, &s);
	keep_lost(&k, &s);
	return 0;
}

/* f(object, buffer, length) returning the length moved. */
SEC("uprobe")
int tls_write(struct pt_regs *ctx) { return tls_enter(ctx, 0); }
SEC("uretprobe")
int tls_write_ret(struct pt_regs *ctx) { return tls_exit(ctx, DIR_SEND); }
SEC("uprobe")
int tls_read(struct pt_regs *ctx) { return tls_enter(ctx, 0); }
SEC("uretprobe")
int tls_read_ret(struct pt_regs *ctx) { return tls_exit(ctx, DIR_RECV); }

/* f(object, buffer, length, size_t *done) returning 1 on success. */
SEC("uprobe")
int tls_write_ex(struct pt_regs *ctx) { return tls_enter(ctx, PARM4(ctx)); }
SEC("uretprobe")
int tls_write_ex_ret(struct pt_regs *ctx) { return tls_exit(ctx, DIR_SEND); }
SEC("uprobe")
int tls_read_ex(struct pt_regs *ctx) { return tls_enter(ctx, PARM4(ctx)); }
SEC("uretprobe")
int tls_read_ex_ret(struct pt_regs *ctx) { return tls_exit(ctx, DIR_RECV); }
