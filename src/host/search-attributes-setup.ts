// Registers the session search attributes on a cluster that lacks them (the embedded dev server and any cluster
// that allows it). The worker does it, so sessions are searchable whoever started them; the session workflow asks
// through an activity. Where registering is refused (e.g. Temporal Cloud without admin rights), sessions run
// without them and the warning gives the commands to run once.
import proto from '@temporalio/proto';
import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes.js';

type OperatorService = proto.temporal.api.operatorservice.v1.OperatorService;
const IndexedValueType = proto.temporal.api.enums.v1.IndexedValueType;

const TYPES = {
  KEYWORD: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  DOUBLE: IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE,
} as const;

/** gRPC codes that mean "this cluster will not let us", not "try again". */
const REFUSED_CODES = new Set([3 /* INVALID_ARGUMENT */, 7 /* PERMISSION_DENIED */, 12 /* UNIMPLEMENTED */, 16 /* UNAUTHENTICATED */]);

/** The `temporal operator search-attribute create` commands for docs/observability.md and the warning. */
export function searchAttributeCommands(namespace: string): string[] {
  return Object.values(SEARCH_ATTRIBUTES).map(
    (key) => `temporal operator search-attribute create --namespace ${namespace} --name ${key.name} --type ${key.type === 'DOUBLE' ? 'Double' : 'Keyword'}`,
  );
}

async function missingAttributes(operator: OperatorService, namespace: string) {
  const { customAttributes } = await operator.listSearchAttributes({ namespace });
  return Object.values(SEARCH_ATTRIBUTES).filter((key) => !(key.name in (customAttributes ?? {})));
}

/**
 * True when every session search attribute exists (after registering the missing ones), false when the cluster
 * refuses to register them. A transient failure throws, so the caller (an activity) is retried.
 */
export async function ensureSearchAttributes(operator: OperatorService, namespace: string): Promise<{ ready: true } | { ready: false; reason: string }> {
  try {
    const missing = await missingAttributes(operator, namespace);
    if (missing.length === 0) return { ready: true };
    await operator.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((key) => [key.name, TYPES[key.type as keyof typeof TYPES]])),
    });
    return { ready: true };
  } catch (err) {
    // Another worker may have registered them at the same moment.
    if ((await missingAttributes(operator, namespace).catch(() => undefined))?.length === 0) return { ready: true };
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'number' && REFUSED_CODES.has(code)) return { ready: false, reason: (err as Error).message.split('\n')[0] ?? 'refused' };
    throw err;
  }
}

/** A worker's registrar: remembers success only, warns once when the cluster refuses. */
export function searchAttributeRegistrar(operator: OperatorService, namespace: string, warn: (line: string) => void): () => Promise<boolean> {
  let ready = false;
  let warned = false;
  return async () => {
    if (ready) return true;
    const result = await ensureSearchAttributes(operator, namespace);
    if (result.ready) return (ready = true);
    if (!warned) {
      warned = true;
      warn(
        `sessions will not be searchable by CodingBackend/CodingState/...: registering search attributes was refused (${result.reason}). ` +
          `Run once: ${searchAttributeCommands(namespace).join(' && ')}`,
      );
    }
    return false;
  };
}
