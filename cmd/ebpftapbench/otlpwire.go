package main

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
)

// The sink counts spans and log records in the export's protobuf bytes
// instead of decoding them into pdata: decoding took 12% of the machine's
// CPU under the go-https load at level summary, nearly as much as the
// collector's 16% (perf, 2026-11-30), and only in the ebpftap modes, where
// it lowered the traced processes' throughput; a real backend runs elsewhere.
// Walking the bytes for the few fields counted costs a fraction of that.

// rawCodec hands each request to its handler as its protobuf bytes. The
// handlers' responses are empty messages, which encode as no bytes.
type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }

func (rawCodec) Marshal(any) (mem.BufferSlice, error) { return nil, nil }

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	p, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("the sink decodes only raw bytes, not %T", v)
	}
	*p = data.Materialize()
	return nil
}

// exportService is an OTLP service whose Export hands the request's bytes to
// handle and answers with the empty response.
func exportService(name string, handle func([]byte) error) *grpc.ServiceDesc {
	return &grpc.ServiceDesc{
		ServiceName: name,
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{{
			MethodName: "Export",
			Handler: func(_ any, _ context.Context, decode func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
				var req []byte
				if err := decode(&req); err != nil {
					return nil, err
				}
				return struct{}{}, handle(req)
			},
		}},
	}
}

// Field numbers of the OTLP messages walked (opentelemetry-proto v1).
const (
	fieldResourceOfExport = 1 // Export*ServiceRequest.resource_{spans,logs}
	fieldResource         = 1 // Resource{Spans,Logs}.resource
	fieldScopeOfResource  = 2 // Resource{Spans,Logs}.scope_{spans,logs}
	fieldAttribute        = 1 // Resource.attributes
	fieldItemOfScope      = 2 // Scope{Spans,Logs}.{spans,log_records}
	fieldSpanKind         = 6 // Span.kind
	fieldKeyValueKey      = 1 // KeyValue.key
	fieldKeyValueValue    = 2 // KeyValue.value
	fieldAnyValueIntValue = 3 // AnyValue.int_value
	pidAttribute          = "process.pid"
)

var errTruncated = errors.New("a protobuf message ends inside a field")

// eachField calls f with each field of the message b: its number, and its
// value, a varint's in v, a length-delimited field's content in sub. Other
// wire types are skipped.
func eachField(b []byte, f func(num protowire.Number, v uint64, sub []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errTruncated
		}
		b = b[n:]
		var v uint64
		var sub []byte
		switch typ {
		case protowire.VarintType:
			v, n = protowire.ConsumeVarint(b)
		case protowire.BytesType:
			sub, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return errTruncated
		}
		b = b[n:]
		if err := f(num, v, sub); err != nil {
			return err
		}
	}
	return nil
}

// eachItem calls f with each span or log record of an export request, and
// the resource it belongs to.
func eachItem(req []byte, f func(resource, item []byte) error) error {
	return eachField(req, func(num protowire.Number, _ uint64, rs []byte) error {
		if num != fieldResourceOfExport {
			return nil
		}
		var resource []byte
		if err := eachField(rs, func(num protowire.Number, _ uint64, sub []byte) error {
			if num == fieldResource {
				resource = sub
			}
			return nil
		}); err != nil {
			return err
		}
		return eachField(rs, func(num protowire.Number, _ uint64, scope []byte) error {
			if num != fieldScopeOfResource {
				return nil
			}
			return eachField(scope, func(num protowire.Number, _ uint64, item []byte) error {
				if num != fieldItemOfScope {
					return nil
				}
				return f(resource, item)
			})
		})
	})
}

// countSpans calls add with the process and kind of each span of an
// ExportTraceServiceRequest.
func countSpans(req []byte, add func(spanKey)) error {
	return eachItem(req, func(resource, span []byte) error {
		pid, err := resourcePID(resource)
		if err != nil {
			return err
		}
		k := spanKey{pid: pid}
		err = eachField(span, func(num protowire.Number, v uint64, _ []byte) error {
			if num == fieldSpanKind {
				k.kind = ptrace.SpanKind(v)
			}
			return nil
		})
		add(k)
		return err
	})
}

// countLogRecords is the number of log records of an ExportLogsServiceRequest.
func countLogRecords(req []byte) (int64, error) {
	var n int64
	err := eachItem(req, func(_, _ []byte) error {
		n++
		return nil
	})
	return n, err
}

// resourcePID is the int value of the resource's process.pid attribute, 0
// when it has none.
func resourcePID(resource []byte) (int64, error) {
	var pid int64
	err := eachField(resource, func(num protowire.Number, _ uint64, kv []byte) error {
		if num != fieldAttribute {
			return nil
		}
		var key string
		var value []byte
		if err := eachField(kv, func(num protowire.Number, _ uint64, sub []byte) error {
			switch num {
			case fieldKeyValueKey:
				key = string(sub)
			case fieldKeyValueValue:
				value = sub
			}
			return nil
		}); err != nil || key != pidAttribute {
			return err
		}
		return eachField(value, func(num protowire.Number, v uint64, _ []byte) error {
			if num == fieldAnyValueIntValue {
				pid = int64(v)
			}
			return nil
		})
	})
	return pid, err
}
