/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Events the kernel side sends to internal/capture through the ring buffer.
 * Go reads these layouts through bpf2go (-type), so every padding byte is
 * written out and a Go test checks the sizes. */
#pragma once

/* MAX_CHUNK bounds one data event's copied bytes; MAX_CHUNKS and MAX_IOV bound
 * how many events one syscall may produce. Anything beyond is reported as
 * lost, never silently dropped. */
#define MAX_CHUNK 16384
#define MAX_CHUNKS 4
#define MAX_IOV 8

/* MAX_DNS bounds the copy of one DNS message (EVENT_DNS): 1232 bytes is the
 * EDNS buffer size resolvers ask for since DNS Flag Day 2020, so most answers
 * fit; a longer one is cut, and its first records still name the address. */
#define MAX_DNS 1232

enum event_kind {
	EVENT_CONN_OPEN = 1,
	EVENT_DATA = 2,
	EVENT_CONN_CLOSE = 3,
	EVENT_PROC_EXEC = 4,
	EVENT_PROC_EXIT = 5,
	EVENT_TLS_BIND = 6,
	EVENT_LIB_OPEN = 7,
	EVENT_DNS = 8,
};

/* Which end of the connection the process is (EVENT_CONN_OPEN). */
enum conn_role {
	ROLE_UNKNOWN = 0,
	ROLE_CLIENT = 1, /* connect() */
	ROLE_SERVER = 2, /* accept() */
};

/* Which way the bytes moved (EVENT_DATA). */
enum data_dir {
	DIR_SEND = 1,
	DIR_RECV = 2,
};

/* Bits of event_header.flags. */
enum event_flag {
	FLAG_TLS_PLAINTEXT = 1, /* EVENT_DATA from a TLS library: the plaintext, not the wire bytes */
	FLAG_TLS_UNBOUND = 2,   /* ... whose socket is not known yet: sock holds the library's
				 * object, and an EVENT_TLS_BIND names the socket later */
};

/* The library whose uprobes produced TLS plaintext: the one list of ids.
 * Their names, files and functions to probe are internal/capture's
 * (tlsLibraries), and a test checks every id here has a name there. */
enum tls_library {
	TLS_LIB_OPENSSL = 1, /* also BoringSSL and LibreSSL */
	TLS_LIB_GNUTLS = 2,
	TLS_LIB_GO = 3, /* Go's crypto/tls */
};

/* The attach cookie of a TLS probe says what the probed function is: one
 * program serves every function of a kind, so a file needs one link per
 * program (a uprobe_multi link detaches in one step, where each classic
 * uprobe costs the kernel a grace period). */
enum tls_cookie {
	TLS_COOKIE_LIBRARY_MASK = 0xff, /* enum tls_library */
	TLS_COOKIE_RECV = 1 << 8,       /* a read; else a write */
	TLS_COOKIE_EX = 1 << 9,         /* f(obj, buf, len, size_t *done) returning 1 on success */
};

/* What user space wants of a connection's payload, in the "policies" map.
 * Connections without an entry are copied. */
enum conn_policy {
	POLICY_COPY = 0,
	POLICY_COUNT = 1,  /* count the bytes in the kernel (wire_bytes), send no data events */
	POLICY_IGNORE = 2, /* report nothing but the close: filtered out */
};

/* How filter_ports is read: port_filter (Options.Ports), set at load. */
enum port_filter_mode {
	PORT_FILTER_NONE = 0,
	PORT_FILTER_INCLUDE = 1, /* only connections whose server port is listed */
	PORT_FILTER_EXCLUDE = 2, /* every connection but those whose server port is listed */
};

/* An entry of the "policies" map. User space writes it after reading the
 * connection's events, so by then the socket may carry the next connection
 * (closed and reused at once, as a busy server does): the ports say which
 * connection the policy is for, and one for another is not applied. */
struct policy_entry {
	__u32 policy; /* enum conn_policy */
	__u16 sport;  /* the connection's local port, as in conn_tuple */
	__u16 dport;  /* its remote port */
};

/* Counters in the "counters" per-CPU array. */
enum counter {
	COUNTER_RINGBUF_FULL = 0,   /* events dropped: ring buffer reserve failed */
	COUNTER_RINGBUF_FULL_BYTES, /* payload bytes those data events stood for */
	COUNTER_ARGS_FULL,          /* syscalls missed: no task storage for their arguments */
	COUNTER_IOV_LIMIT,          /* iovecs past MAX_IOV, reported as lost bytes */
	COUNTER_TLS_CALLS_FULL,     /* TLS library calls missed: no slot for the call in flight */
	COUNTER_TLS_NO_SOCKET,      /* TLS plaintext whose socket could not be found */
	COUNTER_MAX,
};

/* The socket's addresses in network byte order; IPv4 uses the first 4 bytes. */
struct conn_tuple {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport; /* host byte order */
	__u16 dport; /* host byte order */
	__u16 family; /* AF_INET or AF_INET6 */
	__u16 _pad;
};

/* Every event starts with this header; kind says what follows. */
struct event_header {
	__u8 kind;    /* enum event_kind */
	__u8 detail;  /* enum conn_role or enum data_dir */
	__u8 flags;   /* enum event_flag */
	__u8 tls_library; /* enum tls_library, for TLS plaintext */
	__u32 pid;    /* tgid */
	__u32 tid;
	__s32 fd;
	__u64 ts_ns;  /* CLOCK_MONOTONIC */
	__u64 sock;   /* kernel address of struct sock: the connection's identity while it lives */
	struct conn_tuple tuple;
};

/* EVENT_PROC_EXEC: what the new program is, read at exec time so that even a
 * process that exits before user space reads /proc is described. */
#define MAX_FILENAME 256
#define MAX_ARGS 1024

struct exec_event {
	struct event_header hdr;
	__u64 start_boottime_ns; /* with the pid, identifies the process */
	__u32 ppid;
	__u32 uid;
	__u16 filename_len;
	__u16 args_len; /* argv, NUL-separated, cut at MAX_ARGS */
	__u32 _pad;
	char filename[MAX_FILENAME];
	char args[MAX_ARGS];
};

/* EVENT_LIB_OPEN: a process opens a file named like a TLS library (the
 * dynamic loader does, before mapping it): user space probes the file
 * before the library's first call, even when it was loaded with dlopen. */
struct lib_open_event {
	struct event_header hdr;
	__u16 path_len;
	__u16 _pad[3];
	char path[MAX_FILENAME];
};

/* EVENT_TLS_BIND: the TLS library object ssl works on the socket in hdr. */
struct tls_bind_event {
	struct event_header hdr;
	__u64 ssl;
};

/* EVENT_CONN_CLOSE: the header, and the wire bytes counted in the kernel
 * while the connection's policy was POLICY_COUNT (wire_bytes in
 * syscalls.c), in all; and the wire bytes of each direction lost at the end
 * of the stream, whose dropped events no later event could report as
 * lost_before. */
struct close_event {
	struct event_header hdr;
	__u64 counted_sent;
	__u64 counted_recv;
	__u32 lost_sent;
	__u32 lost_recv;
	/* Bytes received that the process had not read when TCP closed: the
	 * side that closed first reaches TCP_CLOSE at the peer's FIN, before it
	 * reads what came with it (a client that half-closed, say). */
	__u32 unread;
	__u32 _pad;
};

/* EVENT_DATA: one piece of a read or a write. The piece stands for len bytes
 * of the stream; the first copied of them are in data, the rest were not
 * copied. lost_before counts bytes of this direction lost in earlier, dropped
 * events; lost_peer those of the other direction (wire bytes only), so that
 * a hole in one direction is known before anything later in the other: a
 * response must not be paired with a request when the requests between them
 * went in a hole not reported yet. */
struct data_event {
	struct event_header hdr;
	__u32 len;
	__u32 copied;
	__u32 lost_before;
	__u32 lost_peer;
	__u8 data[MAX_CHUNK];
};

/* EVENT_DNS: a datagram a process read from a UDP socket it had sent a DNS
 * query on (to port 53): a DNS response, most likely. It stands for len
 * bytes, the first copied of them in data (len > copied: cut at MAX_DNS, or
 * by a vectored read's first buffer). */
struct dns_event {
	struct event_header hdr;
	__u32 len;
	__u32 copied;
	__u8 data[MAX_DNS];
};
