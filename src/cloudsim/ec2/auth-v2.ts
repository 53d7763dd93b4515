/**
 * Query parameters that only carry a signature (Signature Version 2, which EC2 still accepts and libcloud and boto 2
 * send, or presigned V4): not part of what a request asks for, so a re-signed retry keeps its ClientToken fingerprint.
 */
export const SIGNATURE_PARAMS =
  /^(AWSAccessKeyId|Signature|SignatureMethod|SignatureVersion|Timestamp|Expires|X-Amz-.*)$/;
