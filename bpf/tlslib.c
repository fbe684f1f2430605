// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Uprobes on TLS libraries whose read and write calls have the shape
 * f(object, buffer, length[, size_t *done]): OpenSSL's SSL_read, SSL_write
 * and their _ex variants (also BoringSSL and LibreSSL, which export the same
 * names), and GnuTLS's gnutls_record_recv and gnutls_record_send. The loader
 * attaches tls_enter to each function and tls_return to its return, with a
 * cookie saying which library and function it is (enum tls_cookie). No
 * library structure is read: the socket is the one the library used during
 * the call (see in_tls_call in syscalls.c). */
#include "tlslib.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* tls_enter remembers a call's arguments until it returns. */
SEC("uprobe")
int tls_enter(struct pt_regs *ctx)
{
	if (is_self())
		return 0;
	__u64 cookie = bpf_get_attach_cookie(ctx);
	struct tls_call *c = thread_slot(&tls_calls, 1);
	if (!c) {
		count(COUNTER_TLS_CALLS_FULL, 1);
		return 0;
	}
	c->ssl = PARM1(ctx);
	c->buf = PARM2(ctx);
	c->ex_len = cookie & TLS_COOKIE_EX ? PARM4(ctx) : 0;
	c->ts_ns = bpf_ktime_get_ns();
	c->fd = -1;
	c->library = cookie & TLS_COOKIE_LIBRARY_MASK;
	return 0;
}

/* tls_return sends the plaintext the call moved, on the call's socket. */
SEC("uretprobe")
int tls_return(struct pt_regs *ctx)
{
	__u8 dir = bpf_get_attach_cookie(ctx) & TLS_COOKIE_RECV ? DIR_RECV : DIR_SEND;
	__u64 id = bpf_get_current_pid_tgid();
	struct tls_call *p = thread_slot(&tls_calls, 0);
	if (!p || !p->ssl)
		return 0;
	struct tls_call c = *p;
	p->ssl = 0;

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
		if (!sk && dir == DIR_RECV && (b = thread_slot(&last_read, 0)) && b->sock && (sk = bound_sock(b))) {
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
		__u64 *pending = thread_slot(&pending_bind, 1);
		if (pending && !*pending)
			*pending = c.ssl;
	}
	emit_stream(&h, c.buf, n);
	return 0;
}
