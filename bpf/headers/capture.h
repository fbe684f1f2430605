/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* What every capture program uses: the ring buffer, the counters, the
 * per-connection policies and the bytes lost per stream, and the code that
 * finds a socket and sends events. Every object that includes this declares
 * these four maps; the loader creates them once, with the syscall object, and
 * hands them to the others, so all programs see one set. Maps that only some
 * objects share live in their own header (tlslib.h). */
#pragma once

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "kernel.h"
#include "events.h"

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

/* Bytes of one direction of a socket whose events the full ring buffer
 * dropped; the next event of that direction reports them as lost_before so
 * user space knows the stream has a hole. */
struct lost_key {
	__u64 sock;
	__u32 dir;   /* enum data_dir */
	__u32 flags; /* event_header.flags: plaintext and wire bytes are two streams */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct lost_key);
	__type(value, __u64);
} lost SEC(".maps");

/* wakeup says whether submitting a record of size bytes wakes the reader.
 * A wakeup costs the traced process an interrupt: the kernel signals itself
 * with an IPI, an APIC write that traps in a VM guest. So the reader is woken
 * when the waiting bytes cross a multiple of 1 << wakeup_shift (64 KiB, or a
 * quarter of a smaller ring buffer, which would otherwise never fill that
 * far: user space sets it), not for every record, and polls every few
 * milliseconds for fewer (capture.pollInterval). Waking on every record
 * while more than 64 KiB waited, as this did before, spent 11% of the host's
 * CPU in that APIC write under wrk (perf, 2026-11-29). Two records submitted
 * at once on two CPUs may both miss a crossing: the poll catches that. */
volatile const __u32 wakeup_shift = 16;

static __always_inline __u64 wakeup(__u64 size)
{
	/* The waiting bytes include this record once reserved, with the ring's
	 * 8-byte record header (BPF_RINGBUF_HDR_SZ). */
	size += 8;
	__u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	if (avail < size)
		return BPF_RB_NO_WAKEUP;
	return avail >> wakeup_shift != (avail - size) >> wakeup_shift ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

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

/* Kernel structures are read in one of two ways. Where the kernel has the
 * bpf_rdonly_cast kfunc (Linux 6.2+), a pointer is cast to its BTF type and
 * its fields are read by plain loads, which the JIT inlines with a fault
 * handler; elsewhere, or with probe_reads_only (Options.ProbeReads, the
 * tested fallback), each field costs a bpf_probe_read_kernel call. The casts
 * cut enter_read from 757 to 513 ns a run and go_tls_enter from 1353 to
 * 1026 (make bench, go-https, 2026-11-29). The branch not taken is pruned
 * by the verifier: both conditions are constants at load. */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym __weak;

volatile const __u32 probe_reads_only = 0;

static __always_inline int kernel_casts(void)
{
	return !probe_reads_only && !!bpf_rdonly_cast;
}

#define kernel_cast(ptr, type) ((type *)bpf_rdonly_cast((void *)(ptr), bpf_core_type_id_kernel(type)))

/* Per-connection payload policy, written by user space (struct
 * policy_entry). An LRU map: a lost entry means copying again, which is safe. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64); /* struct sock address */
	__type(value, struct policy_entry);
} policies SEC(".maps");

/* sock_ports reads sk's local and remote ports, in host order. A struct sock
 * is reused for later connections: its ports tell them apart. */
static __always_inline void sock_ports(struct sock *sk, __u16 *sport, __u16 *dport)
{
	if (kernel_casts()) {
		struct sock_common *c = kernel_cast(sk, struct sock_common);
		*sport = c->skc_num;
		*dport = bpf_ntohs(c->skc_dport);
	} else {
		*sport = BPF_CORE_READ(sk, __sk_common.skc_num);
		*dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	}
}

/* policy_of is the policy user space set for sk's connection: an entry
 * written for an earlier connection of the same sock (its ports differ) is
 * not this one's, which is copied. The ports are read only when an entry
 * exists, off the common path of followed connections. */
static __always_inline __u32 policy_of(struct sock *sk)
{
	__u64 key = (__u64)sk;
	struct policy_entry *p = bpf_map_lookup_elem(&policies, &key);
	if (!p)
		return POLICY_COPY;
	__u16 sport, dport;
	sock_ports(sk, &sport, &dport);
	if (p->sport != sport || p->dport != dport)
		return POLICY_COPY;
	return p->policy;
}

/* forget_policy drops what user space said of an earlier connection that had
 * the same struct sock: a new connection starts copied. */
static __always_inline void forget_policy(struct sock *sk)
{
	__u64 key = (__u64)sk;
	bpf_map_delete_elem(&policies, &key);
}

/* inet_kind returns sk when it is a TCP stream socket (*udp = 0) or a UDP
 * datagram socket (*udp = 1), else NULL. */
static __always_inline struct sock *inet_kind(struct sock *sk, __u16 protocol, __u16 type, int *udp)
{
	if (protocol == IPPROTO_TCP && type == SOCK_STREAM) {
		*udp = 0;
		return sk;
	}
	if (protocol == IPPROTO_UDP && type == SOCK_DGRAM) {
		*udp = 1;
		return sk;
	}
	return NULL;
}

/* inet_sock_from_fd_cast is inet_sock_from_fd with kernel casts. Only the fd
 * table's slot is read with a helper: its type, a pointer to pointers, is
 * not a struct the verifier can follow. */
static __always_inline struct sock *inet_sock_from_fd_cast(__s32 fd, int *udp)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = task->files->fdt;
	if (fd < 0 || (unsigned int)fd >= fdt->max_fds)
		return NULL;
	struct file *f = NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &fdt->fd[fd]);
	if (!f)
		return NULL;
	f = kernel_cast(f, struct file);
	if ((f->f_inode->i_mode & S_IFMT) != S_IFSOCK)
		return NULL;
	struct socket *so = kernel_cast(f->private_data, struct socket);
	struct sock *sk = so->sk;
	if (!sk)
		return NULL;
	__u16 family = sk->__sk_common.skc_family;
	if (family != AF_INET && family != AF_INET6)
		return NULL;
	return inet_kind(sk, sk->sk_protocol, sk->sk_type, udp);
}

/* inet_sock_from_fd follows task->files->fdt->fd[fd] to the struct sock
 * behind a TCP or a UDP socket (*udp says which), or returns NULL for any
 * other kind of fd. */
static __always_inline struct sock *inet_sock_from_fd(__s32 fd, int *udp)
{
	if (kernel_casts())
		return inet_sock_from_fd_cast(fd, udp);
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
	return inet_kind(sk, BPF_CORE_READ(sk, sk_protocol), BPF_CORE_READ(sk, sk_type), udp);
}

/* sock_from_fd is the struct sock behind a TCP socket, or NULL for any other
 * kind of fd. */
static __always_inline struct sock *sock_from_fd(__s32 fd)
{
	int udp = 0;
	struct sock *sk = inet_sock_from_fd(fd, &udp);
	return udp ? NULL : sk;
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
	__be32 saddr, daddr;
	if (kernel_casts()) {
		struct sock_common *c = kernel_cast(sk, struct sock_common); /* the first member of struct sock */
		t->family = c->skc_family;
		t->sport = c->skc_num;
		t->dport = bpf_ntohs(c->skc_dport);
		saddr = c->skc_rcv_saddr;
		daddr = c->skc_daddr;
	} else {
		t->family = BPF_CORE_READ(sk, __sk_common.skc_family);
		t->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
		t->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
		saddr = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		daddr = BPF_CORE_READ(sk, __sk_common.skc_daddr);
	}
	if (t->family == AF_INET) {
		__builtin_memcpy(t->saddr, &saddr, 4);
		__builtin_memcpy(t->daddr, &daddr, 4);
	} else {
		/* IPv6: the 16-byte addresses are copied by the helper, either way. */
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
	bpf_ringbuf_submit(e, wakeup(sizeof(*e)));
}

#define DATA_HEADER_SIZE (sizeof(struct data_event) - MAX_CHUNK)

/* emit_sized sends one data event in a record with room for size bytes; the
 * clamp keeps the copy inside the record for the verifier. */
static __always_inline int emit_sized(struct event_header *h, __u64 buf, __u32 len, __u64 copy,
				      __u32 lost_before, __u32 lost_peer, const __u32 size)
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
	e->lost_peer = lost_peer;
	/* The barrier keeps clang from dropping the clamp as redundant with the
	 * caller's branch: the verifier needs to see it next to the read. */
	asm volatile("" : "+r"(copy));
	if (copy > size)
		copy = size;
	if (bpf_probe_read_user(e->data, copy, (void *)buf))
		copy = 0; /* unreadable (paged out): the bytes count as not copied */
	e->copied = copy;
	bpf_ringbuf_submit(e, wakeup(DATA_HEADER_SIZE + size));
	return 0;
}

/* emit_chunk sends one data event standing for len bytes of the stream, the
 * first copy (<= MAX_CHUNK) of them read from buf. Reservations must have
 * constant sizes, so small pieces go into one of two smaller record sizes
 * instead of wasting MAX_CHUNK of ring each. Returns 0 when sent. */
static __always_inline int emit_chunk(struct event_header *h, __u64 buf, __u32 len, __u64 copy,
				      __u32 lost_before, __u32 lost_peer)
{
	if (copy == 0)
		return emit_sized(h, buf, len, copy, lost_before, lost_peer, 0);
	if (copy <= 256)
		return emit_sized(h, buf, len, copy, lost_before, lost_peer, 256);
	if (copy <= 2048)
		return emit_sized(h, buf, len, copy, lost_before, lost_peer, 2048);
	return emit_sized(h, buf, len, copy, lost_before, lost_peer, MAX_CHUNK);
}

/* pending_lost carries, across the events of one call, the bytes whose
 * events could not be sent, to report them on the next event that is; and
 * the other direction's, reported on the first event sent. */
struct pending_lost {
	__u32 lost;
	__u32 peer;
};

/* emit_buffer sends buf[0:len) as up to MAX_CHUNKS events; the last one
 * stands for whatever MAX_CHUNKS * MAX_CHUNK could not hold. */
static __always_inline void emit_buffer(struct event_header *h, __u64 buf, __u64 len, struct pending_lost *s)
{
	for (int i = 0; i < MAX_CHUNKS && len > 0; i++) {
		__u64 copy = len < MAX_CHUNK ? len : MAX_CHUNK;
		__u64 stands = i == MAX_CHUNKS - 1 ? len : copy;
		if (stands > 0xffffffff)
			stands = 0xffffffff;
		if (emit_chunk(h, buf, stands, copy, s->lost, s->peer) == 0)
			s->lost = s->peer = 0;
		else
			s->lost += stands;
		buf += copy;
		len -= stands;
	}
}

/* emit_length sends one event standing for len bytes, none copied: for
 * bytes that are counted, not captured. */
static __always_inline void emit_length(struct event_header *h, __u64 len, struct pending_lost *s)
{
	__u32 n = len > 0xffffffff ? 0xffffffff : len;
	if (emit_chunk(h, 0, n, 0, s->lost, s->peer) == 0)
		s->lost = s->peer = 0;
	else
		s->lost += n;
}

/* lost_entries is at least the number of entries this object put in lost
 * and has not taken back (evictions and rewrites leave it higher, which is
 * safe): while it is 0, which it is until the ring buffer overflows, no event
 * pays for a lookup in lost. After an overflow whose stream never sent again
 * (user space takes those entries without counting down) it stays above 0,
 * and every data event pays the lookups, its own stream's and the other
 * direction's, as all did before. A stream's lost bytes are put and
 * taken by one object (syscalls for the wire, tlslib or gotls for the
 * plaintext), so a global of each object is enough. Without it every data
 * event paid a hash lookup that found nothing. */
__u64 lost_entries = 0;

/* take_lost returns, and forgets, the bytes of k's stream whose events were
 * dropped earlier. */
static __always_inline __u32 take_lost(struct lost_key *k)
{
	if (lost_entries == 0)
		return 0;
	__u64 *before = bpf_map_lookup_elem(&lost, k);
	if (!before)
		return 0;
	__u32 n = *before;
	/* Only the caller whose delete removed the entry reports it: the other
	 * direction's events, on another thread, may take it at once. */
	if (bpf_map_delete_elem(&lost, k))
		return 0;
	__sync_fetch_and_sub(&lost_entries, 1);
	return n;
}

/* put_lost adds n bytes of k's stream that could not be reported, for the
 * next event. Added, not written: since a data event carries the other
 * direction's losses, a reader's thread puts back the writer's while the
 * writer keeps its own, both when the ring buffer is full. */
static __always_inline void put_lost(struct lost_key *k, __u32 n)
{
	if (!n)
		return;
	__u64 *v = bpf_map_lookup_elem(&lost, k);
	if (v) {
		__sync_fetch_and_add(v, n);
		return;
	}
	__u64 first = n;
	__sync_fetch_and_add(&lost_entries, 1); /* before the entry: never 0 while it exists */
	if (bpf_map_update_elem(&lost, k, &first, BPF_NOEXIST) == 0)
		return;
	/* Another CPU put the entry in between: add to it. */
	__sync_fetch_and_sub(&lost_entries, 1);
	if ((v = bpf_map_lookup_elem(&lost, k)))
		__sync_fetch_and_add(v, n);
}

/* keep_lost remembers bytes that could not be reported, for the next event. */
static __always_inline void keep_lost(struct lost_key *k, struct pending_lost *s)
{
	put_lost(k, s->lost);
}

/* emit_stream sends buf[0:n) as the next bytes of h's stream, with the
 * bytes of that stream lost before. */
static __always_inline void emit_stream(struct event_header *h, __u64 buf, __u64 n)
{
	struct lost_key k = {.sock = h->sock, .dir = h->detail, .flags = h->flags};
	struct pending_lost s = {.lost = take_lost(&k)};
	emit_buffer(h, buf, n, &s);
	keep_lost(&k, &s);
}
