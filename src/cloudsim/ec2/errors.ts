/** HTTP statuses EC2 answers with for codes that are not plain client errors (400). */
const STATUS: Readonly<Record<string, number>> = {
  RequestLimitExceeded: 503,
  Unavailable: 503,
  InsufficientInstanceCapacity: 500,
  InsufficientHostCapacity: 500,
  InternalError: 500,
  MissingAuthenticationToken: 401,
  AuthFailure: 401,
  UnauthorizedOperation: 403,
};

/** An EC2 API error: becomes the `<Response><Errors>` XML with the status the real service uses. */
export class Ec2Error extends Error {
  readonly status: number;
  constructor(
    readonly code: string,
    message: string,
    status?: number,
  ) {
    super(message);
    this.status = status ?? STATUS[code] ?? 400;
  }
}

export const notFound = (kind: string, what: string, ids: readonly string[]): Ec2Error =>
  new Ec2Error(
    `Invalid${kind}.NotFound`,
    ids.length === 1 ? `The ${what} '${ids[0]}' does not exist` : `The ${what}s '${ids.join(', ')}' do not exist`,
  );

/** Validates an id's prefix and shape the way EC2 does before looking it up. */
export function checkId(id: string, prefix: string, kind: string): void {
  if (!new RegExp(`^${prefix}-[0-9a-f]{8}([0-9a-f]{9})?$`).test(id)) {
    throw new Ec2Error(`Invalid${kind}.Malformed`, `Invalid id: "${id}" (expecting "${prefix}-...")`);
  }
}
