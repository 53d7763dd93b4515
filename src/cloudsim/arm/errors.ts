/** ARM error bodies: `{ error: { code, message, target?, details? } }` with the status the real service uses. */
export interface ArmErrorBody {
  readonly code: string;
  readonly message: string;
  readonly target?: string;
  readonly details?: readonly ArmErrorBody[];
}

export class ArmError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: { target?: string; details?: readonly ArmErrorBody[]; headers?: Record<string, string> } = {},
  ) {
    super(message);
  }

  body(): { error: ArmErrorBody } {
    const { target, details } = this.extra;
    return {
      error: { code: this.code, message: this.message, ...(target ? { target } : {}), ...(details ? { details } : {}) },
    };
  }
}

export const badRequest = (code: string, message: string, target?: string) =>
  new ArmError(400, code, message, { target });
export const conflict = (code: string, message: string, target?: string) =>
  new ArmError(409, code, message, { target });

export const invalidParameter = (target: string, message: string) => badRequest('InvalidParameter', message, target);

export const resourceGroupNotFound = (rg: string) =>
  new ArmError(404, 'ResourceGroupNotFound', `Resource group '${rg}' could not be found.`);

export const resourceNotFound = (type: string, name: string, rg: string) =>
  new ArmError(
    404,
    'ResourceNotFound',
    `The Resource '${type}/${name}' under resource group '${rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
  );

export const requiredProperty = (path: string) =>
  invalidParameter(path, `Required parameter '${path}' is missing (null).`);

export const allocationMessage = (zonal: boolean) =>
  `Allocation failed. We do not have sufficient capacity for the requested VM size in this ${zonal ? 'zone' : 'region'}. Read more about improving likelihood of allocation success at http://aka.ms/allocation-guidance`;
