// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Syscall tracepoints: TCP connections and the bytes processes read and write
 * on them. Only tracepoints are used, no kprobes or fentry, so the programs
 * load on kernels built without them. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "kernel.h"
#include "events.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Typed pointers keep the event types in BTF, where bpf2go finds them. */
const struct data_event *unused_data_event __attribute__((unused));
const struct exec_event *unused_exec_event __attribute__((unused));
const enum event_kind *unused_event_kind __attribute__((unused));
const enum conn_role *unused_conn_role __attribute__((unused));
const enum data_dir *unused_data_dir __attribute__((unused));
const enum conn_policy *unused_conn_policy __attribute__((unused));
const enum counter *unused_counter __attribute__((unused));

/* Set by the loader: the collector's own process, never captured. */
volatile const __u32 self_tgid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20); /* the loader sets the configured size */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, COUNTER_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* What sys_enter saw, kept for sys_exit of the same thread: data is only in
 * the buffer after a read returns, and only the return says how much. */
struct call_args {
	__u64 sock;
	__u64 buf;    /* a buffer, or an array of struct iovec_user */
	__u64 iovcnt; /* number of iovecs when is_iov */
	__u64 ts_ns;  /* enter time: when the process handed over the bytes */
	__s32 fd;
	__u32 is_iov;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* pid_tgid */
	__type(value, struct call_args);
} calls SEC(".maps");

/* Per-connection payload policy, written by user space (enum conn_policy).
 * An LRU map: a lost entry means copying again, which is safe. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64); /* struct sock address */
	__type(value, __u32);
} policies SEC(".maps");

static __always_inline __u32 policy_of(struct sock *sk)
{
	__u64 key = (__u64)sk;
	__u32 *p = bpf_map_lookup_elem(&policies, &key);
	return p ? *p : POLICY_COPY;
}

/* forget_policy drops what user space said of an earlier connection that had
 * the same struct sock: a new connection starts copied. */
static __always_inline void forget_policy(struct sock *sk)
{
	__u64 key = (__u64)sk;
	bpf_map_delete_elem(&policies, &key);
}

/* Bytes of one direction of a socket whose events the full ring buffer
 * dropped; the next event of that direction reports them as lost_before so
 * user space knows the stream has a hole. */
struct lost_key {
	__u64 sock;
	__u32 dir;
	__u32 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct lost_key);
	__type(value, __u64);
} lost SEC(".maps");

static __always_inline void count(__u32 counter, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &counter);
	if (v)
		*v += n;
}

static __always_inline int is_self(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == self_tgid;
}

/* sock_from_fd follows task->files->fdt->fd[fd] to the struct sock behind a
 * TCP socket, or returns NULL for any other kind of fd. */
static __always_inline struct sock *sock_from_fd(__s32 fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt || fd < 0 || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;

	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	if (!f || (BPF_CORE_READ(f, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return NULL;

	struct socket *socket = BPF_CORE_READ(f, private_data);
	struct sock *sk = BPF_CORE_READ(socket, sk);
	if (!sk)
		return NULL;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return NULL;
	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP || BPF_CORE_READ(sk, sk_type) != SOCK_STREAM)
		return NULL;
	return sk;
}

static __always_inline void fill_header(struct event_header *h, __u8 kind, __u8 detail, __s32 fd,
					struct sock *sk, __u64 ts_ns)
{
	__u64 id = bpf_get_current_pid_tgid();

	__builtin_memset(h, 0, sizeof(*h));
	h->kind = kind;
	h->detail = detail;
	h->pid = id >> 32;
	h->tid = (__u32)id;
	h->fd = fd;
	h->ts_ns = ts_ns;
	h->sock = (__u64)sk;
	if (!sk)
		return;

	struct conn_tuple *t = &h->tuple;
	t->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	t->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	t->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (t->family == AF_INET) {
		__be32 a = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		__builtin_memcpy(t->saddr, &a, 4);
		a = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		__builtin_memcpy(t->daddr, &a, 4);
	} else {
		BPF_CORE_READ_INTO(&t->saddr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&t->daddr, sk, __sk_common.skc_v6_daddr);
	}
}

/* emit_header sends an event that is only a header. */
static __always_inline void emit_header(__u8 kind, __u8 detail, __s32 fd, struct sock *sk)
{
	struct event_header *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(COUNTER_RINGBUF_FULL, 1);
		return;
	}
	fill_header(e, kind, detail, fd, sk, bpf_ktime_get_ns());
	bpf_ringbuf_submit(e, 0);
}

#define DATA_HEADER_SIZE (sizeof(struct data_event) - MAX_CHUNK)

/* emit_sized sends one data event in a record with room for size bytes; the
 * clamp keeps the copy inside the record for the verifier. */
static __always_inline int emit_sized(struct event_header *h, __u64 buf, __u32 len, __u64 copy,
				      __u32 lost_before, const __u32 size)
{
	struct data_event *e = bpf_ringbuf_reserve(&events, DATA_HEADER_SIZE + size, 0);
	if (!e) {
		count(COUNTER_RINGBUF_FULL, 1);
		count(COUNTER_RINGBUF_FULL_BYTES, len);
		return -1;
	}
	__builtin_memcpy(&e->hdr, h, sizeof(*h));
	e->len = len;
	e->lost_before = lost_before;
	e->_pad = 0;
	/* The barrier keeps clang from dropping the clamp as redundant with the
	 * caller's branch: the verifier needs to see it next to the read. */
	asm volatile("" : "+r"(copy));
	if (copy > size)
		copy = size;
	if (bpf_probe_read_user(e->data, copy, (void *)buf))
		copy = 0; /* unreadable (paged out): the bytes count as not copied */
	e->copied = copy;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* emit_chunk sends one data event standing for len bytes of the stream, the
 * first copy (<= MAX_CHUNK) of them read from buf. Reservations must have
 * constant sizes, so small pieces go into one of two smaller record sizes
 * instead of wasting MAX_CHUNK of ring each. Returns 0 when sent. */
static __always_inline int emit_chunk(struct event_header *h, __u64 buf, __u32 len, __u64 copy,
				      __u32 lost_before)
{
	if (copy == 0)
		return emit_sized(h, buf, len, copy, lost_before, 0);
	if (copy <= 256)
		return emit_sized(h, buf, len, copy, lost_before, 256);
	if (copy <= 2048)
		return emit_sized(h, buf, len, copy, lost_before, 2048);
	return emit_sized(h, buf, len, copy, lost_before, MAX_CHUNK);
}

/* stream carries, across the chunks of one syscall, the bytes whose events
 * could not be sent, to report them on the next event that is. */
struct stream {
	__u32 lost;
};

/* emit_buffer sends buf[0:len) as up to MAX_CHUNKS events; the last one
 * stands for whatever MAX_CHUNKS * MAX_CHUNK could not hold. */
static __always_inline void emit_buffer(struct event_header *h, __u64 buf, __u64 len, struct stream *s)
{
	for (int i = 0; i < MAX_CHUNKS && len > 0; i++) {
		__u64 copy = len < MAX_CHUNK ? len : MAX_CHUNK;
		__u64 stands = i == MAX_CHUNKS - 1 ? len : copy;
		if (stands > 0xffffffff)
			stands = 0xffffffff;
		if (emit_chunk(h, buf, stands, copy, s->lost) == 0)
			s->lost = 0;
		else
			s->lost += stands;
		buf += copy;
		len -= stands;
	}
}

/* remember_call keeps a syscall's arguments for its exit. */
static __always_inline int remember_call(struct sock *sk, __s32 fd, __u64 buf, __u64 iovcnt, __u32 is_iov)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct call_args a = {
		.sock = (__u64)sk,
		.buf = buf,
		.iovcnt = iovcnt,
		.ts_ns = bpf_ktime_get_ns(),
		.fd = fd,
		.is_iov = is_iov,
	};
	if (bpf_map_update_elem(&calls, &id, &a, BPF_ANY))
		count(COUNTER_ARGS_FULL, 1);
	return 0;
}

static __always_inline int enter_data(__s32 fd, __u64 buf, __u64 iovcnt, __u32 is_iov)
{
	if (is_self())
		return 0;
	struct sock *sk = sock_from_fd(fd);
	if (!sk)
		return 0;
	switch (policy_of(sk)) {
	case POLICY_IGNORE:
		return 0;
	case POLICY_COUNT:
		return remember_call(sk, fd, 0, 0, 0); /* no buffer: exit reports the length only */
	}
	return remember_call(sk, fd, buf, iovcnt, is_iov);
}

static __always_inline int enter_msg(__s32 fd, __u64 msg)
{
	struct msghdr_user m = {};
	if (bpf_probe_read_user(&m, sizeof(m), (void *)msg))
		return 0;
	return enter_data(fd, (__u64)m.msg_iov, m.msg_iovlen, 1);
}

static __always_inline int exit_data(struct syscall_exit_ctx *ctx, __u8 dir)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct call_args *p = bpf_map_lookup_elem(&calls, &id);
	if (!p)
		return 0;
	struct call_args a = *p;
	bpf_map_delete_elem(&calls, &id);
	if (ctx->ret <= 0)
		return 0;

	/* A write is stamped when the process handed the bytes over, a read when
	 * it got them, so a request is never later than the response to it. */
	__u64 ts = dir == DIR_SEND ? a.ts_ns : bpf_ktime_get_ns();
	struct event_header h;
	fill_header(&h, EVENT_DATA, dir, a.fd, (struct sock *)a.sock, ts);

	struct stream s = {};
	struct lost_key k = {.sock = a.sock, .dir = dir};
	__u64 *before = bpf_map_lookup_elem(&lost, &k);
	if (before) {
		s.lost = *before;
		bpf_map_delete_elem(&lost, &k);
	}

	__u64 left = ctx->ret;
	if (!a.buf) {
		/* Count only: one event for the whole length, nothing copied. */
		if (emit_chunk(&h, 0, left > 0xffffffff ? 0xffffffff : left, 0, s.lost) == 0)
			s.lost = 0;
		else
			s.lost += left;
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
			if (emit_chunk(&h, 0, left > 0xffffffff ? 0xffffffff : left, 0, s.lost) == 0)
				s.lost = 0;
			else
				s.lost += left;
		}
	}

	if (s.lost) {
		__u64 v = s.lost;
		bpf_map_update_elem(&lost, &k, &v, BPF_ANY);
	}
	return 0;
}

/* Connections. */

SEC("tracepoint/syscalls/sys_enter_connect")
int enter_connect(struct syscall_enter_ctx *ctx)
{
	if (is_self())
		return 0;
	struct sock *sk = sock_from_fd(ctx->args[0]);
	return sk ? remember_call(sk, ctx->args[0], 0, 0, 0) : 0;
}

SEC("tracepoint/syscalls/sys_exit_connect")
int exit_connect(struct syscall_exit_ctx *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct call_args *p = bpf_map_lookup_elem(&calls, &id);
	if (!p)
		return 0;
	struct call_args a = *p;
	bpf_map_delete_elem(&calls, &id);
	/* A non-blocking connect returns EINPROGRESS with the addresses set. */
	if (ctx->ret == 0 || ctx->ret == -EINPROGRESS) {
		forget_policy((struct sock *)a.sock);
		emit_header(EVENT_CONN_OPEN, ROLE_CLIENT, a.fd, (struct sock *)a.sock);
	}
	return 0;
}

static __always_inline int exit_accept(struct syscall_exit_ctx *ctx)
{
	if (ctx->ret < 0 || is_self())
		return 0;
	/* The new fd is installed before accept returns; its sock has the peer
	 * even when the caller passed no address buffer. */
	struct sock *sk = sock_from_fd(ctx->ret);
	if (sk) {
		forget_policy(sk);
		emit_header(EVENT_CONN_OPEN, ROLE_SERVER, ctx->ret, sk);
	}
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept")
int exit_accept_(struct syscall_exit_ctx *ctx) { return exit_accept(ctx); }

SEC("tracepoint/syscalls/sys_exit_accept4")
int exit_accept4(struct syscall_exit_ctx *ctx) { return exit_accept(ctx); }

SEC("tracepoint/syscalls/sys_enter_close")
int enter_close(struct syscall_enter_ctx *ctx)
{
	if (is_self())
		return 0;
	struct sock *sk = sock_from_fd(ctx->args[0]);
	if (sk) {
		forget_policy(sk);
		emit_header(EVENT_CONN_CLOSE, 0, ctx->args[0], sk);
	}
	return 0;
}

/* Data. Enter remembers the buffer; exit reports what moved. */

SEC("tracepoint/syscalls/sys_enter_write")
int enter_write(struct syscall_enter_ctx *ctx) { return enter_data(ctx->args[0], ctx->args[1], 0, 0); }
SEC("tracepoint/syscalls/sys_exit_write")
int exit_write(struct syscall_exit_ctx *ctx) { return exit_data(ctx, DIR_SEND); }

SEC("tracepoint/syscalls/sys_enter_sendto")
int enter_sendto(struct syscall_enter_ctx *ctx) { return enter_data(ctx->args[0], ctx->args[1], 0, 0); }
SEC("tracepoint/syscalls/sys_exit_sendto")
int exit_sendto(struct syscall_exit_ctx *ctx) { return exit_data(ctx, DIR_SEND); }

SEC("tracepoint/syscalls/sys_enter_writev")
int enter_writev(struct syscall_enter_ctx *ctx) { return enter_data(ctx->args[0], ctx->args[1], ctx->args[2], 1); }
SEC("tracepoint/syscalls/sys_exit_writev")
int exit_writev(struct syscall_exit_ctx *ctx) { return exit_data(ctx, DIR_SEND); }

SEC("tracepoint/syscalls/sys_enter_sendmsg")
int enter_sendmsg(struct syscall_enter_ctx *ctx) { return enter_msg(ctx->args[0], ctx->args[1]); }
SEC("tracepoint/syscalls/sys_exit_sendmsg")
int exit_sendmsg(struct syscall_exit_ctx *ctx) { return exit_data(ctx, DIR_SEND); }

SEC("tracepoint/syscalls/sys_enter_read")
int enter_read(struct syscall_enter_ctx *ctx) { return enter_data(ctx->args[0], ctx->args[1], 0, 0); }
SEC("tracepoint/syscalls/sys_exit_read")
int exit_read(struct syscall_exit_ctx *ctx) { return exit_data(ctx, DIR_RECV); }

SEC("tracepoint/syscalls/sys_enter_recvfrom")
int enter_recvfrom(struct syscall_enter_ctx *ctx) { return enter_data(ctx->args[0], ctx->args[1], 0, 0); }
SEC("tracepoint/syscalls/sys_exit_recvfrom")
int exit_recvfrom(struct syscall_exit_ctx *ctx) { return exit_data(ctx, DIR_RECV); }

SEC("tracepoint/syscalls/sys_enter_readv")
int enter_readv(struct syscall_enter_ctx *ctx) { return enter_data(ctx->args[0], ctx->args[1], ctx->args[2], 1); }
SEC("tracepoint/syscalls/sys_exit_readv")
int exit_readv(struct syscall_exit_ctx *ctx) { return exit_data(ctx, DIR_RECV); }

SEC("tracepoint/syscalls/sys_enter_recvmsg")
int enter_recvmsg(struct syscall_enter_ctx *ctx) { return enter_msg(ctx->args[0], ctx->args[1]); }
SEC("tracepoint/syscalls/sys_exit_recvmsg")
int exit_recvmsg(struct syscall_exit_ctx *ctx) { return exit_data(ctx, DIR_RECV); }

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
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tracepoint/sched/sched_process_exit")
int process_exit(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	if ((__u32)id == (id >> 32)) /* the thread group leader: the process */
		emit_header(EVENT_PROC_EXIT, 0, -1, NULL);
	return 0;
}
