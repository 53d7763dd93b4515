/** Resource URLs as Compute Engine writes them (selfLink etc.) and parsing of the forms clients send back. */
export const API_BASE = 'https://www.googleapis.com/compute/v1/';

export const link = (path: string): string => API_BASE + path;

export interface ParsedRef {
  readonly project: string;
  /** Segments after `projects/<project>/`, e.g. `['zones', 'us-central1-a', 'machineTypes', 'e2-small']`. */
  readonly segments: readonly string[];
}

/**
 * Accepts a full URL (any host, as long as the path has `/compute/v1/`), `projects/p/...`, or a partial path
 * (`zones/z/machineTypes/t`, `global/networks/n`, `regions/r/subnetworks/s`) relative to `project`.
 */
export function parseRef(ref: string, project: string): ParsedRef {
  let path = ref.trim();
  const marker = path.search(/\/compute\/(v1|beta|alpha)\//);
  if (marker >= 0) path = path.slice(path.indexOf('/', marker + 9) + 1);
  path = path.replace(/^\/+/, '');
  const parts = path.split('/').filter(Boolean);
  if (parts[0] === 'projects' && parts.length >= 2) return { project: parts[1]!, segments: parts.slice(2) };
  return { project, segments: parts };
}

/** The last segment when the reference has the shape `...<collection>/<name>`, else undefined. */
export function refName(
  ref: string,
  project: string,
  collection: string,
): { project: string; name: string; scope?: string } | undefined {
  const { project: p, segments } = parseRef(ref, project);
  const i = segments.lastIndexOf(collection);
  if (i < 0 || i !== segments.length - 2) {
    // A bare name is allowed for some fields (e.g. machineType in bulkInsert instanceProperties).
    return segments.length === 1 && !ref.includes('/') ? { project: p, name: segments[0]! } : undefined;
  }
  return { project: p, name: segments[i + 1]!, scope: i >= 2 ? segments[i - 1] : undefined };
}
