// OpenTelemetry, configured by the standard OTEL_* variables and off when none is set (then nothing is
// started and spans are no-ops). OTEL_TRACES_EXPORTER=console prints spans for debugging; otherwise OTLP
// over http/protobuf (default), http/json or grpc per OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL.
import { Resource } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter as OtlpGrpc } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as OtlpHttpJson } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OtlpProto } from '@opentelemetry/exporter-trace-otlp-proto';

/** Where workflow spans go (they are exported through a worker sink, outside the workflow sandbox). */
export interface Tracing {
  spanProcessor: SpanProcessor;
  resource: Resource;
}

export interface Telemetry {
  /** Undefined when tracing is off. */
  tracing?: Tracing;
  shutdown(): Promise<void>;
}

export function tracingRequested(env: NodeJS.ProcessEnv = process.env): boolean {
  const exporter = env.OTEL_TRACES_EXPORTER?.trim();
  if (exporter === 'none' || env.OTEL_SDK_DISABLED === 'true') return false;
  return Boolean(exporter || env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

function exporterFromEnv(env: NodeJS.ProcessEnv): SpanExporter {
  if (env.OTEL_TRACES_EXPORTER?.split(',')[0]?.trim() === 'console') return new ConsoleSpanExporter();
  const protocol = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf';
  // Given explicitly, so the endpoint of `env` is used even when it is not process.env.
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.replace(/\/+$/, '');
  if (protocol === 'grpc') return new OtlpGrpc({ url: env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? base });
  const url = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? (base ? `${base}/v1/traces` : undefined);
  return protocol === 'http/json' ? new OtlpHttpJson({ url }) : new OtlpProto({ url });
}

/** Start tracing for this process if the environment asks for it. */
export function startTelemetry(serviceName: string, env: NodeJS.ProcessEnv = process.env): Telemetry {
  if (!tracingRequested(env)) return { shutdown: async () => {} };
  const exporter = exporterFromEnv(env);
  const spanProcessor = exporter instanceof ConsoleSpanExporter ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(exporter);
  const resource = new Resource({ 'service.name': env.OTEL_SERVICE_NAME || serviceName });
  // The sampler comes from OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG, read by the SDK itself.
  const sdk = new NodeSDK({ resource, spanProcessors: [spanProcessor], instrumentations: [] });
  sdk.start();
  return { tracing: { spanProcessor, resource }, shutdown: () => sdk.shutdown().catch(() => {}) };
}
