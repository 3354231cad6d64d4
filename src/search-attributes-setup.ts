// Registers the session search attributes on a cluster that lacks them (the embedded dev server and any cluster
// that allows it). Where that is refused (e.g. Temporal Cloud without admin rights), sessions run without them
// and the warning gives the commands to run once.
import proto from '@temporalio/proto';
import { SEARCH_ATTRIBUTES } from './workflows/search-attributes.js';

type OperatorService = proto.temporal.api.operatorservice.v1.OperatorService;
const IndexedValueType = proto.temporal.api.enums.v1.IndexedValueType;

const TYPES = {
  KEYWORD: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  DOUBLE: IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE,
} as const;

/** The `temporal operator search-attribute create` commands for the README and the warning. */
export function searchAttributeCommands(namespace: string): string[] {
  return Object.values(SEARCH_ATTRIBUTES).map(
    (key) => `temporal operator search-attribute create --namespace ${namespace} --name ${key.name} --type ${key.type === 'DOUBLE' ? 'Double' : 'Keyword'}`,
  );
}

/** True when every session search attribute exists (after registering the missing ones, if allowed). */
export async function ensureSearchAttributes(operator: OperatorService, namespace: string, warn: (line: string) => void): Promise<boolean> {
  try {
    const { customAttributes } = await operator.listSearchAttributes({ namespace });
    const missing = Object.values(SEARCH_ATTRIBUTES).filter((key) => !(key.name in (customAttributes ?? {})));
    if (missing.length === 0) return true;
    await operator.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((key) => [key.name, TYPES[key.type as keyof typeof TYPES]])),
    });
    return true;
  } catch (err) {
    warn(
      `sessions will not be searchable by CodingBackend/CodingState/...: registering search attributes failed (${(err as Error).message.split('\n')[0]}). ` +
        `Run once: ${searchAttributeCommands(namespace).join(' && ')}`,
    );
    return false;
  }
}
