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
	__u64 sock; /* 0: a call on a connection not followed */
	__s32 fd;
	__u16 dir;  /* enum data_dir */
	__u16 live; /* 1 from a Read's entry to its return */
};

/* Every goroutine waiting in Read holds an entry, so an idle keep-alive
 * connection of any Go program does: room for many (an LRU map is
 * allocated whole, some 100 bytes an entry). A goroutine keeps its entry
 * from one Read to the next, written in place and marked done at the
 * return: an LRU map's update takes a new element and frees the old one,
 * and a delete frees it again, which cost about 170 ns at a Read's entry
 * and as much at its return (make bench, go-https, 2026-11-30). An element
 * is taken for another goroutine only when the map runs out of room; the
 * call it held is then lost, and counted at its return. */
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

static __always_inline struct sock *go_conn_sock_read(__u64 conn, __s32 *fd)
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

/* The socket each tls.Conn was last found to use, so that a call does not
 * read the three words of user memory that lead to its fd: those reads took
 * 430 of go_tls_enter's 1,050 ns a run, the lookup here and the fd's check
 * about 180 (make bench, go-https, 2026-11-30). An entry holds while the fd
 * still names the sock in this process and the sock's ports are the
 * connection's: a closed connection's fd and sock, reused by another
 * connection, fail the check (its ports differ), and the words are read
 * again. One case passes it wrongly: a tls.Conn left unclosed and freed,
 * whose memory a new tls.Conn takes before the old connection's finalizer
 * closes its fd, borrows the old connection meanwhile (docs/tls-capture.md). */
struct go_conn_key {
	__u64 conn; /* the *tls.Conn */
	__u32 tgid;
	__u32 _pad;
};

struct go_conn_sock {
	__u64 sock;
	__s32 fd;
	__u16 sport;
	__u16 dport;
};

/* An evicted entry costs only the reads it saved: room for the busiest
 * hosts' live connections, not for every goroutine's Read as go_calls. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct go_conn_key);
	__type(value, struct go_conn_sock);
} go_socks SEC(".maps");

/* go_conn_sock is the socket under the tls.Conn at conn, or NULL. */
static __always_inline struct sock *go_conn_sock(__u64 conn, __s32 *fd)
{
	struct go_conn_key k = {.conn = conn, .tgid = bpf_get_current_pid_tgid() >> 32};
	struct go_conn_sock *known = bpf_map_lookup_elem(&go_socks, &k);
	struct go_conn_sock found = {};
	if (known) {
		found = *known;
		struct sock *sk = sock_from_fd(found.fd);
		if ((__u64)sk == found.sock) {
			__u16 sport, dport;
			sock_ports(sk, &sport, &dport);
			if (sport == found.sport && dport == found.dport) {
				*fd = found.fd;
				return sk;
			}
		}
	}
	struct sock *sk = go_conn_sock_read(conn, fd);
	if (!sk)
		return NULL;
	found.sock = (__u64)sk;
	found.fd = *fd;
	sock_ports(sk, &found.sport, &found.dport);
	bpf_map_update_elem(&go_socks, &k, &found, BPF_ANY); /* an LRU map: never full */
	return sk;
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
	struct go_call c = {.buf = GO_PARM2(ctx), .len = GO_PARM3(ctx), .dir = dir, .live = 1};
	struct sock *sk = go_conn_sock(GO_PARM1(ctx), &c.fd);
	if (!sk)
		count(COUNTER_TLS_NO_SOCKET, 1);
	else if (policy_of(sk) != POLICY_IGNORE)
		c.sock = (__u64)sk;
	if (dir == DIR_SEND) {
		if (c.sock && c.len > 0)
			go_emit(&c, c.len);
		return 0;
	}
	/* A Read not followed is noted too, so that its return is not counted
	 * as a call whose entry was lost. */
	struct go_key k = go_key_of(ctx);
	struct go_call *p = bpf_map_lookup_elem(&go_calls, &k);
	if (p)
		*p = c;
	else
		bpf_map_update_elem(&go_calls, &k, &c, BPF_ANY); /* an LRU map: never full */
	return 0;
}

SEC("uprobe")
int go_tls_return(struct pt_regs *ctx)
{
	if (is_self())
		return 0;
	struct go_key k = go_key_of(ctx);
	__s64 n = GO_RC(ctx); /* n int; the error is in the next registers */
	struct go_call *p = bpf_map_lookup_elem(&go_calls, &k);
	if (!p || !p->live) {
		/* Its entry was evicted (or the probes came mid-call). */
		if (n > 0)
			count(COUNTER_TLS_CALLS_FULL, 1);
		return 0;
	}
	struct go_call c = *p;
	p->live = 0;
	if (c.sock && n > 0 && (__u64)n <= c.len)
		go_emit(&c, n);
	return 0;
}
