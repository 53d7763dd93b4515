import type { CloudSim } from '../../src/cloudsim/index.js';

/** What a sim run answers to: an EC2 key pair, and bearer tokens for GCE and ARM. */
export interface SimCredentials {
  readonly aws: { readonly accessKeyId: string; readonly secretAccessKey: string };
  readonly gcp: { readonly accessToken: string };
  readonly azure: { readonly accessToken: string };
}

const DUMMY: SimCredentials = {
  aws: { accessKeyId: 'AKIDCLOUDSIMTEST', secretAccessKey: 'cloudsim-test-secret' },
  gcp: { accessToken: 'cloudsim-test-token' },
  azure: { accessToken: 'cloudsim-test-token' },
};

/**
 * The credentials a test should use against `sim`: the sim's own when it has them (a sim that verifies what it is
 * sent), fixed dummies for a sim that accepts any. One place, so tests keep working either way.
 */
export function simCredentials(sim: CloudSim): SimCredentials {
  return (sim as CloudSim & { credentials?: SimCredentials }).credentials ?? DUMMY;
}
