// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Uprobes on Go's crypto/tls: (*Conn).Write and (*Conn).Read of Go
 * executables, whose arguments and results travel in registers (Go's register
 * ABI). The loader sets go_tls_enter just past each function's stack check,
 * hit once per call (the first instruction runs again after the stack grew),
 * and, for Read, go_tls_return at every RET instruction: a uretprobe would
 * rewrite the return address on the goroutine's stack, which Go moves. The
 * cookie says which function (enum tls_cookie). A goroutine may change
 * threads during a call, so calls are keyed by goroutine, not thread.
 *
 * The socket is found at entry, while the connection is surely open: by the
 * time a call returns another goroutine may have closed it. For the same
 * reason a Write's plaintext is sent at entry: at its return the peer may
 * already have answered and the connection ended. */
#include "capture.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct go_key {
	__u64 g; /* the goroutine: runtime.g's address */
	__u32 tgid;
	__u32 _pad;
};

/* A call: a Read in progress, or a Write while it is sent. */
struct go_call {
	__u64 buf;
	__u64 len;
	__u64 sock;
	__s32 fd;
	__u32 dir; /* enum data_dir */
};

/* Every goroutine waiting in Read holds an entry, so an idle keep-alive
 * connection of any Go program does: room for many (an LRU map is
 * allocated whole, some 100 bytes an entry). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct go_key);
	__type(value, struct go_call);
} go_calls SEC(".maps");

/* The socket under a tls.Conn: its first field is the net.Conn it wraps, an
 * interface whose data word points to a *net.TCPConn; that struct starts
 * with the *netFD, which starts with a poll.FD: a 16-byte fdMutex, then
 * Sysfd. These layouts have not changed since Go 1.9. A net.Conn of another
 * type gives an fd that sock_from_fd rejects, or none. */
#define GO_IFACE_DATA 8
#define GO_NETFD_SYSFD 16

static __always_inline struct sock *go_conn_sock(__u64 conn, __s32 *fd)
{
	__u64 tcp = 0, netfd = 0;
	__s64 sysfd = -1;
	if (bpf_probe_read_user(&tcp, sizeof(tcp), (void *)(conn + GO_IFACE_DATA)) || !tcp)
		return NULL;
	if (bpf_probe_read_user(&netfd, sizeof(netfd), (void *)tcp) || !netfd)
		return NULL;
	if (bpf_probe_read_user(&sysfd, sizeof(sysfd), (void *)(netfd + GO_NETFD_SYSFD)))
		return NULL;
	if (sysfd < 0 || sysfd > 0x7fffffff)
		return NULL;
	*fd = sysfd;
	return sock_from_fd(sysfd);
}

/* go_emit sends n bytes of the call's buffer, now, as plaintext of its socket. */
static __always_inline void go_emit(struct go_call *c, __u64 n)
{
	struct event_header h;
	fill_header(&h, EVENT_DATA, c->dir, c->fd, (struct sock *)c->sock, bpf_ktime_get_ns());
	h.flags = FLAG_TLS_PLAINTEXT;
	h.tls_library = TLS_LIB_GO;
	emit_stream(&h, c->buf, n);
}

static __always_inline struct go_key go_key_of(struct pt_regs *ctx)
{
	struct go_key k = {.g = GO_G(ctx), .tgid = bpf_get_current_pid_tgid() >> 32};
	return k;
}

/* func (c *Conn) Write(b []byte) (int, error): the plaintext is b, sent now.
 * func (c *Conn) Read(b []byte) (int, error): the plaintext is b[:n], sent by
 * go_tls_return. */
SEC("uprobe")
int go_tls_enter(struct pt_regs *ctx)
{
	if (is_self())
		return 0;
	__u8 dir = bpf_get_attach_cookie(ctx) & TLS_COOKIE_RECV ? DIR_RECV : DIR_SEND;
	struct go_call c = {.buf = GO_PARM2(ctx), .len = GO_PARM3(ctx), .dir = dir};
	struct sock *sk = go_conn_sock(GO_PARM1(ctx), &c.fd);
	if (!sk) {
		count(COUNTER_TLS_NO_SOCKET, 1);
		return 0;
	}
	if (policy_of(sk) == POLICY_IGNORE)
		return 0;
	c.sock = (__u64)sk;
	if (dir == DIR_SEND) {
		if (c.len > 0)
			go_emit(&c, c.len);
		return 0;
	}
	struct go_key k = go_key_of(ctx);
	bpf_map_update_elem(&go_calls, &k, &c, BPF_ANY); /* an LRU map: never full */
	return 0;
}

SEC("uprobe")
int go_tls_return(struct pt_regs *ctx)
{
	struct go_key k = go_key_of(ctx);
	__s64 n = GO_RC(ctx); /* n int; the error is in the next registers */
	struct go_call *p = bpf_map_lookup_elem(&go_calls, &k);
	if (!p) {
		/* Its entry was evicted (or the probes came mid-call). */
		if (n > 0)
			count(COUNTER_TLS_CALLS_FULL, 1);
		return 0;
	}
	struct go_call c = *p;
	bpf_map_delete_elem(&go_calls, &k);
	if (n > 0 && (__u64)n <= c.len)
		go_emit(&c, n);
	return 0;
}
