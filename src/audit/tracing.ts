// Spans for what Warden does on an agent's behalf, following the OpenTelemetry GenAI semantic
// conventions (`execute_tool`, `invoke_agent`, `gen_ai.*`) and MCP's (`mcp.method.name`,
// `mcp.session.id`). Audit entries carry the same trace and span ids, so a trace in an
// observability backend and the evidence log point at each other.
//
// Export is off by default: without `telemetry.otlpEndpoint` no OpenTelemetry code runs and span
// ids are simply generated (trace.ts). With it, spans go to an OTLP/HTTP (JSON) collector.

import { SpanKind, SpanStatusCode, TraceFlags, context, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { childSpan, type TraceIds } from './trace.js';

export type SpanAttributes = Record<string, string | number | boolean | string[]>;

export interface SpanHandle {
  readonly ids: TraceIds;
  /** Add attributes (the decision, the deciding policies...). */
  set(attributes: SpanAttributes): void;
  /** End the span; with `error`, its status is an error. */
  end(error?: string): void;
}

export interface Tracing {
  start(
    name: string,
    parent: { trace_id: string; span_id: string } | null,
    attributes: SpanAttributes,
  ): SpanHandle;
  shutdown(): Promise<void>;
}

/** Ids only: what runs when export is off. */
export const NO_EXPORT: Tracing = {
  start(_name, parent) {
    const ids = childSpan(parent);
    return { ids, set: () => undefined, end: () => undefined };
  },
  shutdown: () => Promise.resolve(),
};

export interface OtlpOptions {
  /** The collector's traces URL, e.g. http://127.0.0.1:4318/v1/traces. */
  endpoint: string;
  headers?: Record<string, string>;
  serviceName: string;
}

export function otlpTracing(options: OtlpOptions): Tracing {
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': options.serviceName }),
    spanProcessors: [
      new BatchSpanProcessor(
        new OTLPTraceExporter({
          url: options.endpoint,
          ...(options.headers ? { headers: options.headers } : {}),
        }),
        { scheduledDelayMillis: 500 },
      ),
    ],
  });
  const tracer = provider.getTracer('warden');
  return {
    start(name, parent, attributes) {
      const ctx = parent
        ? trace.setSpanContext(context.active(), {
            traceId: parent.trace_id,
            spanId: parent.span_id,
            traceFlags: TraceFlags.SAMPLED,
            isRemote: true,
          })
        : context.active();
      const span = tracer.startSpan(name, { kind: SpanKind.INTERNAL, attributes: attributes }, ctx);
      const sc = span.spanContext();
      const ids: TraceIds = {
        trace_id: sc.traceId,
        span_id: sc.spanId,
        ...(parent ? { parent_span_id: parent.span_id } : {}),
      };
      return {
        ids,
        set: (a) => span.setAttributes(a),
        end: (error) => {
          if (error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: error });
          span.end();
        },
      };
    },
    shutdown: () => provider.shutdown(),
  };
}
