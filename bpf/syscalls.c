// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Syscall tracepoints: TCP connections and the bytes processes read and write
 * on them. Only tracepoints are used, no kprobes or fentry, so the programs
 * load on kernels built without them. */
#include "tlslib.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Typed pointers keep the event types in BTF, where bpf2go finds them. */
const struct data_event *unused_data_event __attribute__((unused));
const struct exec_event *unused_exec_event __attribute__((unused));
const struct close_event *unused_close_event __attribute__((unused));
const struct tls_bind_event *unused_tls_bind_event __attribute__((unused));
const struct lib_open_event *unused_lib_open_event __attribute__((unused));
const struct dns_event *unused_dns_event __attribute__((unused));
const enum event_kind *unused_event_kind __attribute__((unused));
const enum conn_role *unused_conn_role __attribute__((unused));
const enum data_dir *unused_data_dir __attribute__((unused));
const enum conn_policy *unused_conn_policy __attribute__((unused));
const struct policy_entry *unused_policy_entry __attribute__((unused));
const enum port_filter_mode *unused_port_filter_mode __attribute__((unused));
const enum counter *unused_counter __attribute__((unused));
const enum event_flag *unused_event_flag __attribute__((unused));
const enum tls_library *unused_tls_library __attribute__((unused));
const enum tls_cookie *unused_tls_cookie __attribute__((unused));

/* What sys_enter saw, kept for sys_exit of the same thread: data is only in
 * the buffer after a read returns, and only the return says how much. */
struct call_args {
	__u64 sock;   /* 0: no call in flight */
	__u64 buf;    /* a buffer, or an array of struct iovec_user */
	__u64 iovcnt; /* number of iovecs when is_iov */
	__u64 ts_ns;  /* enter time: when the process handed over the bytes */
	__s32 fd;
	__u16 is_iov;
	__u16 counted; /* POLICY_COUNT: exit adds the length to wire_bytes */
	/* The syscall's number: an exit takes only arguments its own syscall
	 * left. (An exit that found no slot, when the kernel's guard against
	 * nested task storage use refused it, leaves its call's arguments; the
	 * exits are attached before the enters, so attaching leaves none.) */
	__s32 nr;
	__u16 udp; /* enum udp_call: what exit does for a UDP socket */
	__u16 _pad;
};

/* What the exit of a call on a UDP socket does. */
enum udp_call {
	UDP_NONE = 0,   /* a TCP socket */
	UDP_LEARN = 1,  /* a query went to port 53: note the socket in dns_socks */
	UDP_ANSWER = 2, /* a read on a socket of dns_socks: copy it as EVENT_DNS */
};

/* Task storage: a thread's slot lives in its task_struct and goes with it,
 * so there is no table to fill, and reaching it costs far less than a hash
 * map's update, lookup and delete: enter_read went from 513 to 382 ns a run,
 * exit_write from 333 to 197 (make bench, go-https, 2026-11-29). */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct call_args);
} calls SEC(".maps");

/* remember_call keeps a syscall's arguments for its exit. */
static __always_inline int remember_call(__s32 nr, struct sock *sk, __s32 fd, __u64 buf, __u64 iovcnt,
					 __u16 is_iov, __u16 counted, __u16 udp)
{
	struct call_args *a = thread_slot(&calls, 1);
	if (!a) {
		count(COUNTER_ARGS_FULL, 1);
		return 0;
	}
	a->sock = (__u64)sk;
	a->buf = buf;
	a->iovcnt = iovcnt;
	/* A counted call's bytes go to wire_bytes, which needs no time: one
	 * clock read less on most syscalls of a TLS connection. */
	a->ts_ns = counted ? 0 : bpf_ktime_get_ns();
	a->fd = fd;
	a->is_iov = is_iov;
	a->counted = counted;
	a->nr = nr;
	a->udp = udp;
	return 0;
}

/* in_tls_call reports whether this syscall is made by a TLS library inside
 * SSL_read, SSL_write or the like, and notes the socket for the call: that
 * is how the plaintext finds its connection without knowing the library's
 * structures. */
static __always_inline int in_tls_call(__s32 fd, struct sock *sk)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct tls_call *c = thread_slot(&tls_calls, 0);
	if (!c || !c->ssl)
		return 0;
	c->fd = fd;
	struct ssl_key k = {.ssl = c->ssl, .tgid = id >> 32};
	/* Written only when it changed: most calls of an object use the socket
	 * its last call used, and a lookup costs far less than an LRU update. */
	struct sock_binding *old = bpf_map_lookup_elem(&ssl_socks, &k);
	if (!old || old->sock != (__u64)sk || old->fd != fd) {
		struct sock_binding b = {.sock = (__u64)sk, .fd = fd};
		bpf_map_update_elem(&ssl_socks, &k, &b, BPF_ANY);
	}
	return 1;
}

/* bind_pending tells user space which socket a TLS object's earlier
 * plaintext belongs to, when this write is the first on the thread since
 * that plaintext was written (see pending_bind). */
static __always_inline void bind_pending(__s32 fd, struct sock *sk)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u64 *ssl = thread_slot(&pending_bind, 0);
	if (!ssl || !*ssl)
		return;
	struct ssl_key k = {.ssl = *ssl, .tgid = id >> 32};
	struct sock_binding b = {.sock = (__u64)sk, .fd = fd};
	bpf_map_update_elem(&ssl_socks, &k, &b, BPF_ANY);
	struct tls_bind_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (e) {
		fill_header(&e->hdr, EVENT_TLS_BIND, 0, fd, sk, bpf_ktime_get_ns());
		e->ssl = *ssl;
		bpf_ringbuf_submit(e, wakeup(sizeof(*e)));
	} else {
		count(COUNTER_RINGBUF_FULL, 1);
	}
	*ssl = 0;
}

/* The wire bytes of each connection whose payload user space no longer
 * wants (POLICY_COUNT): counted here, not sent as an event per syscall, and
 * reported in the connection's close event. User space also reads them
 * every second (capture's readCounted). Most of them are TLS ciphertext,
 * half the events of an HTTPS request before. A plain hash, not an LRU: an
 * entry is never evicted under a live connection, nor reused while another
 * CPU still adds to it (elements are freed after an RCU grace period). An
 * entry goes with its connection's close, or when user space forgets the
 * connection; when the map is full, the bytes go out as events, as before. */
struct wire_count {
	__u64 sent;
	__u64 recv;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536);
	__type(key, __u64); /* struct sock address */
	__type(value, struct wire_count);
} wire_bytes SEC(".maps");

/* count_wire adds n bytes to sk's count; 0 when it could not, and an event
 * must carry them. */
static __always_inline int count_wire(__u64 sk, __u8 dir, __u64 n)
{
	struct wire_count *w = bpf_map_lookup_elem(&wire_bytes, &sk);
	if (!w) {
		/* Created only while the policy holds: not for a read that
		 * completed after the close removed it. */
		if (policy_of((struct sock *)sk) != POLICY_COUNT)
			return 0;
		struct wire_count zero = {};
		bpf_map_update_elem(&wire_bytes, &sk, &zero, BPF_NOEXIST);
		if (!(w = bpf_map_lookup_elem(&wire_bytes, &sk)))
			return 0;
	}
	__sync_fetch_and_add(dir == DIR_SEND ? &w->sent : &w->recv, n);
	return 1;
}

/* Connections filtered by their server port are ignored from their open, in
 * the kernel, so none of their bytes is ever copied: no open event, and the
 * policy IGNORE, set here rather than by user space after the fact. The
 * verifier prunes the lookup when no filter is set (port_filter is rodata). */
volatile const __u32 port_filter = PORT_FILTER_NONE;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024); /* capture.MaxFilterPorts */
	__type(key, __u16);        /* a server port, host order */
	__type(value, __u8);
} filter_ports SEC(".maps");

/* ignore_conn sets IGNORE for sk's connection from its open. The entry
 * names the ports, which tell a later connection on a reused struct sock. */
static __always_inline void ignore_conn(struct sock *sk)
{
	struct policy_entry p = {.policy = POLICY_IGNORE};
	p.sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	p.dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	__u64 key = (__u64)sk;
	bpf_map_update_elem(&policies, &key, &p, BPF_ANY);
}

/* ignored_by_port reports whether sk's server port (the remote one for a
 * client, the local one for a server) is filtered out. */
static __always_inline int ignored_by_port(struct sock *sk, int server)
{
	if (port_filter == PORT_FILTER_NONE)
		return 0;
	__u16 port = server ? BPF_CORE_READ(sk, __sk_common.skc_num)
			    : bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	int listed = bpf_map_lookup_elem(&filter_ports, &port) != NULL;
	return port_filter == PORT_FILTER_INCLUDE ? !listed : listed;
}

/* Processes filtered out (capture.Options.ExcludeExecutable), by tgid, are
 * ignored from their connections' open as filtered ports are. User space
 * enters a process when it learns of it (its exec, or /proc at start) and
 * removes it at exit; a process not judged yet (its exec event still in the
 * ring buffer) is judged by user space at its first connection, as without
 * this map. No lookup when no filter is set (process_filter is rodata). */
volatile const __u8 process_filter = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 32768); /* capture.Options.MaxProcesses, set at load */
	__type(key, __u32);         /* tgid */
	__type(value, __u8);
} ignored_processes SEC(".maps");

/* ignored sets IGNORE for sk's connection and reports true when its process
 * or its server port is filtered out. */
static __always_inline int ignored(struct sock *sk, int server)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	if ((process_filter && bpf_map_lookup_elem(&ignored_processes, &tgid)) || ignored_by_port(sk, server)) {
		ignore_conn(sk);
		return 1;
	}
	return 0;
}

/* take_wire_lost returns, and forgets, the wire bytes of sk's direction dir
 * lost at the end of the stream so far. */
static __always_inline __u32 take_wire_lost(struct sock *sk, __u32 dir)
{
	struct lost_key k = {.sock = (__u64)sk, .dir = dir};
	return take_lost(&k);
}

/* forget_conn drops what was kept of an earlier connection that had the
 * same struct sock: a new connection starts copied, uncounted, and with no
 * bytes lost (those of the earlier one, whose close event was dropped, would
 * be reported as a hole at its start). */
static __always_inline void forget_conn(struct sock *sk)
{
	__u64 key = (__u64)sk;
	forget_policy(sk);
	bpf_map_delete_elem(&wire_bytes, &key);
	take_wire_lost(sk, DIR_SEND);
	take_wire_lost(sk, DIR_RECV);
}

/* DNS. Connections are named by the answers their process read before it
 * opened them: a resolver sends its query on a UDP socket to port 53, either
 * connected there first (glibc, Go and musl do, then send and read) or with
 * the address in sendto or sendmsg. Such a socket is noted in dns_socks, and
 * what is read on it comes out as EVENT_DNS. Any other UDP socket costs its
 * reads and writes one lookup here, and a sendto or sendmsg with an address
 * a 4-byte read of the port. DNS over TCP is a TCP connection like any
 * other: user space reads it. */
#define DNS_PORT 53

/* The UDP sockets a DNS query was sent on, keyed by struct sock address,
 * with the local port they had then: an entry left by a socket whose memory
 * a new one reuses names another port, and is not the new one's. An LRU: a
 * lost entry loses that socket's next answers, nothing else. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u32);
} dns_socks SEC(".maps");

static __always_inline __u16 local_port(struct sock *sk)
{
	if (kernel_casts())
		return kernel_cast(sk, struct sock_common)->skc_num;
	return BPF_CORE_READ(sk, __sk_common.skc_num);
}

static __always_inline int is_dns_sock(struct sock *sk)
{
	__u64 key = (__u64)sk;
	__u32 *port = bpf_map_lookup_elem(&dns_socks, &key);
	return port && *port == local_port(sk);
}

/* dest_port is the port of the socket address at addr (user memory), or 0. */
static __always_inline __u16 dest_port(__u64 addr)
{
	struct sockaddr_port_user a = {};
	if (!addr || bpf_probe_read_user(&a, sizeof(a), (void *)addr))
		return 0;
	if (a.family != AF_INET && a.family != AF_INET6)
		return 0;
	return bpf_ntohs(a.port);
}

/* enter_udp remembers a call on a UDP socket when its exit has something to
 * do: a read on a DNS socket, or a query sent to port 53 (dest: the address
 * of a sendto or sendmsg, else 0). */
static __always_inline int enter_udp(__s32 nr, struct sock *sk, __s32 fd, __u64 buf, __u64 iovcnt,
				     __u32 is_iov, __u8 dir, __u64 dest)
{
	if (is_dns_sock(sk))
		return dir == DIR_RECV ? remember_call(nr, sk, fd, buf, iovcnt, is_iov, 0, UDP_ANSWER) : 0;
	if (dir == DIR_SEND && dest_port(dest) == DNS_PORT)
		return remember_call(nr, sk, fd, 0, 0, 0, 0, UDP_LEARN);
	return 0;
}

/* learn_dns_sock notes sk as a socket DNS queries go out on. At the exit of
 * the call: an unbound socket gets its local port in it. */
static __always_inline void learn_dns_sock(struct sock *sk)
{
	__u64 key = (__u64)sk;
	__u32 port = local_port(sk);
	bpf_map_update_elem(&dns_socks, &key, &port, BPF_ANY);
}

/* emit_dns sends what a read on a DNS socket returned: n bytes in the
 * buffer, or in the first of the iovecs, a->buf. */
static __always_inline void emit_dns(struct call_args *a, __u64 n)
{
	__u64 buf = a->buf;
	__u64 room = n;
	if (a->is_iov) {
		struct iovec_user iov = {};
		if (a->iovcnt == 0 || bpf_probe_read_user(&iov, sizeof(iov), (void *)buf))
			return;
		buf = (__u64)iov.iov_base;
		room = iov.iov_len < n ? iov.iov_len : n;
	}
	struct dns_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(COUNTER_RINGBUF_FULL, 1);
		return;
	}
	fill_header(&e->hdr, EVENT_DNS, DIR_RECV, a->fd, (struct sock *)a->sock, bpf_ktime_get_ns());
	__u64 copy = room;
	asm volatile("" : "+r"(copy)); /* keep the clamp next to the read: see emit_sized */
	if (copy > MAX_DNS)
		copy = MAX_DNS;
	if (bpf_probe_read_user(e->data, copy, (void *)buf))
		copy = 0;
	e->len = n > 0xffffffff ? 0xffffffff : n;
	e->copied = copy;
	bpf_ringbuf_submit(e, wakeup(sizeof(*e)));
}

static __always_inline int enter_data(__s32 nr, __s32 fd, __u64 buf, __u64 iovcnt, __u32 is_iov, __u8 dir,
				      __u64 dest)
{
	if (is_self())
		return 0;
	int udp = 0;
	struct sock *sk = inet_sock_from_fd(fd, &udp);
	if (!sk)
		return 0;
	if (udp)
		return enter_udp(nr, sk, fd, buf, iovcnt, is_iov, dir, dest);
	int tls = in_tls_call(fd, sk); /* first: the library's call needs the socket even if ignored */
	__u32 policy = policy_of(sk);
	if (policy == POLICY_IGNORE)
		return 0;
	if (dir == DIR_SEND)
		bind_pending(fd, sk);
	/* No buffer: exit reports the length only. Inside a TLS call these are
	 * ciphertext, the plaintext comes from the library. */
	if (tls || policy == POLICY_COUNT)
		return remember_call(nr, sk, fd, 0, 0, 0, policy == POLICY_COUNT, UDP_NONE);
	return remember_call(nr, sk, fd, buf, iovcnt, is_iov, 0, UDP_NONE);
}

static __always_inline int enter_msg(__s32 nr, __s32 fd, __u64 msg, __u8 dir)
{
	struct msghdr_user m = {};
	if (bpf_probe_read_user(&m, sizeof(m), (void *)msg))
		return 0;
	return enter_data(nr, fd, (__u64)m.msg_iov, m.msg_iovlen, 1, dir, (__u64)m.msg_name);
}

/* take_call moves the thread's remembered arguments of syscall nr into a. */
static __always_inline int take_call(__s32 nr, struct call_args *a)
{
	struct call_args *p = thread_slot(&calls, 0);
	if (!p || !p->sock)
		return 0;
	*a = *p;
	p->sock = 0;
	return a->nr == nr;
}

static __always_inline int exit_data(struct syscall_exit_ctx *ctx, __u8 dir)
{
	struct call_args a;
	if (!take_call(ctx->nr, &a))
		return 0;
	if (ctx->ret <= 0)
		return 0;
	if (a.udp == UDP_LEARN) {
		learn_dns_sock((struct sock *)a.sock);
		return 0;
	}
	if (a.udp == UDP_ANSWER) {
		emit_dns(&a, ctx->ret);
		return 0;
	}
	if (dir == DIR_RECV) {
		struct sock_binding *b = thread_slot(&last_read, 1);
		if (b) {
			b->sock = a.sock;
			b->fd = a.fd;
		}
	}
	if (a.counted && count_wire(a.sock, dir, ctx->ret))
		return 0;

	/* A write is stamped when the process handed the bytes over, a read when
	 * it got them, so a request is never later than the response to it. */
	__u64 ts = dir == DIR_SEND && a.ts_ns ? a.ts_ns : bpf_ktime_get_ns();
	struct event_header h;
	fill_header(&h, EVENT_DATA, dir, a.fd, (struct sock *)a.sock, ts);

	struct lost_key k = {.sock = a.sock, .dir = dir};
	struct lost_key peer = {.sock = a.sock, .dir = dir == DIR_SEND ? DIR_RECV : DIR_SEND};
	struct pending_lost s = {.lost = take_lost(&k), .peer = take_lost(&peer)};

	__u64 left = ctx->ret;
	if (!a.buf) {
		emit_length(&h, left, &s); /* count only */
	} else if (!a.is_iov) {
		emit_buffer(&h, a.buf, left, &s);
	} else {
		for (int i = 0; i < MAX_IOV && i < a.iovcnt && left > 0; i++) {
			struct iovec_user iov = {};
			if (bpf_probe_read_user(&iov, sizeof(iov), (void *)(a.buf + i * sizeof(iov))))
				break;
			__u64 n = iov.iov_len < left ? iov.iov_len : left;
			emit_buffer(&h, (__u64)iov.iov_base, n, &s);
			left -= n;
		}
		if (left > 0) {
			/* More iovecs than we walk: the rest is reported, not copied. */
			count(COUNTER_IOV_LIMIT, 1);
			emit_length(&h, left, &s);
		}
	}

	keep_lost(&k, &s);
	put_lost(&peer, s.peer); /* no event went: still to report */
	return 0;
}

/* Connections. */

SEC("tracepoint/syscalls/sys_enter_connect")
int enter_connect(struct syscall_enter_ctx *ctx)
{
	if (is_self())
		return 0;
	int udp = 0;
	struct sock *sk = inet_sock_from_fd(ctx->args[0], &udp);
	if (!sk)
		return 0;
	if (!udp)
		return remember_call(ctx->nr, sk, ctx->args[0], 0, 0, 0, 0, UDP_NONE);
	/* A UDP socket connected to port 53 is a resolver's; connected
	 * elsewhere (or disconnected, AF_UNSPEC) it is no longer. */
	if (dest_port(ctx->args[1]) == DNS_PORT)
		return remember_call(ctx->nr, sk, ctx->args[0], 0, 0, 0, 0, UDP_LEARN);
	__u64 key = (__u64)sk;
	bpf_map_delete_elem(&dns_socks, &key);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_connect")
int exit_connect(struct syscall_exit_ctx *ctx)
{
	struct call_args a;
	if (!take_call(ctx->nr, &a))
		return 0;
	if (a.udp == UDP_LEARN) {
		if (ctx->ret == 0)
			learn_dns_sock((struct sock *)a.sock);
		return 0;
	}
	/* A non-blocking connect returns EINPROGRESS with the addresses set. */
	if (ctx->ret == 0 || ctx->ret == -EINPROGRESS) {
		forget_conn((struct sock *)a.sock);
		if (!ignored((struct sock *)a.sock, 0))
			emit_header(EVENT_CONN_OPEN, ROLE_CLIENT, a.fd, (struct sock *)a.sock);
	}
	return 0;
}

static __always_inline int accepted(struct syscall_exit_ctx *ctx)
{
	if (ctx->ret < 0 || is_self())
		return 0;
	/* The new fd is installed before accept returns; its sock has the peer
	 * even when the caller passed no address buffer. */
	struct sock *sk = sock_from_fd(ctx->ret);
	if (sk) {
		forget_conn(sk);
		if (!ignored(sk, 1))
			emit_header(EVENT_CONN_OPEN, ROLE_SERVER, ctx->ret, sk);
	}
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept")
int exit_accept(struct syscall_exit_ctx *ctx) { return accepted(ctx); }

SEC("tracepoint/syscalls/sys_exit_accept4")
int exit_accept4(struct syscall_exit_ctx *ctx) { return accepted(ctx); }

/* A connection ends when TCP says so, not at close(2): a dup'd or inherited
 * fd keeps the socket open, and a reset ends it without a close. */
SEC("tracepoint/sock/inet_sock_set_state")
int sock_state(struct inet_sock_set_state_ctx *ctx)
{
	if (ctx->newstate != TCP_CLOSE || ctx->protocol != IPPROTO_TCP)
		return 0;
	struct sock *sk = (struct sock *)ctx->skaddr;
	__u64 key = (__u64)sk;
	struct close_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		/* The count stays: user space's next read hands it to the
		 * connection, still tracked, and deletes it with the connection
		 * (capture's forgetConn), or a new connection on the sock does. */
		count(COUNTER_RINGBUF_FULL, 1);
		forget_policy(sk);
		return 0;
	}
	fill_header(&e->hdr, EVENT_CONN_CLOSE, 0, -1, sk, bpf_ktime_get_ns());
	struct wire_count *w = bpf_map_lookup_elem(&wire_bytes, &key);
	e->counted_sent = w ? w->sent : 0;
	e->counted_recv = w ? w->recv : 0;
	/* Taken once the event is sure to go: a dropped close leaves them
	 * for user space, which looks them up when it forgets the connection. */
	e->lost_sent = take_wire_lost(sk, DIR_SEND);
	e->lost_recv = take_wire_lost(sk, DIR_RECV);
	struct tcp_sock *tp = (struct tcp_sock *)sk;
	e->unread = BPF_CORE_READ(tp, rcv_nxt) - BPF_CORE_READ(tp, copied_seq);
	e->_pad = 0;
	bpf_ringbuf_submit(e, wakeup(sizeof(*e)));
	forget_conn(sk);
	return 0;
}

/* Data. Enter remembers the buffer; exit reports what moved. */

SEC("tracepoint/syscalls/sys_enter_write")
int enter_write(struct syscall_enter_ctx *ctx) { return enter_data(ctx->nr, ctx->args[0], ctx->args[1], 0, 0, DIR_SEND, 0); }
SEC("tracepoint/syscalls/sys_exit_write")
int exit_write(struct syscall_exit_ctx *ctx) { return exit_data(ctx, DIR_SEND); }

SEC("tracepoint/syscalls/sys_enter_sendto")
int enter_sendto(struct syscall_enter_ctx *ctx) { return enter_data(ctx->nr, ctx->args[0], ctx->args[1], 0, 0, DIR_SEND, ctx->args[4]); }
SEC("tracepoint/syscalls/sys_exit_sendto")
int exit_sendto(struct syscall_exit_ctx *ctx) { return exit_data(ctx, DIR_SEND); }

SEC("tracepoint/syscalls/sys_enter_writev")
int enter_writev(struct syscall_enter_ctx *ctx) { return enter_data(ctx->nr, ctx->args[0], ctx->args[1], ctx->args[2], 1, DIR_SEND, 0); }
SEC("tracepoint/syscalls/sys_exit_writev")
int exit_writev(struct syscall_exit_ctx *ctx) { return exit_data(ctx, DIR_SEND); }

SEC("tracepoint/syscalls/sys_enter_sendmsg")
int enter_sendmsg(struct syscall_enter_ctx *ctx) { return enter_msg(ctx->nr, ctx->args[0], ctx->args[1], DIR_SEND); }
SEC("tracepoint/syscalls/sys_exit_sendmsg")
int exit_sendmsg(struct syscall_exit_ctx *ctx) { return exit_data(ctx, DIR_SEND); }

SEC("tracepoint/syscalls/sys_enter_read")
int enter_read(struct syscall_enter_ctx *ctx) { return enter_data(ctx->nr, ctx->args[0], ctx->args[1], 0, 0, DIR_RECV, 0); }
SEC("tracepoint/syscalls/sys_exit_read")
int exit_read(struct syscall_exit_ctx *ctx) { return exit_data(ctx, DIR_RECV); }

SEC("tracepoint/syscalls/sys_enter_recvfrom")
int enter_recvfrom(struct syscall_enter_ctx *ctx) { return enter_data(ctx->nr, ctx->args[0], ctx->args[1], 0, 0, DIR_RECV, 0); }
SEC("tracepoint/syscalls/sys_exit_recvfrom")
int exit_recvfrom(struct syscall_exit_ctx *ctx) { return exit_data(ctx, DIR_RECV); }

SEC("tracepoint/syscalls/sys_enter_readv")
int enter_readv(struct syscall_enter_ctx *ctx) { return enter_data(ctx->nr, ctx->args[0], ctx->args[1], ctx->args[2], 1, DIR_RECV, 0); }
SEC("tracepoint/syscalls/sys_exit_readv")
int exit_readv(struct syscall_exit_ctx *ctx) { return exit_data(ctx, DIR_RECV); }

SEC("tracepoint/syscalls/sys_enter_recvmsg")
int enter_recvmsg(struct syscall_enter_ctx *ctx) { return enter_msg(ctx->nr, ctx->args[0], ctx->args[1], DIR_RECV); }
SEC("tracepoint/syscalls/sys_exit_recvmsg")
int exit_recvmsg(struct syscall_exit_ctx *ctx) { return exit_data(ctx, DIR_RECV); }

/* Scratch for the path of an openat: too big for the stack, and most opens
 * are not reported. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lib_open_event);
} lib_scratch SEC(".maps");

/* The file names of the TLS libraries that are shared libraries, set by the
 * loader from its table of libraries (internal/capture, tlsLibraries): a
 * process opening one is reported. */
#define MAX_LIB_FILES 4
#define MAX_LIB_FILE_NAME 16 /* libgnutls.so.30 is 15 */

struct lib_file_name {
	char prefix[MAX_LIB_FILE_NAME]; /* how the file name starts: "libssl.so" */
	__u32 len;                      /* of prefix; 0 for an unused slot */
};

volatile const struct lib_file_name tls_lib_files[MAX_LIB_FILES];

/* has_prefix reports whether path[at:at+n) begins with lib's prefix. */
static __always_inline int has_prefix(const char *path, __u32 at, __u32 n, const volatile struct lib_file_name *lib)
{
	__u32 len = lib->len;
	if (len == 0 || len > n)
		return 0;
	for (__u32 i = 0; i < MAX_LIB_FILE_NAME && i < len; i++)
		if (path[(at + i) & (MAX_FILENAME - 1)] != lib->prefix[i])
			return 0;
	return 1;
}

SEC("tracepoint/syscalls/sys_enter_openat")
int enter_openat(struct syscall_enter_ctx *ctx)
{
	if (is_self())
		return 0;
	__u32 zero = 0;
	struct lib_open_event *e = bpf_map_lookup_elem(&lib_scratch, &zero);
	if (!e)
		return 0;
	long n = bpf_probe_read_user_str(e->path, sizeof(e->path), (void *)ctx->args[1]);
	if (n <= 1)
		return 0;
	/* The file name follows the last '/' and is at most MAX_LIB_FILE_NAME
	 * bytes (libssl.so, libssl.so.3, libssl.so.1.1, libgnutls.so.30...). The
	 * search is bounded by that length, not by the path's: the verifier walks
	 * a loop once per iteration it may take. */
	__u32 len = n - 1, name = 0;
	for (__u32 i = 1; i <= MAX_LIB_FILE_NAME + 1 && i <= len; i++) {
		if (e->path[(len - i) & (MAX_FILENAME - 1)] == '/') {
			name = len - i + 1;
			break;
		}
	}
	if (name == 0)
		return 0;
	int match = 0;
	for (int j = 0; j < MAX_LIB_FILES && !match; j++)
		match = has_prefix(e->path, name, len - name, &tls_lib_files[j]);
	if (!match)
		return 0;
	fill_header(&e->hdr, EVENT_LIB_OPEN, 0, -1, NULL, bpf_ktime_get_ns());
	e->path_len = n - 1;
	/* The reader is woken at once, not at the next batch or poll (up to
	 * 10 ms): the probes race the process's first call into the library,
	 * and a TLS library's open is rare enough for a wakeup each. */
	if (bpf_ringbuf_output(&events, e, sizeof(*e), BPF_RB_FORCE_WAKEUP))
		count(COUNTER_RINGBUF_FULL, 1);
	return 0;
}

/* Processes: user space reads /proc on exec and forgets the process on exit. */

SEC("tracepoint/sched/sched_process_exec")
int process_exec(struct sched_process_exec_ctx *ctx)
{
	struct exec_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(COUNTER_RINGBUF_FULL, 1);
		return 0;
	}
	fill_header(&e->hdr, EVENT_PROC_EXEC, 0, -1, NULL, bpf_ktime_get_ns());

	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	e->start_boottime_ns = BPF_CORE_READ(task, start_boottime);
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->uid = BPF_CORE_READ(task, cred, uid.val);
	e->_pad = 0;

	long n = bpf_probe_read_kernel_str(e->filename, sizeof(e->filename),
					   (void *)ctx + (ctx->filename_loc & 0xffff));
	e->filename_len = n > 0 ? n - 1 : 0;

	/* The new program's argv is already in place at this tracepoint. */
	unsigned long start = BPF_CORE_READ(task, mm, arg_start);
	unsigned long len = BPF_CORE_READ(task, mm, arg_end) - start;
	if (len > MAX_ARGS)
		len = MAX_ARGS;
	if (bpf_probe_read_user(e->args, len, (void *)start))
		len = 0;
	e->args_len = len;
	bpf_ringbuf_submit(e, wakeup(sizeof(*e)));
	return 0;
}

SEC("tracepoint/sched/sched_process_exit")
int process_exit(void *ctx)
{
	/* The process is gone with its last thread. (What a thread had in
	 * flight goes with it: the per-thread maps are task storage.) */
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	if (BPF_CORE_READ(task, signal, live.counter) == 0)
		emit_header(EVENT_PROC_EXIT, 0, -1, NULL);
	return 0;
}
