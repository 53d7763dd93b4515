/**
 * ARM paths: `/subscriptions/{sub}[/resourceGroups/{rg}][/providers/{namespace}/{type}/{name}[/{child}/{name}]]`.
 * Segment names are case-insensitive in ARM; values keep the caller's casing.
 */
export interface ArmRoute {
  readonly subscription?: string;
  readonly resourceGroup?: string;
  /** True for `/subscriptions/{sub}/resourcegroups` (collection of groups). */
  readonly groupsCollection: boolean;
  readonly namespace?: string;
  /** Segments after the namespace, e.g. `['virtualNetworks', 'vnet1', 'subnets', 'default']`. */
  readonly rest: readonly string[];
  /** Anything not matching the grammar above (e.g. `/subscriptions/{sub}/operationresults/{id}`). */
  readonly tail: readonly string[];
}

/** True if every percent-escape of the path decodes. */
export function wellEncoded(pathname: string): boolean {
  try {
    decodeURIComponent(pathname);
    return true;
  } catch {
    return false;
  }
}

export function parseRoute(pathname: string): ArmRoute | undefined {
  if (!wellEncoded(pathname)) return undefined;
  const parts = pathname
    .split('/')
    .filter((p) => p.length > 0)
    .map((p) => decodeURIComponent(p));
  let i = 0;
  let subscription: string | undefined;
  let resourceGroup: string | undefined;
  let groupsCollection = false;
  if (parts[i]?.toLowerCase() === 'subscriptions') {
    subscription = parts[i + 1];
    if (subscription === undefined) return undefined;
    i += 2;
    if (parts[i]?.toLowerCase() === 'resourcegroups') {
      resourceGroup = parts[i + 1];
      groupsCollection = resourceGroup === undefined;
      i += 2;
    }
  }
  if (parts[i]?.toLowerCase() === 'providers' && parts[i + 1] !== undefined) {
    return {
      subscription,
      resourceGroup,
      groupsCollection,
      namespace: parts[i + 1],
      rest: parts.slice(i + 2),
      tail: [],
    };
  }
  return { subscription, resourceGroup, groupsCollection, rest: [], tail: parts.slice(i) };
}

/** A parsed resource id reference from a request body (e.g. a NIC's subnet). */
export interface IdRef {
  readonly subscription: string;
  readonly resourceGroup: string;
  readonly namespace: string;
  readonly rest: readonly string[];
}

export function parseId(id: unknown): IdRef | undefined {
  if (typeof id !== 'string') return undefined;
  const route = parseRoute(id);
  if (!route?.subscription || !route.resourceGroup || !route.namespace) return undefined;
  return {
    subscription: route.subscription,
    resourceGroup: route.resourceGroup,
    namespace: route.namespace,
    rest: route.rest,
  };
}

/**
 * A reference to a top-level Microsoft.Network resource of one type (e.g. `networkInterfaces`), as its group and
 * lower-cased name; undefined for anything else.
 */
export function networkResourceRef(
  ref: unknown,
  type: string,
): { subscription: string; resourceGroup: string; name: string } | undefined {
  const id = parseId(ref);
  if (id?.namespace.toLowerCase() !== 'microsoft.network' || id.rest.length !== 2) return undefined;
  if (id.rest[0]!.toLowerCase() !== type.toLowerCase()) return undefined;
  return { subscription: id.subscription, resourceGroup: id.resourceGroup, name: id.rest[1]!.toLowerCase() };
}

export function groupId(sub: string, rg: string): string {
  return `/subscriptions/${sub}/resourceGroups/${rg}`;
}

export function resourceId(sub: string, rg: string, namespace: string, ...rest: string[]): string {
  return `/subscriptions/${sub}/resourceGroups/${rg}/providers/${namespace}/${rest.join('/')}`;
}
